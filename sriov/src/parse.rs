//! Pure parsers of sysfs attribute values. No I/O here: each takes the text the kernel printed
//! (trailing newline included) and returns a typed value or a [`ValueError`] naming the text.

use core::fmt;
use core::str::FromStr;

/// A sysfs value that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected value {value:?}: expected {expected}")]
pub struct ValueError {
    /// The text read (trimmed).
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

fn err(value: &str, expected: &'static str) -> ValueError {
    ValueError {
        value: value.trim().chars().take(64).collect(),
        expected,
    }
}

/// `vendor`, `device`, `subsystem_*`: `0x10de`.
///
/// # Errors
/// When the text is not `0x` and 1 to 4 hex digits.
pub fn hex_u16_prefixed(text: &str) -> Result<u16, ValueError> {
    const EXPECTED: &str = "0x and 1 to 4 hex digits";
    let t = text.trim();
    let digits = t.strip_prefix("0x").ok_or_else(|| err(text, EXPECTED))?;
    hex_digits(digits, 4)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| err(text, EXPECTED))
}

/// `class`: `0x030200` (24 bits).
///
/// # Errors
/// When the text is not `0x` and 1 to 6 hex digits.
pub fn class_code(text: &str) -> Result<u32, ValueError> {
    const EXPECTED: &str = "0x and 1 to 6 hex digits";
    let t = text.trim();
    let digits = t.strip_prefix("0x").ok_or_else(|| err(text, EXPECTED))?;
    hex_digits(digits, 6).ok_or_else(|| err(text, EXPECTED))
}

/// `sriov_vf_device`: hex without `0x` (`20b5`), unlike `device`.
///
/// # Errors
/// When the text is not 1 to 4 hex digits.
pub fn hex_u16_bare(text: &str) -> Result<u16, ValueError> {
    const EXPECTED: &str = "1 to 4 hex digits without 0x";
    hex_digits(text.trim(), 4)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| err(text, EXPECTED))
}

fn hex_digits(s: &str, max: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// A decimal count (`sriov_totalvfs`, `sriov_numvfs`, `available_instances`, …).
///
/// # Errors
/// When the text is not a decimal `u32`.
pub fn decimal(text: &str) -> Result<u32, ValueError> {
    let t = text.trim();
    if t.is_empty() || t.len() > 10 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(text, "a decimal number"));
    }
    t.parse()
        .map_err(|_| err(text, "a decimal number below 2^32"))
}

/// `numa_node`: a node number, or `-1` when the platform gives none (`None`).
///
/// # Errors
/// When the text is neither `-1` nor a decimal number.
pub fn numa_node(text: &str) -> Result<Option<u32>, ValueError> {
    if text.trim() == "-1" {
        return Ok(None);
    }
    decimal(text)
        .map(Some)
        .map_err(|_| err(text, "a NUMA node number or -1"))
}

/// A `0`/`1` switch (`sriov_drivers_autoprobe`).
///
/// # Errors
/// When the text is neither `0` nor `1`.
pub fn switch(text: &str) -> Result<bool, ValueError> {
    match text.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(err(text, "0 or 1")),
    }
}

/// A CPU list as the kernel prints it (`local_cpulist`): `0-3,8-11`, `5`, or empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct CpuList {
    /// Inclusive ranges, sorted, not overlapping, not adjacent.
    ranges: Vec<(u32, u32)>,
}

impl CpuList {
    /// The inclusive ranges, sorted.
    #[must_use]
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// Number of CPUs.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|&(a, b)| u64::from(b - a) + 1).sum()
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `cpu` is in the list.
    #[must_use]
    pub fn contains(&self, cpu: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= cpu && cpu <= b)
    }

    /// Every CPU, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.ranges.iter().flat_map(|&(a, b)| a..=b)
    }
}

impl FromStr for CpuList {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, ValueError> {
        const EXPECTED: &str = "a CPU list such as 0-3,8-11";
        let t = text.trim();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        if t.is_empty() {
            return Ok(CpuList { ranges });
        }
        for part in t.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let a = decimal(a).map_err(|_| err(text, EXPECTED))?;
            let b = decimal(b).map_err(|_| err(text, EXPECTED))?;
            if a > b {
                return Err(err(text, "CPU ranges written low-high"));
            }
            ranges.push((a, b));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if u64::from(a) <= u64::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        Ok(CpuList { ranges: merged })
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

string_form!(CpuList);

/// One line of NVIDIA's `creatable_vgpu_types`: `1428 : NVIDIA H200X-141C`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VgpuType {
    /// The vGPU type ID written to `current_vgpu_type`.
    pub id: u32,
    /// The type's name.
    pub name: String,
}

/// `nvidia/creatable_vgpu_types`: a header line (`ID    : vGPU Name`) may come first; every
/// other non-empty line is `ID : name`.
///
/// # Errors
/// When a line is not `ID : name`.
pub fn creatable_vgpu_types(text: &str) -> Result<Vec<VgpuType>, ValueError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (id, name) = line
            .split_once(':')
            .ok_or_else(|| err(line, "lines of the form `ID : name`"))?;
        let id = id.trim();
        if id.eq_ignore_ascii_case("ID") {
            continue;
        }
        let id = decimal(id).map_err(|_| err(line, "a decimal vGPU type ID before ':'"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(err(line, "a vGPU type name after ':'"));
        }
        out.push(VgpuType {
            id,
            name: name.to_owned(),
        });
    }
    Ok(out)
}

