//! NVIDIA's vGPU interfaces: which one a host offers, and the vendor-specific
//! `creatable_vgpu_types` / `current_vgpu_type`.

use super::*;

impl Sysfs {
    /// Which vGPU interface the host offers: mdev parents present → [`VgpuInterface::Mdev`];
    /// a VF (or GPU) with `nvidia/creatable_vgpu_types` → [`VgpuInterface::NvidiaVendor`].
    ///
    /// # Errors
    /// [`Error::Io`] when `bus/pci/devices` cannot be read.
    pub fn vgpu_interface(&self) -> Result<Option<VgpuInterface>, Error> {
        if !self.mdev_parents()?.is_empty() {
            return Ok(Some(VgpuInterface::Mdev));
        }
        for a in self.pci_devices()? {
            if self
                .io
                .exists(&dev_path(a).join("nvidia/creatable_vgpu_types"))
            {
                return Ok(Some(VgpuInterface::NvidiaVendor));
            }
        }
        Ok(None)
    }

    /// NVIDIA's vendor interface: the vGPU types `vf` can take now.
    ///
    /// # Errors
    /// [`Error::NoVendorVgpu`] when `vf` has no `nvidia/creatable_vgpu_types`.
    pub fn creatable_vgpu_types(&self, vf: PciAddress) -> Result<Vec<VgpuType>, Error> {
        let rel = dev_path(vf).join("nvidia/creatable_vgpu_types");
        match self.parsed_opt(&rel, parse::creatable_vgpu_types)? {
            Some(v) => Ok(v),
            None => Err(Error::NoVendorVgpu { address: vf }),
        }
    }

    /// NVIDIA's vendor interface: the vGPU type `vf` has (`None` for 0).
    ///
    /// # Errors
    /// [`Error::NoVendorVgpu`].
    pub fn current_vgpu_type(&self, vf: PciAddress) -> Result<Option<u32>, Error> {
        let rel = dev_path(vf).join("nvidia/current_vgpu_type");
        self.parsed_opt(&rel, parse::current_vgpu_type)?
            .ok_or(Error::NoVendorVgpu { address: vf })
    }

    /// NVIDIA's vendor interface: gives `vf` the vGPU type `id` (checked against
    /// `creatable_vgpu_types` first), or clears it with `None`.
    ///
    /// # Errors
    /// [`Error::VgpuTypeNotCreatable`]; [`Error::NoVendorVgpu`]; [`Error::Write`].
    pub fn set_vgpu_type(&self, vf: PciAddress, id: Option<u32>) -> Result<(), Error> {
        if let Some(id) = id {
            let types = self.creatable_vgpu_types(vf)?;
            if !types.iter().any(|t| t.id == id) {
                return Err(Error::VgpuTypeNotCreatable {
                    address: vf,
                    id,
                    creatable: types.iter().map(|t| t.id).collect(),
                });
            }
        } else {
            self.current_vgpu_type(vf)?;
        }
        self.write(
            &dev_path(vf).join("nvidia/current_vgpu_type"),
            &id.unwrap_or(0).to_string(),
        )
    }
}

impl Sysfs {
    /// NVIDIA's vendor interface: `nvidia/gpu_instance_id` of `vf` — the GPU instance its
    /// MIG-backed vGPU runs on, or the one written for the next type (`None` for -1).
    ///
    /// # Errors
    /// [`Error::NoVendorVgpu`]; [`Error::Value`] for anything but an integer ≥ -1.
    #[doc(alias = "gpu_instance_id")]
    pub fn vgpu_gpu_instance(&self, vf: PciAddress) -> Result<Option<u32>, Error> {
        let rel = dev_path(vf).join("nvidia/gpu_instance_id");
        self.parsed_opt(&rel, parse::signed_id)?
            .ok_or(Error::NoVendorVgpu { address: vf })
    }

    /// NVIDIA's vendor interface: `nvidia/placement_id` of `vf` — where its time-sliced vGPU
    /// sits in the framebuffer, or the placement written for the next type (`None` for -1).
    ///
    /// # Errors
    /// As [`Sysfs::vgpu_gpu_instance`].
    #[doc(alias = "placement_id")]
    pub fn vgpu_placement(&self, vf: PciAddress) -> Result<Option<u32>, Error> {
        let rel = dev_path(vf).join("nvidia/placement_id");
        self.parsed_opt(&rel, parse::signed_id)?
            .ok_or(Error::NoVendorVgpu { address: vf })
    }

    /// NVIDIA's vendor interface: chooses the GPU instance the next MIG-backed type written to
    /// `vf` runs on (`None` writes -1: the driver chooses).
    ///
    /// # Errors
    /// [`Error::NoVendorVgpu`]; [`Error::Write`] (EINVAL: no such GPU instance; EBUSY: the
    /// VF has a vGPU).
    pub fn set_vgpu_gpu_instance(&self, vf: PciAddress, gi: Option<u32>) -> Result<(), Error> {
        self.vgpu_gpu_instance(vf)?;
        let v = gi.map_or_else(|| "-1".to_owned(), |g| g.to_string());
        self.write(&dev_path(vf).join("nvidia/gpu_instance_id"), &v)
    }

    /// NVIDIA's vendor interface: chooses the placement of the next time-sliced type written
    /// to `vf` (`None` writes -1: the driver chooses).
    ///
    /// # Errors
    /// As [`Sysfs::set_vgpu_gpu_instance`].
    pub fn set_vgpu_placement(&self, vf: PciAddress, placement: Option<u32>) -> Result<(), Error> {
        self.vgpu_placement(vf)?;
        let v = placement.map_or_else(|| "-1".to_owned(), |g| g.to_string());
        self.write(&dev_path(vf).join("nvidia/placement_id"), &v)
    }

    /// The processes that hold a PCI function open through VFIO (a running VM).
    ///
    /// # Errors
    /// [`Error::Io`] when the process table cannot be read: then nobody can tell the
    /// function is free, and callers refuse to clear it.
    pub fn vfio_holders_of_device(&self, address: PciAddress) -> Result<Vec<u32>, Error> {
        let rel = dev_path(address);
        self.io.vfio_holders(&rel).map_err(|e| self.io_err(&rel, e))
    }

    /// The processes that hold an mdev open through VFIO (a running VM).
    ///
    /// # Errors
    /// As [`Sysfs::vfio_holders_of_device`].
    pub fn vfio_holders_of_mdev(&self, uuid: MdevUuid) -> Result<Vec<u32>, Error> {
        let rel = PathBuf::from(format!("bus/mdev/devices/{uuid}"));
        self.io.vfio_holders(&rel).map_err(|e| self.io_err(&rel, e))
    }
}
