//! NVIDIA's MIG profile-name grammar: `1g.5gb`, `1c.3g.20gb`, `1g.5gb+me`, `1g.10gb+me.all`,
//! `1g.24gb-me`, `1g.24gb+gfx`, `1g.24gb+me,gfx`.
//!
//! ```text
//! name    := [ count "c." ] count "g." count "gb" [ "+" attr { "," attr } ] [ "-me" ]
//! count   := nonzero-digit { digit }          (no leading zero)
//! attr    := "me" | "me.all" | "gfx"          (in this order, each at most once)
//! ```
//!
//! The grammar is strict so that every accepted string prints back to itself: attributes must
//! come in canonical order, numbers have no leading zeros, `+me` and `+me.all` exclude each
//! other and `-me` excludes both. The parser is a `const fn`, so a malformed name in a catalog
//! constant is a compile error.

use core::fmt;
use core::str::FromStr;

use bitflags::bitflags;

use crate::{Error, text};

bitflags! {
    /// Attributes of a GPU instance profile, as written after its size (`+me`, `-me`, …).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct Attributes: u8 {
        /// `+me`: the instance gets the media extensions (decoders, JPEG, OFA) of one slice.
        const ME = 1 << 0;
        /// `+me.all`: the instance gets every media engine of the GPU.
        const ME_ALL = 1 << 1;
        /// `+gfx`: graphics-capable instance (RTX PRO Blackwell).
        const GFX = 1 << 2;
        /// `-me`: the instance has no media engines at all.
        const NO_ME = 1 << 3;
    }
}

impl Attributes {
    /// Whether the profile carries media extensions that exist once per GPU (`+me`, `+me.all`),
    /// which limits it to one instance.
    #[must_use]
    pub const fn has_media_extensions(self) -> bool {
        self.intersects(Attributes::ME.union(Attributes::ME_ALL))
    }
}

/// What is wrong in a profile name that failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameErrorKind {
    /// The input is empty.
    Empty,
    /// A decimal number was expected here.
    ExpectedNumber,
    /// Numbers have no leading zeros and are never zero.
    LeadingZeroOrZero,
    /// The number does not fit (slices up to 255, memory up to 65535 GB).
    NumberTooLarge,
    /// Expected the text given here (for example `g.` or `gb`).
    Expected(&'static str),
    /// Unknown attribute after `+`; expected `me`, `me.all` or `gfx`.
    UnknownAttribute,
    /// Attribute given twice or out of the canonical order `me`/`me.all`, `gfx`.
    AttributeOrder,
    /// `+me` with `+me.all`, or `-me` with either.
    ConflictingAttributes,
    /// A compute-instance prefix larger than its GPU instance (`4c.3g.20gb`).
    ComputeExceedsGpuInstance,
    /// Text left after a complete name.
    TrailingInput,
}

impl fmt::Display for NameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameErrorKind::Empty => f.write_str("empty name, expected e.g. `1g.5gb`"),
            NameErrorKind::ExpectedNumber => f.write_str("expected a decimal number"),
            NameErrorKind::LeadingZeroOrZero => {
                f.write_str("expected a number without leading zeros, greater than zero")
            }
            NameErrorKind::NumberTooLarge => f.write_str("number too large"),
            NameErrorKind::Expected(what) => write!(f, "expected `{what}`"),
            NameErrorKind::UnknownAttribute => {
                f.write_str("unknown attribute, expected `me`, `me.all` or `gfx`")
            }
            NameErrorKind::AttributeOrder => f.write_str(
                "attribute repeated or out of order (canonical order: `me` or `me.all`, then `gfx`)",
            ),
            NameErrorKind::ConflictingAttributes => {
                f.write_str("conflicting attributes (`me`, `me.all` and `-me` exclude each other)")
            }
            NameErrorKind::ComputeExceedsGpuInstance => {
                f.write_str("compute slices exceed the GPU instance's slices")
            }
            NameErrorKind::TrailingInput => f.write_str("unexpected text after the name"),
        }
    }
}

