//! The YAML of a mig-parted file as it stands, before any rule: every value with its line and
//! column, and its JSON type kept (a quoted `"7"` stays a string), so that the reader can give
//! mig-parted's verdicts.

use std::fmt;

use gpupart_profiles::text::quote;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A scalar as YAML typed it (JSON's types, as mig-parted sees them), or what else stood there.
#[derive(Debug, Clone)]
pub(super) enum Scalar {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Null,
    Seq,
    Map,
}

impl Scalar {
    /// The value's kind, for messages.
    pub(super) fn kind(&self) -> String {
        match self {
            Scalar::Str(s) => format!("the string {}", quote(s)),
            Scalar::Int(i) => format!("the number {i}"),
            Scalar::Float(f) => format!("the number {f}"),
            Scalar::Bool(b) => format!("the boolean {b}"),
            Scalar::Null => "nothing (null)".to_owned(),
            Scalar::Seq => "a list".to_owned(),
            Scalar::Map => "a map".to_owned(),
        }
    }
}

pub(super) struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::from(v)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::try_from(v).unwrap_or(i128::MAX)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Map)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// A value that is a scalar, a list of spanned scalars, or a map of spanned keys to spanned
/// scalars: every shape a field of the format can take.
#[derive(Debug)]
pub(super) enum Node {
    Scalar(Scalar),
    Seq(Vec<Spanned<Scalar>>),
    Map(Vec<(Spanned<String>, Spanned<Scalar>)>),
}

pub(super) struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        ScalarVisitor.visit_str(v).map(Node::Scalar)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Str(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        ScalarVisitor.visit_i64(v).map(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        ScalarVisitor.visit_u64(v).map(Node::Scalar)
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Int(v)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        ScalarVisitor.visit_u128(v).map(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Float(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Bool(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Spanned<Scalar>>()? {
            out.push(v);
        }
        Ok(Node::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Spanned<String>>()? {
            let v = map.next_value::<Spanned<Scalar>>()?;
            out.push((k, v));
        }
        Ok(Node::Map(out))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// One entry, its keys in file order.
#[derive(Debug)]
pub(super) struct RawEntry(pub(super) Vec<(Spanned<String>, Spanned<Node>)>);

/// A configuration: a list of entries, or what else stood there.
#[derive(Debug)]
pub(super) enum RawConfig {
    Entries(Vec<Spanned<RawEntryOrOther>>),
    Other(Scalar),
}

#[derive(Debug)]
pub(super) enum RawEntryOrOther {
    Entry(RawEntry),
    Other(Scalar),
}

/// The top level: its keys in file order.
#[derive(Debug)]
pub(super) enum RawTop {
    Map(Vec<(Spanned<String>, Spanned<RawTopValue>)>),
    Other(Scalar),
}

#[derive(Debug)]
pub(super) enum RawTopValue {
    Configs(Vec<(Spanned<String>, Spanned<RawConfig>)>),
    Other(Scalar),
}

/// A visitor for "a map of spanned keys to `V`, or any other value".
macro_rules! map_or_other {
    ($visitor:ident, $out:ty, $value:ty, $map:expr, $other:expr) => {
        struct $visitor;
        impl<'de> Visitor<'de> for $visitor {
            type Value = $out;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$out, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    let v = map.next_value::<Spanned<$value>>()?;
                    out.push((k, v));
                }
                Ok($map(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<$out, A::Error> {
                ScalarVisitor.visit_seq(seq).map($other)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<$out, E> {
                Ok($other(Scalar::Str(v.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<$out, E> {
                Ok($other(Scalar::Int(i128::from(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<$out, E> {
                Ok($other(Scalar::Int(i128::from(v))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<$out, E> {
                Ok($other(Scalar::Float(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<$out, E> {
                Ok($other(Scalar::Bool(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<$out, E> {
                Ok($other(Scalar::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<$out, E> {
                Ok($other(Scalar::Null))
            }
        }
    };
}

map_or_other!(TopVisitor, RawTop, RawTopValue, RawTop::Map, RawTop::Other);
map_or_other!(
    ConfigsVisitor,
    RawTopValue,
    RawConfig,
    RawTopValue::Configs,
    RawTopValue::Other
);
map_or_other!(
    EntryVisitor,
    RawEntryOrOther,
    Node,
    |v| RawEntryOrOther::Entry(RawEntry(v)),
    RawEntryOrOther::Other
);

impl<'de> Deserialize<'de> for RawTop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

impl<'de> Deserialize<'de> for RawTopValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ConfigsVisitor)
    }
}

impl<'de> Deserialize<'de> for RawEntryOrOther {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

pub(super) struct ConfigVisitor;

impl<'de> Visitor<'de> for ConfigVisitor {
    type Value = RawConfig;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawConfig, A::Error> {
        let mut out = Vec::new();
        while let Some(e) = seq.next_element::<Spanned<RawEntryOrOther>>()? {
            out.push(e);
        }
        Ok(RawConfig::Entries(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawConfig, A::Error> {
        ScalarVisitor.visit_map(map).map(RawConfig::Other)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawConfig, E> {
        Ok(RawConfig::Other(Scalar::Str(v.to_owned())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawConfig, E> {
        Ok(RawConfig::Other(Scalar::Int(i128::from(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawConfig, E> {
        Ok(RawConfig::Other(Scalar::Int(i128::from(v))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawConfig, E> {
        Ok(RawConfig::Other(Scalar::Float(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawConfig, E> {
        Ok(RawConfig::Other(Scalar::Bool(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawConfig, E> {
        Ok(RawConfig::Other(Scalar::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<RawConfig, E> {
        Ok(RawConfig::Other(Scalar::Null))
    }
}

impl<'de> Deserialize<'de> for RawConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ConfigVisitor)
    }
}
