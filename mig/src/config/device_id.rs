//! mig-parted's device ID: a PCI device and vendor ID, optionally with a subsystem ID.

use std::fmt;
use std::str::FromStr;

use gpupart_profiles::text::quote;

/// A `device-filter` ID as mig-parted writes it: `0xDDDDVVVV` (device, then vendor), optionally
/// followed by `:0xSSSSWWWW` (subsystem device, then subsystem vendor), e.g.
/// `0x233010DE:0x16C010DE`. A filter without a subsystem matches every subsystem; one with a
/// subsystem matches only it (mig-parted's `DeviceID.Matches`).
///
/// ```
/// use gpupart_mig::config::DeviceId;
/// let id: DeviceId = "0x233010DE:0x16C010DE".parse()?;
/// assert!(id.matches(0x2330_10DE, Some(0x16C0_10DE)));
/// assert!(!id.matches(0x2330_10DE, Some(0x16C1_10DE)));
/// assert!("0x233010DE".parse::<DeviceId>()?.matches(0x2330_10DE, Some(0x16C1_10DE)));
/// assert!("0x2330".parse::<DeviceId>().is_err());
/// # Ok::<(), gpupart_mig::config::DeviceIdError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceId {
    /// Device ID in the high half, vendor ID in the low half (`0x233010DE`).
    pub device_vendor: u32,
    /// Subsystem device and vendor, the same way, where the filter names one.
    pub subsystem: Option<u32>,
}

/// Why a string is not a [`DeviceId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a device ID: {reason}; expected 0xDDDDVVVV or 0xDDDDVVVV:0xSSSSVVVV, e.g. \"0x233010DE\"", quote(.input))]
pub struct DeviceIdError {
    /// The input.
    pub input: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl DeviceId {
    /// An ID from its numbers.
    #[must_use]
    pub const fn new(device_vendor: u32, subsystem: Option<u32>) -> Self {
        DeviceId {
            device_vendor,
            subsystem,
        }
    }

    /// Whether a GPU with this PCI device ID (and subsystem ID, where known) matches.
    #[must_use]
    pub fn matches(&self, device_vendor: u32, subsystem: Option<u32>) -> bool {
        self.device_vendor == device_vendor && self.subsystem.is_none_or(|s| subsystem == Some(s))
    }
}

/// `0x` and exactly 8 hex digits.
fn hex32(part: &str) -> Result<u32, &'static str> {
    let digits = part
        .strip_prefix("0x")
        .or_else(|| part.strip_prefix("0X"))
        .ok_or("it does not start with 0x")?;
    if digits.len() != 8 {
        return Err("an ID is 8 hex digits after 0x: the device ID, then the vendor ID (10DE)");
    }
    u32::from_str_radix(digits, 16).map_err(|_| "it has a character that is not a hex digit")
}

impl FromStr for DeviceId {
    type Err = DeviceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| DeviceIdError {
            input: s.to_owned(),
            reason,
        };
        if s.contains(',') {
            return Err(err(
                "a subsystem ID goes after a colon, not a comma (0x233010DE:0x16C010DE)",
            ));
        }
        let mut parts = s.split(':');
        let device_vendor = hex32(parts.next().unwrap_or_default()).map_err(err)?;
        let subsystem = parts.next().map(|p| hex32(p).map_err(&err)).transpose()?;
        if parts.next().is_some() {
            return Err(err("it has more than one colon"));
        }
        Ok(DeviceId {
            device_vendor,
            subsystem,
        })
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.device_vendor)?;
        if let Some(s) = self.subsystem {
            write!(f, ":0x{s:08X}")?;
        }
        Ok(())
    }
}
