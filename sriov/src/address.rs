//! PCI addresses: `domain:bus:device.function`.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// A PCI function's address. Domains are 32-bit (VMD domains start at `0x10000`), the device is
/// below `0x20` and the function below 8; the constructor refuses anything else, so every value
/// names a function the kernel could have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddress {
    domain: u32,
    bus: u8,
    device: u8,
    function: u8,
}

impl PciAddress {
    /// An address from its parts.
    ///
    /// # Errors
    /// [`Error::InvalidPciAddress`] when `device >= 0x20` or `function >= 8`.
    pub fn new(domain: u32, bus: u8, device: u8, function: u8) -> Result<Self, Error> {
        Self::checked(domain, bus, device, function).map_err(|reason| Error::InvalidPciAddress {
            input: format!("{domain:04x}:{bus:02x}:{device:02x}.{function}"),
            reason,
        })
    }

    /// The one place the device and function ranges are enforced.
    fn checked(domain: u32, bus: u8, device: u8, function: u8) -> Result<Self, &'static str> {
        if device >= 0x20 {
            return Err("device must be below 0x20");
        }
        if function >= 8 {
            return Err("function must be below 8");
        }
        Ok(PciAddress {
            domain,
            bus,
            device,
            function,
        })
    }

    /// The PCI domain (segment).
    #[must_use]
    pub const fn domain(self) -> u32 {
        self.domain
    }

    /// The bus number.
    #[must_use]
    pub const fn bus(self) -> u8 {
        self.bus
    }

    /// The device (slot) number, below `0x20`.
    #[must_use]
    pub const fn device(self) -> u8 {
        self.device
    }

    /// The function number, below 8.
    #[must_use]
    pub const fn function(self) -> u8 {
        self.function
    }

    /// The same device's function `function`.
    ///
    /// # Errors
    /// [`Error::InvalidPciAddress`] when `function >= 8`.
    pub fn with_function(self, function: u8) -> Result<Self, Error> {
        PciAddress::new(self.domain, self.bus, self.device, function)
    }
}

fn hex_field(text: &str, min: usize, max: usize) -> Option<u32> {
    if text.len() < min || text.len() > max || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

impl FromStr for PciAddress {
    type Err = Error;

    /// Parses the kernel's `%04x:%02x:%02x.%d` form, and NVML's with an 8-digit domain
    /// (`00000000:81:00.0`). Hex digits may be of either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| Error::InvalidPciAddress {
            input: s.chars().take(80).collect(),
            reason,
        };
        let (domain, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("no ':' after the domain"))?;
        let (bus, rest) = rest
            .split_once(':')
            .ok_or_else(|| bad("no ':' after the bus"))?;
        let (device, function) = rest
            .split_once('.')
            .ok_or_else(|| bad("no '.' before the function"))?;
        let domain =
            hex_field(domain, 4, 8).ok_or_else(|| bad("the domain must be 4 to 8 hex digits"))?;
        let bus = hex_field(bus, 2, 2).ok_or_else(|| bad("the bus must be 2 hex digits"))?;
        let device =
            hex_field(device, 2, 2).ok_or_else(|| bad("the device must be 2 hex digits"))?;
        if function.len() != 1 || !function.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the function must be one digit 0-7"));
        }
        let function = u32::from(function.as_bytes()[0] - b'0');
        // Each value fits its field: the digit counts above bound them.
        let bus = u8::try_from(bus).map_err(|_| bad("bus out of range"))?;
        let device = u8::try_from(device).map_err(|_| bad("device out of range"))?;
        let function = u8::try_from(function).map_err(|_| bad("function out of range"))?;
        if device >= 0x20 {
            return Err(bad("device must be below 0x20"));
        }
        if function >= 8 {
            return Err(bad("function must be below 8"));
        }
        Ok(PciAddress {
            domain,
            bus,
            device,
            function,
        })
    }
}

impl fmt::Display for PciAddress {
    /// The kernel's form, as sysfs names devices: `0000:81:00.0` (`10000:01:00.0` for a VMD
    /// domain).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for PciAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for PciAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kernel_and_nvml_forms() {
        let a: PciAddress = "0000:81:00.0".parse().unwrap();
        assert_eq!(a, PciAddress::new(0, 0x81, 0, 0).unwrap());
        let b: PciAddress = "00000000:81:00.0".parse().unwrap();
        assert_eq!(a, b);
        let vmd: PciAddress = "10000:01:1f.7".parse().unwrap();
        assert_eq!(vmd.to_string(), "10000:01:1f.7");
        assert_eq!(
            "0000:AB:1F.3".parse::<PciAddress>().unwrap().to_string(),
            "0000:ab:1f.3"
        );
    }

    #[test]
    fn bad_addresses_are_refused_with_the_input_named() {
        for bad in [
            "",
            "0000:81:00",
            "0000:81.00.0",
            "000:81:00.0",
            "000000000:81:00.0",
            "0000:8:00.0",
            "0000:81:20.0",
            "0000:81:00.8",
            "0000:81:00.10",
            "0000:81:0g.0",
            "+000:81:00.0",
            "0000:81:00.0 ",
            "0000:81:00.-",
        ] {
            let e = bad.parse::<PciAddress>().expect_err(bad);
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        assert!(PciAddress::new(0, 0, 0x20, 0).is_err());
        assert!(PciAddress::new(0, 0, 0, 8).is_err());
    }

    proptest! {
        #[test]
        fn print_parse_round_trip(domain in any::<u32>(), bus in any::<u8>(), device in 0u8..0x20, function in 0u8..8) {
            let a = PciAddress::new(domain, bus, device, function).unwrap();
            prop_assert_eq!(a.to_string().parse::<PciAddress>().unwrap(), a);
        }

        #[test]
        fn parsing_never_panics(s in "[0-9a-fA-F:.x ]{0,20}") {
            if let Ok(a) = s.parse::<PciAddress>() {
                prop_assert!(a.device() < 0x20 && a.function() < 8);
            }
        }
    }
}