/// A parse failure: what went wrong and at which byte offset of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameError {
    /// Byte offset of the offending character in the input.
    pub position: usize,
    /// What was wrong there.
    pub kind: NameErrorKind,
}

/// A MIG profile name such as `3g.20gb`, `1g.5gb+me` or the compute-instance name `1c.3g.20gb`.
///
/// Parsing then printing is the identity for every accepted string.
///
/// ```
/// use gpupart_profiles::{Attributes, ProfileName};
/// let n: ProfileName = "1c.3g.20gb".parse()?;
/// assert_eq!((n.compute_slices(), n.gpu_slices(), n.memory_gb()), (Some(1), 3, 20));
/// let me: ProfileName = "1g.10gb+me.all".parse()?;
/// assert!(me.attributes().contains(Attributes::ME_ALL));
/// assert_eq!(me.to_string(), "1g.10gb+me.all");
/// # Ok::<(), gpupart_profiles::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileName {
    compute: Option<u8>,
    gpu: u8,
    memory_gb: u16,
    attributes: Attributes,
}

/// Canonical attribute order; each entry is written as `+a` / `,a`.
const ATTRIBUTE_WORDS: [(&str, Attributes); 3] = [
    ("me.all", Attributes::ME_ALL),
    ("me", Attributes::ME),
    ("gfx", Attributes::GFX),
];

/// Rank of an attribute in the canonical order (`me` and `me.all` share rank 0).
const fn attribute_rank(a: Attributes) -> u8 {
    if a.intersects(Attributes::ME.union(Attributes::ME_ALL)) {
        0
    } else {
        1
    }
}

const fn starts_with_at(input: &[u8], at: usize, word: &str) -> bool {
    let w = word.as_bytes();
    if at + w.len() > input.len() {
        return false;
    }
    let mut i = 0;
    while i < w.len() {
        if input[at + i] != w[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Parses a decimal number without leading zeros at `at`; returns (value, next offset).
const fn number(input: &[u8], at: usize, max: u32) -> Result<(u32, usize), NameError> {
    if at >= input.len() || !input[at].is_ascii_digit() {
        return Err(NameError {
            position: at,
            kind: NameErrorKind::ExpectedNumber,
        });
    }
    if input[at] == b'0' {
        return Err(NameError {
            position: at,
            kind: NameErrorKind::LeadingZeroOrZero,
        });
    }
    let mut value: u32 = 0;
    let mut i = at;
    while i < input.len() && input[i].is_ascii_digit() {
        value = value * 10 + (input[i] - b'0') as u32;
        if value > max {
            return Err(NameError {
                position: at,
                kind: NameErrorKind::NumberTooLarge,
            });
        }
        i += 1;
    }
    Ok((value, i))
}

const fn expect(input: &[u8], at: usize, word: &'static str) -> Result<usize, NameError> {
    if starts_with_at(input, at, word) {
        Ok(at + word.len())
    } else {
        Err(NameError {
            position: at,
            kind: NameErrorKind::Expected(word),
        })
    }
}

/// Unwraps a `Result` inside a `const fn` (the `?` operator is not const yet).
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Err(e),
        }
    };
}

impl ProfileName {
    /// Builds a name from its parts: `compute` is the compute-instance prefix (`1c.`), if any.
    ///
    /// # Errors
    /// The [`NameErrorKind`] a parser would report for the printed name: a zero count, a
    /// compute prefix larger than the GPU instance, or conflicting attributes.
    pub const fn new(
        compute: Option<u8>,
        gpu: u8,
        memory_gb: u16,
        attributes: Attributes,
    ) -> Result<Self, NameErrorKind> {
        if gpu == 0 || memory_gb == 0 {
            return Err(NameErrorKind::LeadingZeroOrZero);
        }
        if let Some(c) = compute {
            if c == 0 {
                return Err(NameErrorKind::LeadingZeroOrZero);
            }
            if c > gpu {
                return Err(NameErrorKind::ComputeExceedsGpuInstance);
            }
        }
        let media = attributes.contains(Attributes::ME) as u8
            + attributes.contains(Attributes::ME_ALL) as u8
            + attributes.contains(Attributes::NO_ME) as u8;
        if media > 1 {
            return Err(NameErrorKind::ConflictingAttributes);
        }
        Ok(ProfileName {
            compute,
            gpu,
            memory_gb,
            attributes,
        })
    }

