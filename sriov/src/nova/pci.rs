//! Nova's PCI passthrough of vendor-interface vGPUs: on hosts with NVIDIA's vendor-specific
//! VFIO framework Nova never writes `current_vgpu_type`; it is given VFs prepared beforehand
//! (by the vGPU manager) through `[pci] device_spec`, left bound to `nvidia` (`managed: no`),
//! reported to Placement under a resource class per vGPU type, and asked for through an
//! `alias`.

use super::valid_custom_class;
use crate::{Error, PciAddress};

/// The VFs carrying one vGPU type, as Nova is to offer them.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NovaVgpuVfs {
    /// The alias flavors ask for (`pci_passthrough:alias=NAME:1`).
    pub alias: String,
    /// The Placement resource class (`CUSTOM_NVIDIA_H100XM_3_40C`).
    pub resource_class: String,
    /// (VF address, vendor ID, product ID).
    pub vfs: Vec<(PciAddress, u16, u16)>,
    /// `live_migratable` (Nova 2025.1+), where set.
    pub live_migratable: Option<bool>,
    /// `one_time_use` (Nova 2025.2 Flamingo+), where set.
    pub one_time_use: Option<bool>,
}

impl NovaVgpuVfs {
    /// The VFs of a vGPU type named `type_name` (`NVIDIA H100XM-3-40C`): alias and resource
    /// class derived from it (`nvidia-h100xm-3-40c`, `CUSTOM_NVIDIA_H100XM_3_40C`).
    #[must_use]
    pub fn for_type(type_name: &str, vfs: &[(PciAddress, u16, u16)]) -> Self {
        let norm: String = type_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let upper = norm.to_ascii_uppercase();
        let upper = upper.strip_prefix("NVIDIA_").unwrap_or(&upper);
        NovaVgpuVfs {
            alias: format!("nvidia-{}", upper.to_ascii_lowercase().replace('_', "-")),
            resource_class: format!("CUSTOM_NVIDIA_{upper}"),
            vfs: vfs.to_vec(),
            live_migratable: None,
            one_time_use: None,
        }
    }

    /// Sets `live_migratable`.
    #[must_use]
    pub fn live_migratable(mut self, on: bool) -> Self {
        self.live_migratable = Some(on);
        self
    }

    /// Sets `one_time_use`.
    #[must_use]
    pub fn one_time_use(mut self, on: bool) -> Self {
        self.one_time_use = Some(on);
        self
    }
}

fn valid_alias(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 64
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn yes_no(on: bool) -> &'static str {
    if on { "yes" } else { "no" }
}

