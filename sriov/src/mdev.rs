//! Mediated devices: the UUID that names one, and what a parent offers.

use core::fmt;
use core::str::FromStr;

use crate::parse::ValueError;

/// The UUID of a mediated device (`83b8f4f2-509f-382f-3c1e-e6bfe0fa1001`), as written to an
/// mdev type's `create` attribute. Printed lower-case in the 8-4-4-4-12 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct MdevUuid(u128);

impl MdevUuid {
    /// A UUID from its 128 bits.
    #[must_use]
    pub const fn from_u128(v: u128) -> Self {
        MdevUuid(v)
    }

    /// The 128 bits.
    #[must_use]
    pub const fn as_u128(self) -> u128 {
        self.0
    }
}

impl FromStr for MdevUuid {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, ValueError> {
        let bad = || ValueError {
            value: s.chars().take(64).collect(),
            expected: "a UUID of the form 8-4-4-4-12 hex digits",
        };
        let groups: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if groups.len() != 5 || groups.iter().zip(lens).any(|(g, l)| g.len() != l) {
            return Err(bad());
        }
        let mut v: u128 = 0;
        for b in groups.concat().bytes() {
            let d = char::from(b).to_digit(16).ok_or_else(bad)?;
            v = (v << 4) | u128::from(d);
        }
        Ok(MdevUuid(v))
    }
}

impl fmt::Display for MdevUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

string_form!(MdevUuid);

/// One mdev type a parent device offers (`mdev_supported_types/<type>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct MdevType {
    /// The directory name (`nvidia-471`).
    pub id: String,
    /// `name` (`GRID A100-4C`), where present.
    pub name: Option<String>,
    /// `description`, where present.
    pub description: Option<String>,
    /// `available_instances`.
    pub available_instances: u32,
    /// `device_api` (`vfio-pci`).
    pub device_api: String,
    /// The devices of this type (`devices/`).
    pub devices: Vec<MdevUuid>,
}

/// Which vGPU interface a host's NVIDIA driver offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum VgpuInterface {
    /// Mediated devices (`/sys/class/mdev_bus`, `mdev_supported_types`): older drivers and
    /// pre-Ampere GPUs.
    Mdev,
    /// NVIDIA's vendor-specific interface of newer drivers: `nvidia/creatable_vgpu_types` and
    /// `nvidia/current_vgpu_type` under each VF.
    NvidiaVendor,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints() {
        let u: MdevUuid = "83B8F4F2-509F-382F-3C1E-E6BFE0FA1001".parse().unwrap();
        assert_eq!(u.to_string(), "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
        for bad in [
            "",
            "83b8f4f2509f382f3c1ee6bfe0fa1001",
            "83b8f4f2-509f-382f-3c1e-e6bfe0fa100g",
            "+3b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
        ] {
            assert!(bad.parse::<MdevUuid>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(v in any::<u128>()) {
            let u = MdevUuid::from_u128(v);
            prop_assert_eq!(u.to_string().parse::<MdevUuid>().unwrap(), u);
        }
    }
}
