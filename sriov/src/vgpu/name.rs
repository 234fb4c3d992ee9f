//! NVIDIA's vGPU type names (`NVIDIA A100-3-20C`, `GRID T4-2B`, `NVIDIA H100XM-1-10CME`), parsed
//! into what they say: the board, for a MIG-backed type its GPU instance's slice count, the
//! framebuffer and the series. This is what ties a MIG-backed type to the GPU instance
//! profile that backs it (`A100-3-20C` on a `3g.20gb`), with no string munging at the call
//! site.

use core::fmt;
use core::str::FromStr;

use crate::parse::ValueError;

/// A parsed vGPU type name.
///
/// ```
/// use gpupart_sriov::vgpu::VgpuTypeName;
/// let t: VgpuTypeName = "NVIDIA A100-3-20C".parse()?;
/// assert_eq!((t.board.as_str(), t.gpu_slices, t.framebuffer_gb), ("A100", Some(3), 20));
/// assert_eq!(t.gpu_instance_profile().as_deref(), Some("3g.20gb"));
/// let me: VgpuTypeName = "NVIDIA A100-1-5CME".parse()?;
/// assert_eq!(me.gpu_instance_profile().as_deref(), Some("1g.5gb+me"));
/// let ts: VgpuTypeName = "GRID T4-2B".parse()?;
/// assert_eq!((ts.gpu_slices, ts.framebuffer_gb, ts.series.as_str()), (None, 2, "B"));
/// # Ok::<(), gpupart_sriov::ValueError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct VgpuTypeName {
    /// The vendor prefix as written (`NVIDIA`, `GRID`), if any.
    pub prefix: Option<String>,
    /// The board (`A100`, `H100XM`, `A100D`, `L40S`).
    pub board: String,
    /// For a MIG-backed type, the slice count of its GPU instance (the `3` of `A100-3-20C`).
    pub gpu_slices: Option<u8>,
    /// Framebuffer in GB (the `20` of `A100-3-20C`).
    pub framebuffer_gb: u32,
    /// The series and its suffixes (`C`, `Q`, `B`, `A`, `CME`).
    pub series: String,
}

impl VgpuTypeName {
    /// The GPU instance profile a MIG-backed type runs on (`3g.20gb`, `1g.5gb+me` for the
    /// media-extension types); `None` for a time-sliced type.
    #[must_use]
    pub fn gpu_instance_profile(&self) -> Option<String> {
        let g = self.gpu_slices?;
        let me = if self.series.ends_with("ME") {
            "+me"
        } else {
            ""
        };
        Some(format!("{g}g.{}gb{me}", self.framebuffer_gb))
    }

    /// Whether `other` names the same type (prefixes and case aside).
    #[must_use]
    pub fn same_type(&self, other: &VgpuTypeName) -> bool {
        self.board.eq_ignore_ascii_case(&other.board)
            && self.gpu_slices == other.gpu_slices
            && self.framebuffer_gb == other.framebuffer_gb
            && self.series.eq_ignore_ascii_case(&other.series)
    }
}

impl FromStr for VgpuTypeName {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, ValueError> {
        let bad = || ValueError {
            value: s.chars().take(80).collect(),
            expected: "a vGPU type name such as `NVIDIA A100-3-20C` or `A100-4C` (board, optional slice count, framebuffer GB and series, joined by '-')",
        };
        let t = s.trim();
        if t.is_empty() || t.len() > 128 {
            return Err(bad());
        }
        let (prefix, rest) = match t.split_once(' ') {
            Some((p, r))
                if !r.contains(' ')
                    && (p.eq_ignore_ascii_case("NVIDIA") || p.eq_ignore_ascii_case("GRID")) =>
            {
                (Some(p.to_owned()), r)
            }
            Some(_) => return Err(bad()),
            None => (None, t),
        };
        let parts: Vec<&str> = rest.split('-').collect();
        let (last, head) = parts.split_last().ok_or_else(bad)?;
        let digits = last.bytes().take_while(u8::is_ascii_digit).count();
        let (fb, series) = last.split_at(digits);
        let framebuffer_gb: u32 = fb.parse().map_err(|_| bad())?;
        if series.is_empty() || !series.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad());
        }
        // A MIG-backed type's slice count is 1 to 8; any other number belongs to the board
        // (`RTX-PRO-6000-4Q`).
        let slices = |g: &str| g.parse::<u8>().ok().filter(|v| (1..=8).contains(v));
        let (board_parts, gpu_slices) = match head.split_last() {
            Some((g, board)) if !board.is_empty() && slices(g).is_some() => (board, slices(g)),
            _ => (head, None),
        };
        let board = board_parts.join("-");
        let board_ok = !board.is_empty()
            && board
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !board_ok || framebuffer_gb == 0 {
            return Err(bad());
        }
        Ok(VgpuTypeName {
            prefix,
            board,
            gpu_slices,
            framebuffer_gb,
            series: series.to_owned(),
        })
    }
}

impl fmt::Display for VgpuTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.prefix {
            write!(f, "{p} ")?;
        }
        write!(f, "{}-", self.board)?;
        if let Some(g) = self.gpu_slices {
            write!(f, "{g}-")?;
        }
        write!(f, "{}{}", self.framebuffer_gb, self.series)
    }
}

string_form!(VgpuTypeName);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_of_both_kinds() {
        let t: VgpuTypeName = "NVIDIA H100XM-1-10C".parse().unwrap();
        assert_eq!(t.gpu_instance_profile().as_deref(), Some("1g.10gb"));
        let t: VgpuTypeName = "A100-4C".parse().unwrap();
        assert_eq!((t.prefix, t.gpu_slices, t.framebuffer_gb), (None, None, 4));
        let t: VgpuTypeName = "NVIDIA RTX-PRO-6000-DC-1-3Q".parse().unwrap();
        assert_eq!(
            (t.board.as_str(), t.gpu_slices),
            ("RTX-PRO-6000-DC", Some(1))
        );
        let t: VgpuTypeName = "NVIDIA RTX-PRO-6000-4Q".parse().unwrap();
        assert_eq!((t.board.as_str(), t.gpu_slices), ("RTX-PRO-6000", None));
        for bad in [
            "",
            "NVIDIA",
            "A100-",
            "A100-C",
            "A100-20",
            "A100-0C",
            "-4C",
            "A 100-4C",
            "A100-4C\u{0}",
        ] {
            assert!(bad.parse::<VgpuTypeName>().is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_round_trips(s in "\\PC{0,40}") {
            if let Ok(t) = s.parse::<VgpuTypeName>() {
                let again: VgpuTypeName = t.to_string().parse().unwrap();
                prop_assert_eq!(again, t);
            }
        }

        #[test]
        fn printed_names_parse(board in "[A-Z][A-Z0-9]{0,6}", g in proptest::option::of(1u8..8), fb in 1u32..200, series in "(C|Q|B|A|CME)") {
            let name = match g {
                Some(g) => format!("NVIDIA {board}-{g}-{fb}{series}"),
                None => format!("NVIDIA {board}-{fb}{series}"),
            };
            let t: VgpuTypeName = name.parse().unwrap();
            prop_assert_eq!(t.to_string(), name);
            prop_assert_eq!(t.gpu_slices, g);
        }
    }
}