/// The `[pci]` and `[filter_scheduler]` text for `groups`: one `device_spec` per VF (JSON as
/// Nova parses it, `managed: no` so Nova leaves the VF bound to `nvidia`), one `alias` per
/// group, PCI in Placement on.
///
/// # Errors
/// [`Error::Nova`] when a group has no VF, an alias is not 1 to 64 of `[A-Za-z0-9._-]` or is
/// used twice, a resource class does not match `^CUSTOM_[A-Z0-9_]+$` (at most 255 bytes) or
/// is used by two aliases, or a VF is in two groups.
pub fn nova_pci_conf(groups: &[NovaVgpuVfs]) -> Result<String, Error> {
    let nova = |reason: String| Error::Nova { reason };
    if groups.is_empty() {
        return Err(nova("no vGPU VFs to offer".to_owned()));
    }
    let mut seen: Vec<(PciAddress, &str)> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if !valid_alias(&g.alias) {
            return Err(nova(format!(
                "alias {:?}: expected 1 to 64 of [A-Za-z0-9._-]",
                g.alias.chars().take(80).collect::<String>()
            )));
        }
        if g.resource_class.len() > 255 || !valid_custom_class(&g.resource_class) {
            return Err(nova(format!(
                "resource class {:?} does not match ^CUSTOM_[A-Z0-9_]+$",
                g.resource_class.chars().take(80).collect::<String>()
            )));
        }
        if let Some(o) = groups[..i]
            .iter()
            .find(|o| o.alias == g.alias || o.resource_class == g.resource_class)
        {
            return Err(nova(format!(
                "alias {} / resource class {} repeats alias {} / {}",
                g.alias, g.resource_class, o.alias, o.resource_class
            )));
        }
        if g.vfs.is_empty() {
            return Err(nova(format!("alias {} has no VF", g.alias)));
        }
        for (a, _, _) in &g.vfs {
            if let Some((_, other)) = seen.iter().find(|(b, _)| b == a) {
                return Err(nova(format!(
                    "VF {a} is under both {other} and {}; a VF carries one vGPU type",
                    g.alias
                )));
            }
            seen.push((*a, &g.alias));
        }
    }
    let mut s = String::from("[pci]\nreport_in_placement = True\n");
    for g in groups {
        for (a, vendor, product) in &g.vfs {
            s.push_str(&format!(
                "device_spec = {{\"address\": \"{a}\", \"vendor_id\": \"{vendor:04x}\", \"product_id\": \"{product:04x}\", \"managed\": \"no\", \"resource_class\": \"{}\"",
                g.resource_class
            ));
            if let Some(l) = g.live_migratable {
                s.push_str(&format!(", \"live_migratable\": \"{}\"", yes_no(l)));
            }
            if let Some(o) = g.one_time_use {
                s.push_str(&format!(", \"one_time_use\": \"{}\"", yes_no(o)));
            }
            s.push_str("}\n");
        }
    }
    for g in groups {
        s.push_str(&format!(
            "alias = {{\"name\": \"{}\", \"resource_class\": \"{}\", \"device_type\": \"type-VF\"}}\n",
            g.alias, g.resource_class
        ));
    }
    s.push_str("\n[filter_scheduler]\npci_in_placement = True\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> PciAddress {
        s.parse().unwrap()
    }

    #[test]
    fn renders_json_nova_parses() {
        let g = NovaVgpuVfs::for_type(
            "NVIDIA H100XM-3-40C",
            &[
                (a("0001:c0:00.4"), 0x10de, 0x2330),
                (a("0001:c0:00.5"), 0x10de, 0x2330),
            ],
        )
        .live_migratable(false);
        assert_eq!(g.alias, "nvidia-h100xm-3-40c");
        assert_eq!(g.resource_class, "CUSTOM_NVIDIA_H100XM_3_40C");
        let text = nova_pci_conf(&[g]).unwrap();
        assert!(text.contains("device_spec = {\"address\": \"0001:c0:00.4\", \"vendor_id\": \"10de\", \"product_id\": \"2330\", \"managed\": \"no\", \"resource_class\": \"CUSTOM_NVIDIA_H100XM_3_40C\", \"live_migratable\": \"no\"}\n"), "{text}");
        assert!(text.contains("alias = {\"name\": \"nvidia-h100xm-3-40c\", \"resource_class\": \"CUSTOM_NVIDIA_H100XM_3_40C\", \"device_type\": \"type-VF\"}\n"), "{text}");
        assert!(text.ends_with("[filter_scheduler]\npci_in_placement = True\n"));
    }

    #[test]
    fn refuses_duplicates_and_injection() {
        let vf = (a("0001:c0:00.4"), 0x10de, 0x2330);
        let g = NovaVgpuVfs::for_type("NVIDIA H100XM-3-40C", &[vf]);
        let e = nova_pci_conf(&[
            g.clone(),
            NovaVgpuVfs::for_type("NVIDIA H100XM-4-40C", &[vf]),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("is under both"), "{e}");
        assert!(nova_pci_conf(&[g.clone(), g.clone()]).is_err());
        let mut bad = g.clone();
        bad.alias = "x\", \"name\": \"y".to_owned();
        assert!(nova_pci_conf(&[bad]).is_err());
        let mut bad = g.clone();
        bad.resource_class = "CUSTOM_X\"}".to_owned();
        assert!(nova_pci_conf(&[bad]).is_err());
        let mut empty = g;
        empty.vfs.clear();
        assert!(nova_pci_conf(&[empty]).is_err());
        assert!(nova_pci_conf(&[]).is_err());
    }
}
