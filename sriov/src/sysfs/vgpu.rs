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