    /// Parses a name in a `const` context: the building block of [`ProfileName::from_static`]
    /// and of [`FromStr`].
    ///
    /// # Errors
    /// A [`NameError`] with the byte offset of the first offending character.
    // The casts are lossless: `number` bounds each value by the target type's maximum.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn parse_bytes(input: &[u8]) -> Result<ProfileName, NameError> {
        if input.is_empty() {
            return Err(NameError {
                position: 0,
                kind: NameErrorKind::Empty,
            });
        }
        let (first, mut at) = tri!(number(input, 0, u8::MAX as u32));
        let mut compute = None;
        let gpu;
        if at < input.len() && input[at] == b'c' {
            at = tri!(expect(input, at, "c."));
            compute = Some(first as u8);
            let (g, next) = tri!(number(input, at, u8::MAX as u32));
            if (first) > g {
                return Err(NameError {
                    position: 0,
                    kind: NameErrorKind::ComputeExceedsGpuInstance,
                });
            }
            gpu = g as u8;
            at = next;
        } else {
            gpu = first as u8;
        }
        at = tri!(expect(input, at, "g."));
        let (memory_gb, next) = tri!(number(input, at, u16::MAX as u32));
        at = tri!(expect(input, next, "gb"));

        let mut attributes = Attributes::empty();
        if at < input.len() && input[at] == b'+' {
            let mut last_rank: i16 = -1;
            loop {
                at += 1; // skip '+' or ','
                let mut matched = Attributes::empty();
                let mut k = 0;
                while k < ATTRIBUTE_WORDS.len() {
                    let (word, flag) = ATTRIBUTE_WORDS[k];
                    if starts_with_at(input, at, word) {
                        let end = at + word.len();
                        // A word must end at a separator or the end of the name.
                        if end == input.len() || input[end] == b',' || input[end] == b'-' {
                            matched = flag;
                            break;
                        }
                    }
                    k += 1;
                }
                if matched.is_empty() {
                    return Err(NameError {
                        position: at,
                        kind: NameErrorKind::UnknownAttribute,
                    });
                }
                let rank = attribute_rank(matched) as i16;
                if rank <= last_rank {
                    let kind =
                        if attributes.has_media_extensions() && matched.has_media_extensions() {
                            NameErrorKind::ConflictingAttributes
                        } else {
                            NameErrorKind::AttributeOrder
                        };
                    return Err(NameError { position: at, kind });
                }
                last_rank = rank;
                attributes = attributes.union(matched);
                at += if matched.contains(Attributes::ME_ALL) {
                    6
                } else if matched.contains(Attributes::ME) {
                    2
                } else {
                    3
                };
                if at < input.len() && input[at] == b',' {
                    continue;
                }
                break;
            }
        }
        if at < input.len() && input[at] == b'-' {
            if !starts_with_at(input, at, "-me") {
                return Err(NameError {
                    position: at,
                    kind: NameErrorKind::Expected("-me"),
                });
            }
            if attributes.has_media_extensions() {
                return Err(NameError {
                    position: at,
                    kind: NameErrorKind::ConflictingAttributes,
                });
            }
            attributes = attributes.union(Attributes::NO_ME);
            at += 3;
        }
        if at != input.len() {
            return Err(NameError {
                position: at,
                kind: NameErrorKind::TrailingInput,
            });
        }
        Ok(ProfileName {
            compute,
            gpu,
            memory_gb: memory_gb as u16,
            attributes,
        })
    }

    /// Parses a name known at compile time; a malformed literal fails the build.
    ///
    /// ```
    /// use gpupart_profiles::ProfileName;
    /// const P: ProfileName = ProfileName::from_static("2g.10gb");
    /// assert_eq!(P.gpu_slices(), 2);
    /// ```
    /// ```compile_fail,E0080
    /// use gpupart_profiles::ProfileName;
    /// const P: ProfileName = ProfileName::from_static("2g.10"); // no `gb`
    /// ```
    ///
    /// # Panics
    /// When `name` does not follow the grammar (at compile time in a `const`).
    #[must_use]
    pub const fn from_static(name: &'static str) -> ProfileName {
        match ProfileName::parse_bytes(name.as_bytes()) {
            Ok(n) => n,
            Err(_) => panic!("invalid MIG profile name"),
        }
    }

    /// Parses an NVML profile name such as `MIG 1g.10gb` (the `MIG ` prefix is optional).
    ///
    /// # Errors
    /// [`Error::InvalidProfileName`] naming the input and the offending position.
    pub fn from_nvml_name(name: &str) -> Result<ProfileName, Error> {
        let trimmed = name.trim();
        let (offset, rest) = match trimmed.strip_prefix("MIG ") {
            Some(rest) => (trimmed.len() - rest.len(), rest),
            None => (0, trimmed),
        };
        ProfileName::parse_bytes(rest.as_bytes()).map_err(|e| Error::InvalidProfileName {
            input: text::cut(name),
            position: e.position + offset + (name.len() - name.trim_start().len()),
            kind: e.kind,
        })
    }

    /// Compute slices of a compute-instance name (`1` in `1c.3g.20gb`); `None` for a GPU
    /// instance name.
    #[must_use]
    pub const fn compute_slices(&self) -> Option<u8> {
        self.compute
    }

    /// Compute slices of the GPU instance (`3` in `3g.20gb`).
    #[must_use]
    pub const fn gpu_slices(&self) -> u8 {
        self.gpu
    }

    /// Memory in GB as written in the name (`20` in `3g.20gb`).
    #[must_use]
    pub const fn memory_gb(&self) -> u16 {
        self.memory_gb
    }

    /// The attributes (`+me`, `+me.all`, `+gfx`, `-me`).
    #[must_use]
    pub const fn attributes(&self) -> Attributes {
        self.attributes
    }

    /// The GPU instance part of this name: drops a compute-instance prefix.
    #[must_use]
    pub const fn gpu_instance(&self) -> ProfileName {
        ProfileName {
            compute: None,
            ..*self
        }
    }

    /// The same name with a compute-instance prefix of `compute` slices (`1c.3g.20gb`), or
    /// `None` when `compute` is zero or larger than the GPU instance.
    #[must_use]
    pub const fn with_compute(&self, compute: u8) -> Option<ProfileName> {
        if compute == 0 || compute > self.gpu {
            return None;
        }
        Some(ProfileName {
            compute: Some(compute),
            ..*self
        })
    }

    /// Compares two names as values, including the compute prefix and attributes
    /// (a `const` version of `==`).
    #[must_use]
    pub const fn const_eq(&self, other: &ProfileName) -> bool {
        let compute_eq = match (self.compute, other.compute) {
            (Some(a), Some(b)) => a == b,
            (None, None) => true,
            _ => false,
        };
        compute_eq
            && self.gpu == other.gpu
            && self.memory_gb == other.memory_gb
            && self.attributes.bits() == other.attributes.bits()
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.compute {
            write!(f, "{c}c.")?;
        }
        write!(f, "{}g.{}gb", self.gpu, self.memory_gb)?;
        let mut sep = '+';
        // Canonical order: me / me.all, then gfx.
        for (word, flag) in [ATTRIBUTE_WORDS[1], ATTRIBUTE_WORDS[0], ATTRIBUTE_WORDS[2]] {
            if self.attributes.contains(flag) {
                write!(f, "{sep}{word}")?;
                sep = ',';
            }
        }
        if self.attributes.contains(Attributes::NO_ME) {
            f.write_str("-me")?;
        }
        Ok(())
    }
}

impl FromStr for ProfileName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileName::parse_bytes(s.as_bytes()).map_err(|e| Error::InvalidProfileName {
            input: text::cut(s),
            position: e.position,
            kind: e.kind,
        })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ProfileName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ProfileName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
