//! Driver binding: `driver_override`, `drivers_probe`, `unbind`.

use super::*;

impl Sysfs {
    /// Unbinds `device` from its driver; returns the driver it had.
    ///
    /// # Errors
    /// [`Error::NoSuchDevice`]; [`Error::Write`].
    pub fn unbind(&self, device: PciAddress) -> Result<Option<String>, Error> {
        if !self.io.exists(&dev_path(device)) {
            return Err(Error::NoSuchDevice { address: device });
        }
        let Some(driver) = self.link_name(&dev_path(device).join("driver"))? else {
            return Ok(None);
        };
        let driver = parse::driver_name(&driver)
            .map_err(|problem| Error::Value {
                path: self.full(&dev_path(device).join("driver")),
                problem,
            })?
            .to_owned();
        self.write(
            &Path::new("bus/pci/drivers").join(&driver).join("unbind"),
            &device.to_string(),
        )?;
        Ok(Some(driver))
    }

    /// Binds `device` to `driver` (e.g. `vfio-pci`) the way the kernel documents for drivers
    /// that do not list the device: unbind it from its current driver, set `driver_override`,
    /// then `drivers_probe`. Checks that the driver is loaded first, and that the device got it.
    ///
    /// # Errors
    /// [`Error::InvalidName`] for a driver name with characters outside `[A-Za-z0-9_-]`;
    /// [`Error::NoSuchDriver`] when it is not loaded; [`Error::BindFailed`] when the device
    /// ends up without it; [`Error::Write`].
    pub fn bind(&self, device: PciAddress, driver: &str) -> Result<(), Error> {
        let driver = parse::driver_name(driver).map_err(|e| Error::InvalidName {
            kind: "driver",
            value: e.value,
            expected: e.expected,
        })?;
        if !self.io.exists(&Path::new("bus/pci/drivers").join(driver)) {
            return Err(Error::NoSuchDriver {
                driver: driver.to_owned(),
            });
        }
        let current = self.device(device)?.driver;
        if current.as_deref() == Some(driver) {
            return Ok(());
        }
        if current.is_some() {
            self.unbind(device)?;
        }
        self.write(&dev_path(device).join("driver_override"), driver)?;
        self.write(Path::new("bus/pci/drivers_probe"), &device.to_string())?;
        let now = self.link_name(&dev_path(device).join("driver"))?;
        if now.as_deref() != Some(driver) {
            return Err(Error::BindFailed {
                address: device,
                driver: driver.to_owned(),
                bound: now,
            });
        }
        Ok(())
    }
}
