//! Reading a mig-parted configuration file strictly, with mig-parted's verdicts.
//!
//! The rules are those of upstream mig-parted's `api/spec/v1/spec.go` (its `UnmarshalJSON`
//! methods, after sigs.k8s.io/yaml has turned the YAML into JSON) and `pkg/types`:
//! - the top level holds `version` (required unless the file is empty, and `v1`) and
//!   `mig-configs`; any other key is refused (`unexpected field`);
//! - `mig-configs` has at least one configuration, and each configuration at least one entry;
//! - an entry requires `devices` (`all` or a list of integers) and `mig-enabled` (a boolean),
//!   may have `device-filter` (a string or a list of strings) and `mig-devices` (a map from
//!   profile name to integer count); any other key is refused;
//! - `mig-devices` is required when `mig-enabled` is true (`{}` will do) and must be empty
//!   when it is false; each key parses as a MIG profile name, no count is negative, and a
//!   non-empty map has at least one count above 0;
//! - values have JSON's types: a quoted `"7"` is a string, not a count; `0x233010DE` without
//!   quotes is a number, not a device filter.
//!
//! Where gpupart is stricter, it refuses what can only be a mistake and says why: a device
//! filter that is not `0xDDDDVVVV[:0xSSSSVVVV]` (mig-parted reads it as an ID that matches no
//! GPU), a negative device index (matches no GPU), a count above 2^32 − 1, a key given twice
//! (mig-parted keeps the last silently), a file over [`MAX_CONFIG_BYTES`].
//!
//! Every refusal names the key or value (quoted, at most 80 characters), its line and column,
//! and for a misspelt key the closest valid one.

use std::collections::BTreeMap;

use gpupart_profiles::ProfileName;
use gpupart_profiles::text::quote;
use serde_saphyr::Spanned;

use super::raw::{Node, RawConfig, RawEntry, RawEntryOrOther, RawTop, RawTopValue, Scalar};
use super::{ConfigEntry, DeviceFilter, DeviceId, Devices, MigPartedConfig, SourceLocation};
use crate::Error;

/// The largest configuration file read (NVIDIA's default is 12 KB).
pub const MAX_CONFIG_BYTES: usize = 4 << 20;

/// The keys of the top level, of an entry.
const TOP_KEYS: [&str; 2] = ["version", "mig-configs"];
const ENTRY_KEYS: [&str; 4] = ["device-filter", "devices", "mig-enabled", "mig-devices"];

fn at<T>(s: &Spanned<T>) -> Option<SourceLocation> {
    SourceLocation::from_saphyr(&s.referenced)
}

fn refuse(at: Option<SourceLocation>, reason: String) -> Error {
    Error::Config { reason, at }
}

/// The Levenshtein distance of two short strings (keys, configuration names).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The candidate closest to `input`, if it is close enough to be a misspelling of it.
pub(crate) fn closest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if input.len() > 256 {
        return None;
    }
    candidates
        .into_iter()
        .map(|c| (distance(input, c), c))
        .filter(|&(d, c)| d > 0 && d <= (c.len() / 3).max(2))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn unexpected(key: &Spanned<String>, valid: &[&str], place: &str) -> Error {
    let hint = match closest(&key.value, valid.iter().copied()) {
        Some(c) => format!("; did you mean {c:?}?"),
        None => format!("; {place} takes {}", valid.join(", ")),
    };
    refuse(
        at(key),
        format!("unexpected field {} {place}{hint}", quote(&key.value)),
    )
}

/// Refuses a key given twice in one map.
fn no_duplicate<T>(keys: &[(Spanned<String>, T)], place: &str) -> Result<(), Error> {
    for (i, (k, _)) in keys.iter().enumerate() {
        if keys[..i].iter().any(|(p, _)| p.value == k.value) {
            return Err(refuse(
                at(k),
                format!(
                    "{} is given twice {place} (mig-parted would keep the last silently)",
                    quote(&k.value)
                ),
            ));
        }
    }
    Ok(())
}