/// `nvidia/current_vgpu_type`: `0` when none is set.
///
/// # Errors
/// When the text is not a decimal number.
pub fn current_vgpu_type(text: &str) -> Result<Option<u32>, ValueError> {
    decimal(text).map(|v| (v != 0).then_some(v))
}

/// A signed ID attribute (`nvidia/gpu_instance_id`, `nvidia/placement_id`): a decimal
/// number, or -1 for none.
///
/// # Errors
/// When the text is neither.
pub fn signed_id(text: &str) -> Result<Option<u32>, ValueError> {
    if text.trim() == "-1" {
        return Ok(None);
    }
    decimal(text)
        .map(Some)
        .map_err(|_| err(text, "a decimal ID, or -1 for none"))
}

/// A driver name as it may appear in a path (`vfio-pci`, `nvidia`, `nvme`): ASCII letters,
/// digits, `-`, `_`, 1 to 64 bytes.
///
/// # Errors
/// Anything else, so a driver name can never walk out of its directory.
pub fn driver_name(text: &str) -> Result<&str, ValueError> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(text)
    } else {
        Err(err(text, "a driver name of letters, digits, '-' and '_'"))
    }
}

/// An mdev type directory name (`nvidia-471`, `i915-GVTg_V5_4`): as [`driver_name`] but `.`
/// also allowed inside (never `.` or `..` alone).
///
/// # Errors
/// Anything else.
pub fn mdev_type_name(text: &str) -> Result<&str, ValueError> {
    let ok = !text.is_empty()
        && text.len() <= 128
        && text != "."
        && text != ".."
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(text)
    } else {
        Err(err(
            text,
            "an mdev type name of letters, digits, '-', '_' and '.'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_as_the_kernel_prints_them() {
        assert_eq!(hex_u16_prefixed("0x10de\n"), Ok(0x10de));
        assert!(hex_u16_prefixed("10de\n").is_err());
        assert_eq!(hex_u16_bare("20b5\n"), Ok(0x20b5));
        assert!(hex_u16_bare("0x20b5").is_err());
        assert_eq!(class_code("0x030200\n"), Ok(0x030200));
        assert!(class_code("0x1030200").is_err());
        assert_eq!(numa_node("-1\n"), Ok(None));
        assert_eq!(numa_node("1\n"), Ok(Some(1)));
        assert!(numa_node("-2").is_err());
        assert_eq!(switch("1\n"), Ok(true));
        assert!(switch("yes").is_err());
        assert!(decimal("99999999999").is_err());
    }

    #[test]
    fn cpu_lists() {
        let c: CpuList = "0-3,8-11\n".parse().unwrap();
        assert_eq!(c.len(), 8);
        assert!(c.contains(9) && !c.contains(4));
        assert_eq!(c.to_string(), "0-3,8-11");
        assert_eq!("".parse::<CpuList>().unwrap().len(), 0);
        assert_eq!("5,3-4".parse::<CpuList>().unwrap().to_string(), "3-5");
        let e = "3-1".parse::<CpuList>().unwrap_err();
        assert_eq!(e.value, "3-1");
        assert!("a".parse::<CpuList>().is_err());
    }

    #[test]
    fn nvidia_vgpu_types() {
        let text = "ID    : vGPU Name\n1428 : NVIDIA H200X-141C\n1429 : NVIDIA H200X-70C\n";
        let t = creatable_vgpu_types(text).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].id, t[0].name.as_str()), (1428, "NVIDIA H200X-141C"));
        assert!(creatable_vgpu_types("x y").is_err());
        assert_eq!(current_vgpu_type("0\n"), Ok(None));
        assert_eq!(current_vgpu_type("1428\n"), Ok(Some(1428)));
    }

    #[test]
    fn names_cannot_escape_a_directory() {
        assert!(driver_name("vfio-pci").is_ok());
        for bad in ["", "../x", "a/b", "..", "a b"] {
            assert!(driver_name(bad).is_err(), "{bad}");
            assert!(mdev_type_name(bad).is_err(), "{bad}");
        }
        assert!(mdev_type_name("i915-GVTg_V5.4").is_ok());
    }

    proptest! {
        #[test]
        fn cpu_list_round_trip(ranges in proptest::collection::vec((0u32..4096, 0u32..64), 0..8)) {
            let text: Vec<String> = ranges.iter().map(|&(a, l)| format!("{a}-{}", a + l)).collect();
            let c: CpuList = text.join(",").parse().unwrap();
            let again: CpuList = c.to_string().parse().unwrap();
            prop_assert_eq!(&again, &c);
            prop_assert_eq!(again.to_string(), c.to_string());
        }

        #[test]
        fn parsers_never_panic(s in ".{0,40}") {
            let _ = hex_u16_prefixed(&s);
            let _ = hex_u16_bare(&s);
            let _ = class_code(&s);
            let _ = numa_node(&s);
            let _ = s.parse::<CpuList>();
            let _ = creatable_vgpu_types(&s);
        }
    }
}
