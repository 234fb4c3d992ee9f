//! OpenStack Nova's vGPU configuration, refusing what Nova refuses, for both of NVIDIA's
//! interfaces: mdev hosts get `[devices]` and `[mdev_<type>]` (here; `max_instances` caps a
//! type on SR-IOV GPUs, whose VFs each report one instance, since Nova 2024.1), vendor-VFIO
//! hosts get `[pci] device_spec` and `alias` ([`pci`]); [`host`] builds either from what the
//! vGPU manager made.

pub mod host;
pub mod pci;

pub use host::nova_conf_for_host;
pub use pci::{NovaVgpuVfs, nova_pci_conf};

use crate::parse;
use crate::{Error, PciAddress};

/// One enabled mdev type and the devices that offer it.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NovaMdevType {
    /// The type (`nvidia-471`, or a vGPU type name under NVIDIA's vendor interface).
    pub mdev_type: String,
    /// `device_addresses`.
    pub addresses: Vec<PciAddress>,
    /// `mdev_class`: `VGPU` or `CUSTOM_[A-Z0-9_]+`.
    pub mdev_class: Option<String>,
    /// `max_instances`.
    pub max_instances: Option<u32>,
}

impl NovaMdevType {
    /// A type on these devices.
    #[must_use]
    pub fn new(mdev_type: &str, addresses: &[PciAddress]) -> Self {
        NovaMdevType {
            mdev_type: mdev_type.to_owned(),
            addresses: addresses.to_vec(),
            mdev_class: None,
            max_instances: None,
        }
    }

    /// Sets `mdev_class`.
    #[must_use]
    pub fn mdev_class(mut self, class: &str) -> Self {
        self.mdev_class = Some(class.to_owned());
        self
    }

    /// Sets `max_instances`.
    #[must_use]
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = Some(n);
        self
    }
}

fn valid_class(c: &str) -> bool {
    c == "VGPU" || valid_custom_class(c)
}

/// `^CUSTOM_[A-Z0-9_]+$`, Placement's custom resource classes.
fn valid_custom_class(c: &str) -> bool {
    c.strip_prefix("CUSTOM_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// The `nova.conf` text for `types`.
///
/// # Errors
/// [`Error::Nova`] when a type name is not a safe name, a type is listed twice, one address
/// is under two types, more than one type is enabled and one has no addresses, or an
/// `mdev_class` does not match `^(VGPU|CUSTOM_[A-Z0-9_]+)$`.
pub fn nova_conf(types: &[NovaMdevType]) -> Result<String, Error> {
    let nova = |reason: String| Error::Nova { reason };
    if types.is_empty() {
        return Err(nova("no mdev type to enable".to_owned()));
    }
    let mut seen: Vec<(PciAddress, &str)> = Vec::new();
    for (i, t) in types.iter().enumerate() {
        parse::mdev_type_name(&t.mdev_type)
            .map_err(|e| nova(format!("type {:?}: expected {}", e.value, e.expected)))?;
        if types[..i].iter().any(|o| o.mdev_type == t.mdev_type) {
            return Err(nova(format!("type {} is listed twice", t.mdev_type)));
        }
        if types.len() > 1 && t.addresses.is_empty() {
            return Err(nova(format!(
                "type {} has no device_addresses; with more than one type enabled Nova needs them for each",
                t.mdev_type
            )));
        }
        if let Some(c) = t.mdev_class.as_ref().filter(|c| !valid_class(c)) {
            return Err(nova(format!(
                "mdev_class {c:?} of type {} does not match ^(VGPU|CUSTOM_[A-Z0-9_]+)$",
                t.mdev_type
            )));
        }
        for a in &t.addresses {
            if let Some((_, other)) = seen.iter().find(|(b, _)| b == a) {
                return Err(nova(format!(
                    "device {a} is under both {other} and {}; Nova allows one type per device",
                    t.mdev_type
                )));
            }
            seen.push((*a, &t.mdev_type));
        }
    }
    let mut s = String::from("[devices]\nenabled_mdev_types = ");
    s.push_str(
        &types
            .iter()
            .map(|t| t.mdev_type.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push('\n');
    for t in types {
        s.push_str(&format!("\n[mdev_{}]\n", t.mdev_type));
        if !t.addresses.is_empty() {
            let a: Vec<String> = t.addresses.iter().map(ToString::to_string).collect();
            s.push_str(&format!("device_addresses = {}\n", a.join(",")));
        }
        if let Some(c) = &t.mdev_class {
            s.push_str(&format!("mdev_class = {c}\n"));
        }
        if let Some(m) = t.max_instances {
            s.push_str(&format!("max_instances = {m}\n"));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> PciAddress {
        s.parse().unwrap()
    }

    #[test]
    fn renders_what_nova_reads() {
        let text = nova_conf(&[
            NovaMdevType::new("nvidia-35", &[a("0000:84:00.0"), a("0000:85:00.0")]),
            NovaMdevType::new("nvidia-36", &[a("0000:86:00.0")])
                .mdev_class("CUSTOM_NVIDIA_36")
                .max_instances(4),
        ])
        .unwrap();
        assert_eq!(
            text,
            "[devices]\nenabled_mdev_types = nvidia-35, nvidia-36\n\n[mdev_nvidia-35]\ndevice_addresses = 0000:84:00.0,0000:85:00.0\n\n[mdev_nvidia-36]\ndevice_addresses = 0000:86:00.0\nmdev_class = CUSTOM_NVIDIA_36\nmax_instances = 4\n"
        );
    }

    #[test]
    fn refuses_what_nova_refuses() {
        let x = a("0000:84:00.0");
        let e = nova_conf(&[
            NovaMdevType::new("nvidia-35", &[x]),
            NovaMdevType::new("nvidia-36", &[x]),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("0000:84:00.0 is under both nvidia-35 and nvidia-36"),
            "{e}"
        );
        assert!(nova_conf(&[NovaMdevType::new("nvidia-35", &[x]).mdev_class("custom_x")]).is_err());
        assert!(nova_conf(&[NovaMdevType::new("nvidia-35", &[x]).mdev_class("CUSTOM_")]).is_err());
        assert!(nova_conf(&[NovaMdevType::new("nvidia-35", &[x]).mdev_class("VGPU")]).is_ok());
        assert!(nova_conf(&[NovaMdevType::new("../x", &[x])]).is_err());
        assert!(nova_conf(&[NovaMdevType::new("a", &[x]), NovaMdevType::new("b", &[])]).is_err());
        assert!(nova_conf(&[NovaMdevType::new("a", &[])]).is_ok());
        assert!(nova_conf(&[]).is_err());
    }
}