/// Reads a configuration file with mig-parted's verdicts (see the module docs).
pub(super) fn parse(yaml: &str) -> Result<MigPartedConfig, Error> {
    if yaml.len() > MAX_CONFIG_BYTES {
        return Err(refuse(
            None,
            format!(
                "the file is {} bytes; at most {MAX_CONFIG_BYTES} are read",
                yaml.len()
            ),
        ));
    }
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let top: Option<RawTop> = serde_saphyr::from_str_with_options(yaml, options).map_err(|e| {
        let loc = e.location().and_then(|l| SourceLocation::from_saphyr(&l));
        refuse(loc, parser_message(&e.to_string()))
    })?;
    let keys = match top {
        None => Vec::new(),
        Some(RawTop::Map(keys)) => keys,
        Some(RawTop::Other(s)) => {
            return Err(refuse(
                None,
                format!(
                    "the file holds {}; expected a map with version and mig-configs",
                    s.kind()
                ),
            ));
        }
    };
    no_duplicate(&keys, "at the top level")?;
    let mut config = MigPartedConfig::empty();
    if keys.is_empty() {
        return Err(refuse(
            None,
            "the file is empty; unknown version \"\" (expected version: v1)".to_owned(),
        ));
    }
    let Some((vkey, version)) = keys.iter().find(|(k, _)| k.value == "version") else {
        return Err(refuse(
            at(&keys[0].0),
            "missing version field (expected version: v1)".to_owned(),
        ));
    };
    match &version.value {
        RawTopValue::Other(Scalar::Str(v)) if v == "v1" => config.version = v.clone(),
        RawTopValue::Other(Scalar::Str(v)) => {
            return Err(refuse(
                at(version),
                format!("unknown version {}; only v1 is known", quote(v)),
            ));
        }
        RawTopValue::Other(s) => {
            return Err(refuse(
                at(version).or(at(vkey)),
                format!("version is {}; expected the string v1", s.kind()),
            ));
        }
        RawTopValue::Configs(_) => {
            return Err(refuse(
                at(vkey),
                "version is a map; expected the string v1".to_owned(),
            ));
        }
    }
    for (key, value) in &keys {
        match key.value.as_str() {
            "version" => {}
            "mig-configs" => read_configs(key, value, &mut config)?,
            _ => return Err(unexpected(key, &TOP_KEYS, "at the top level")),
        }
    }
    if !keys.iter().any(|(k, _)| k.value == "mig-configs") {
        return Err(refuse(
            at(vkey),
            "missing mig-configs field (expected a map of named configurations)".to_owned(),
        ));
    }
    Ok(config)
}

/// The YAML parser's message, in this crate's words: without its own location (the error
/// carries it) or advice meant for Rust programmers, cut to a few hundred characters.
fn parser_message(text: &str) -> String {
    let text = text.split(" at line ").next().unwrap_or(text);
    if let Some(key) = text.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return format!(
            "{} is given twice in one map (mig-parted would keep the last silently)",
            quote(key)
        );
    }
    if text.contains("null into string") {
        return "a key is empty (null); expected a name".to_owned();
    }
    format!("not a mig-parted config: {}", cut(text))
}

/// Cuts a parser message to a few hundred characters.
fn cut(text: &str) -> String {
    match text.char_indices().nth(300) {
        None => text.to_owned(),
        Some((i, _)) => format!("{}…", &text[..i]),
    }
}

fn read_configs(
    key: &Spanned<String>,
    value: &Spanned<RawTopValue>,
    config: &mut MigPartedConfig,
) -> Result<(), Error> {
    let configs = match &value.value {
        RawTopValue::Configs(c) => c,
        RawTopValue::Other(Scalar::Null) => {
            return Err(refuse(
                at(key),
                "at least one entry in mig-configs is required".to_owned(),
            ));
        }
        RawTopValue::Other(s) => {
            return Err(refuse(
                at(value).or(at(key)),
                format!(
                    "mig-configs is {}; expected a map of named configurations",
                    s.kind()
                ),
            ));
        }
    };
    if configs.is_empty() {
        return Err(refuse(
            at(key),
            "at least one entry in mig-configs is required".to_owned(),
        ));
    }
    no_duplicate(configs, "in mig-configs")?;
    for (name, list) in configs {
        let entries = match &list.value {
            RawConfig::Entries(e) => e,
            RawConfig::Other(Scalar::Null) => &Vec::new(),
            RawConfig::Other(s) => {
                return Err(refuse(
                    at(list).or(at(name)),
                    format!(
                        "configuration {} is {}; expected a list of entries",
                        quote(&name.value),
                        s.kind()
                    ),
                ));
            }
        };
        if entries.is_empty() {
            return Err(refuse(
                at(name),
                format!("at least one entry in {} is required", quote(&name.value)),
            ));
        }
        let mut out = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let place = format!("in entry {} of {}", i + 1, quote(&name.value));
            let RawEntryOrOther::Entry(raw) = &e.value else {
                let RawEntryOrOther::Other(s) = &e.value else {
                    unreachable!()
                };
                return Err(refuse(
                    at(e),
                    format!("{place}: {}; expected a map", s.kind()),
                ));
            };
            let mut entry = read_entry(raw, at(e), &place)?;
            entry.location = at(e);
            out.push(entry);
        }
        config.mig_configs.insert(name.value.clone(), out);
    }
    Ok(())
}

