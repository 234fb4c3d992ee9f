//! PCI device IDs (device and vendor, as NVML and mig-parted write them) and GPU
//! architectures.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// A PCI device ID as NVML and mig-parted write it: device in the upper 16 bits, vendor in the
/// lower 16 (`0x20B010DE` is device `0x20B0` of vendor `0x10DE`, NVIDIA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciDeviceId(u32);

impl PciDeviceId {
    /// From the combined 32-bit form (`0x20B010DE`).
    #[must_use]
    pub const fn from_combined(raw: u32) -> Self {
        PciDeviceId(raw)
    }

    /// From a vendor and a device ID.
    #[must_use]
    pub const fn new(vendor: u16, device: u16) -> Self {
        PciDeviceId(((device as u32) << 16) | vendor as u32)
    }

    /// The combined 32-bit form.
    #[must_use]
    pub const fn combined(self) -> u32 {
        self.0
    }

    /// The device part (`0x20B0`).
    #[must_use]
    pub const fn device(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The vendor part (`0x10DE`).
    #[must_use]
    pub const fn vendor(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

impl fmt::Display for PciDeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

impl FromStr for PciDeviceId {
    type Err = Error;

    /// Parses `0x20B010DE` (prefix `0x` or `0X`, 8 hex digits, any case), as mig-parted's
    /// `device-filter` writes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::InvalidPciId {
            input: crate::text::cut(s),
            expected: "0x followed by 8 hexadecimal digits, e.g. 0x20B010DE",
        };
        let hex = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or_else(bad)?;
        if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u32::from_str_radix(hex, 16)
            .map(PciDeviceId)
            .map_err(|_| bad())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for PciDeviceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for PciDeviceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// GPU architecture of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Architecture {
    /// Ampere (GA100).
    Ampere,
    /// Hopper (GH100).
    Hopper,
    /// Blackwell (GB100, GB110, GB202).
    Blackwell,
}
