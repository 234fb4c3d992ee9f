//! PCI functions: what the kernel reports about each, and finding the NVIDIA GPUs.

use super::*;

/// What the kernel reports about one PCI function.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct PciDevice {
    /// The address.
    pub address: PciAddress,
    /// `vendor`.
    pub vendor: u16,
    /// `device`.
    pub device: u16,
    /// `subsystem_vendor`, where present.
    pub subsystem_vendor: Option<u16>,
    /// `subsystem_device`, where present.
    pub subsystem_device: Option<u16>,
    /// `class` (24 bits: class, subclass, programming interface).
    pub class: u32,
    /// The bound driver (`driver` link), if any.
    pub driver: Option<String>,
    /// `numa_node` (`None` for `-1` or absent).
    pub numa_node: Option<u32>,
    /// `local_cpulist` (empty where absent).
    pub local_cpus: CpuList,
    /// The IOMMU group (`iommu_group` link), if any.
    pub iommu_group: Option<u32>,
    /// SR-IOV state, when the function is a physical function with the capability.
    pub sriov: Option<SriovInfo>,
    /// The physical function (`physfn` link), when this is a VF.
    pub physfn: Option<PciAddress>,
}

impl PciDevice {
    /// Whether this is an NVIDIA GPU as `sriov-manage -e ALL` selects them: vendor 0x10de,
    /// class 0x0300 (VGA) or 0x0302 (3D controller), function 0.
    #[must_use]
    pub fn is_nvidia_gpu(&self) -> bool {
        self.vendor == NVIDIA_VENDOR
            && matches!(self.class >> 8, 0x0300 | 0x0302)
            && self.address.function() == 0
            && self.physfn.is_none()
    }
}

/// SR-IOV attributes of a physical function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct SriovInfo {
    /// `sriov_totalvfs`.
    pub total_vfs: u16,
    /// `sriov_numvfs`.
    pub num_vfs: u16,
    /// `sriov_offset` (routing-ID offset of VF 0).
    pub offset: u16,
    /// `sriov_stride`.
    pub stride: u16,
    /// `sriov_vf_device` (printed by the kernel as hex without `0x`).
    pub vf_device: u16,
    /// `sriov_drivers_autoprobe`.
    pub drivers_autoprobe: bool,
}

impl Sysfs {
    /// Every PCI function (`bus/pci/devices`), sorted by address.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be read; entries that are not PCI addresses are
    /// skipped.
    pub fn pci_devices(&self) -> Result<Vec<PciAddress>, Error> {
        let rel = Path::new("bus/pci/devices");
        let names = self.io.read_dir(rel).map_err(|e| self.io_err(rel, e))?;
        let mut v: Vec<PciAddress> = names.iter().filter_map(|n| n.parse().ok()).collect();
        v.sort_unstable();
        Ok(v)
    }

    /// What the kernel reports about the function at `address`.
    ///
    /// # Errors
    /// [`Error::NoSuchDevice`] when it is not there; [`Error::Io`] or [`Error::Value`] when
    /// an attribute cannot be read or parsed.
    pub fn device(&self, address: PciAddress) -> Result<PciDevice, Error> {
        let d = dev_path(address);
        if !self.io.exists(&d) {
            return Err(Error::NoSuchDevice { address });
        }
        Ok(PciDevice {
            address,
            vendor: self.parsed(&d.join("vendor"), parse::hex_u16_prefixed)?,
            device: self.parsed(&d.join("device"), parse::hex_u16_prefixed)?,
            subsystem_vendor: self
                .parsed_opt(&d.join("subsystem_vendor"), parse::hex_u16_prefixed)?,
            subsystem_device: self
                .parsed_opt(&d.join("subsystem_device"), parse::hex_u16_prefixed)?,
            class: self.parsed(&d.join("class"), parse::class_code)?,
            driver: self.link_name(&d.join("driver"))?,
            numa_node: self
                .parsed_opt(&d.join("numa_node"), parse::numa_node)?
                .flatten(),
            local_cpus: self
                .parsed_opt(&d.join("local_cpulist"), |s| s.parse::<CpuList>())?
                .unwrap_or_default(),
            iommu_group: self
                .link_name(&d.join("iommu_group"))?
                .and_then(|g| g.parse().ok()),
            sriov: self.sriov(address)?,
            physfn: self.link_address(&d.join("physfn"))?,
        })
    }

    /// The SR-IOV attributes of `pf`, or `None` when it has no SR-IOV capability.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Value`] when an attribute cannot be read or parsed.
    pub fn sriov(&self, pf: PciAddress) -> Result<Option<SriovInfo>, Error> {
        let d = dev_path(pf);
        let count = |s: &str| {
            parse::decimal(s).and_then(|v| {
                u16::try_from(v).map_err(|_| ValueError {
                    value: s.trim().to_owned(),
                    expected: "a count below 65536",
                })
            })
        };
        let Some(total_vfs) = self.parsed_opt(&d.join("sriov_totalvfs"), count)? else {
            return Ok(None);
        };
        Ok(Some(SriovInfo {
            total_vfs,
            num_vfs: self.parsed(&d.join("sriov_numvfs"), count)?,
            offset: self.parsed(&d.join("sriov_offset"), count)?,
            stride: self.parsed(&d.join("sriov_stride"), count)?,
            vf_device: self.parsed(&d.join("sriov_vf_device"), parse::hex_u16_bare)?,
            drivers_autoprobe: self.parsed(&d.join("sriov_drivers_autoprobe"), parse::switch)?,
        }))
    }

    /// The VFs of `pf` from its `virtfnN` links, by index, stopping at the first missing one.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Value`] when a link cannot be read or does not name a PCI
    /// device.
    pub fn virtual_functions(&self, pf: PciAddress) -> Result<Vec<PciAddress>, Error> {
        let d = dev_path(pf);
        let mut v = Vec::new();
        for k in 0..=u16::MAX {
            match self.link_address(&d.join(format!("virtfn{k}")))? {
                Some(a) => v.push(a),
                None => break,
            }
        }
        Ok(v)
    }

    /// NVIDIA GPUs: vendor 0x10de, class 0x0300 or 0x0302, function 0, not a VF.
    ///
    /// # Errors
    /// As [`Sysfs::pci_devices`] and [`Sysfs::device`].
    pub fn nvidia_gpus(&self) -> Result<Vec<PciDevice>, Error> {
        let mut out = Vec::new();
        for a in self.pci_devices()? {
            if a.function() != 0 {
                continue;
            }
            let vendor = self.read(&dev_path(a).join("vendor"))?;
            if parse::hex_u16_prefixed(&vendor).ok() != Some(NVIDIA_VENDOR) {
                continue;
            }
            let dev = self.device(a)?;
            if dev.is_nvidia_gpu() {
                out.push(dev);
            }
        }
        Ok(out)
    }
}