fn read_entry(
    raw: &RawEntry,
    entry_at: Option<SourceLocation>,
    place: &str,
) -> Result<ConfigEntry, Error> {
    no_duplicate(&raw.0, place)?;
    for required in ["devices", "mig-enabled"] {
        if !raw.0.iter().any(|(k, _)| k.value == required) {
            // An unknown key that is a misspelling of the missing one says more.
            if let Some((k, _)) = raw
                .0
                .iter()
                .find(|(k, _)| !ENTRY_KEYS.contains(&k.value.as_str()))
            {
                return Err(unexpected(k, &ENTRY_KEYS, place));
            }
            return Err(refuse(
                entry_at,
                format!("missing required field {required} {place}"),
            ));
        }
    }
    let mut filter = None;
    let mut devices = Devices::List(Vec::new());
    let mut enabled = false;
    let mut mig_devices: Option<(Option<SourceLocation>, BTreeMap<String, u32>)> = None;
    for (key, value) in &raw.0 {
        let here = at(value).or(at(key));
        match key.value.as_str() {
            "device-filter" => filter = read_filter(&value.value, here, place)?,
            "devices" => devices = read_devices(&value.value, here, place)?,
            "mig-enabled" => match &value.value {
                Node::Scalar(Scalar::Bool(b)) => enabled = *b,
                Node::Scalar(s) => {
                    return Err(refuse(
                        here,
                        format!(
                            "mig-enabled is {} {place}; expected true or false",
                            s.kind()
                        ),
                    ));
                }
                _ => {
                    return Err(refuse(
                        here,
                        format!("mig-enabled {place} is not a boolean; expected true or false"),
                    ));
                }
            },
            "mig-devices" => {
                mig_devices = Some((at(key), read_mig_devices(&value.value, here, place)?))
            }
            _ => return Err(unexpected(key, &ENTRY_KEYS, place)),
        }
    }
    let mig_devices = match (enabled, mig_devices) {
        (true, None) => {
            return Err(refuse(
                entry_at,
                format!(
                    "missing required field mig-devices when mig-enabled is true {place} \
                     (write mig-devices: {{}} for MIG on with no instances)"
                ),
            ));
        }
        (false, Some((loc, d))) if !d.is_empty() => {
            return Err(refuse(
                loc,
                format!("MIG devices included when mig-enabled is false {place}"),
            ));
        }
        (_, d) => d.map(|(_, d)| d).unwrap_or_default(),
    };
    Ok(ConfigEntry {
        device_filter: filter,
        devices,
        mig_enabled: enabled,
        mig_devices,
        location: None,
    })
}

fn read_filter(
    node: &Node,
    here: Option<SourceLocation>,
    place: &str,
) -> Result<Option<DeviceFilter>, Error> {
    let check = |s: &str, loc: Option<SourceLocation>| -> Result<(), Error> {
        s.parse::<DeviceId>()
            .map(|_| ())
            .map_err(|e| refuse(loc, format!("device-filter {place}: {e}")))
    };
    match node {
        Node::Scalar(Scalar::Str(s)) if s.is_empty() => Ok(None),
        Node::Scalar(Scalar::Str(s)) => {
            check(s, here)?;
            Ok(Some(DeviceFilter::One(s.clone())))
        }
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match &item.value {
                    Scalar::Str(s) => {
                        check(s, at(item).or(here))?;
                        out.push(s.clone());
                    }
                    other => return Err(not_a_filter(other, at(item).or(here), place)),
                }
            }
            Ok(Some(DeviceFilter::Many(out)))
        }
        Node::Scalar(s) => Err(not_a_filter(s, here, place)),
        Node::Map(_) => Err(not_a_filter(&Scalar::Map, here, place)),
    }
}

fn not_a_filter(s: &Scalar, here: Option<SourceLocation>, place: &str) -> Error {
    let hint = match s {
        Scalar::Int(i) => format!(" (quote it: \"0x{i:08X}\")"),
        _ => String::new(),
    };
    refuse(
        here,
        format!(
            "device-filter {place} is {}; expected a string or a list of strings{hint}",
            s.kind()
        ),
    )
}

fn read_devices(node: &Node, here: Option<SourceLocation>, place: &str) -> Result<Devices, Error> {
    match node {
        Node::Scalar(Scalar::Str(s)) if s == "all" => Ok(Devices::All(super::AllDevices::All)),
        Node::Scalar(Scalar::Str(s)) => Err(refuse(
            here,
            format!(
                "invalid string input for devices {place}: {}; expected all or a list of GPU indices",
                quote(s)
            ),
        )),
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match &item.value {
                    Scalar::Int(i) => out.push(u32::try_from(*i).map_err(|_| {
                        refuse(
                            at(item).or(here),
                            format!(
                                "device index {i} {place} is not a GPU index (0 to 4294967295)"
                            ),
                        )
                    })?),
                    other => {
                        return Err(refuse(
                            at(item).or(here),
                            format!(
                                "devices {place} lists {}; expected GPU indices (integers)",
                                other.kind()
                            ),
                        ));
                    }
                }
            }
            Ok(Devices::List(out))
        }
        Node::Scalar(s) => Err(refuse(
            here,
            format!(
                "devices {place} is {}; expected all or a list of GPU indices",
                s.kind()
            ),
        )),
        Node::Map(_) => Err(refuse(
            here,
            format!("devices {place} is a map; expected all or a list of GPU indices"),
        )),
    }
}

fn read_mig_devices(
    node: &Node,
    here: Option<SourceLocation>,
    place: &str,
) -> Result<BTreeMap<String, u32>, Error> {
    let pairs = match node {
        Node::Map(p) => p,
        // `mig-devices:` with nothing after it: mig-parted reads an empty map.
        Node::Scalar(Scalar::Null) => return Ok(BTreeMap::new()),
        Node::Scalar(s) => {
            return Err(refuse(
                here,
                format!(
                    "mig-devices {place} is {}; expected a map of profile names to counts",
                    s.kind()
                ),
            ));
        }
        Node::Seq(_) => {
            return Err(refuse(
                here,
                format!("mig-devices {place} is a list; expected a map of profile names to counts"),
            ));
        }
    };
    no_duplicate(pairs, &format!("in mig-devices {place}"))?;
    let mut out = BTreeMap::new();
    for (key, count) in pairs {
        if let Err(e) = key.value.parse::<ProfileName>() {
            return Err(refuse(
                at(key),
                format!("error validating values in mig-devices {place}: {e}"),
            ));
        }
        let n = match &count.value {
            Scalar::Int(n) if *n < 0 => {
                return Err(refuse(
                    at(count),
                    format!(
                        "invalid count {n} for {} {place}; counts are 0 or more",
                        quote(&key.value)
                    ),
                ));
            }
            Scalar::Int(n) => u32::try_from(*n).map_err(|_| {
                refuse(
                    at(count),
                    format!(
                        "count {n} for {} {place} is over 4294967295",
                        quote(&key.value)
                    ),
                )
            })?,
            other => {
                let hint = match other {
                    Scalar::Str(s) if s.trim().parse::<u64>().is_ok() => {
                        " (write it without quotes)"
                    }
                    _ => "",
                };
                return Err(refuse(
                    at(count),
                    format!(
                        "the count for {} {place} is {}; expected an integer{hint}",
                        quote(&key.value),
                        other.kind()
                    ),
                ));
            }
        };
        out.insert(key.value.clone(), n);
    }
    if !out.is_empty() && out.values().all(|&n| n == 0) {
        return Err(refuse(
            here,
            format!(
                "error validating values in mig-devices {place}: all counts for all MIG profiles are 0"
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_closest() {
        assert_eq!(distance("mig-device", "mig-devices"), 1);
        assert_eq!(closest("mig-device", ENTRY_KEYS), Some("mig-devices"));
        assert_eq!(
            closest("all-balance", ["all-balanced", "all-disabled"]),
            Some("all-balanced")
        );
        assert_eq!(closest("zzzzzzzz", ENTRY_KEYS), None);
    }
}
