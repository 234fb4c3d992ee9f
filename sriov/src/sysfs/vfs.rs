//! SR-IOV virtual functions by the kernel's `sriov_numvfs` contract.

use super::*;

/// How [`Sysfs::enable_vfs`] may act and how long it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnableOptions {
    /// When VFs are enabled already and a different non-zero count is asked, write 0 first.
    /// That removes every VF and whatever uses them, so it is off unless asked.
    pub allow_disruption: bool,
    /// With autoprobe on, also wait until every VF has a driver.
    pub wait_for_drivers: bool,
    /// How long to wait for the VFs (and their drivers) to appear or go.
    pub timeout: Duration,
    /// Time between polls.
    pub poll: Duration,
}

impl Default for EnableOptions {
    fn default() -> Self {
        EnableOptions {
            allow_disruption: false,
            wait_for_drivers: true,
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(10),
        }
    }
}

impl EnableOptions {
    /// Allow writing 0 first when a different count is enabled.
    #[must_use]
    pub fn allow_disruption(mut self, allow: bool) -> Self {
        self.allow_disruption = allow;
        self
    }

    /// Whether to wait for VF drivers when autoprobe is on.
    #[must_use]
    pub fn wait_for_drivers(mut self, wait: bool) -> Self {
        self.wait_for_drivers = wait;
        self
    }

    /// The timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What [`Sysfs::enable_vfs`] did.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VfReport {
    /// The physical function.
    pub pf: PciAddress,
    /// VFs asked for.
    pub requested: u16,
    /// VFs enabled now (re-read; a driver may enable fewer than asked and still succeed).
    pub enabled: u16,
    /// Whether anything was written (`false` when the count was already right).
    pub changed: bool,
    /// The VFs, by index.
    pub vfs: Vec<PciAddress>,
}

impl Sysfs {
    /// Enables `count` VFs on `pf`, following the kernel's contract (`sriov_numvfs_store` in
    /// `drivers/pci/iov.c`): what can be checked is checked before writing; an equal count is
    /// a no-op; a different non-zero count while VFs are enabled is refused unless
    /// [`EnableOptions::allow_disruption`], and then 0 is written first. After the write the
    /// count is re-read (a driver may enable fewer and still succeed), and the call waits until
    /// every `virtfnN` link, and with autoprobe on every VF's driver, is there.
    ///
    /// # Errors
    /// [`Error::NoSuchDevice`], [`Error::NoSriov`], [`Error::TooManyVfs`] (ERANGE),
    /// [`Error::NoDriver`] / [`Error::NoSriovConfigure`] (ENOENT), [`Error::VfsEnabled`]
    /// (EBUSY), [`Error::MmioExhausted`] (ENOMEM), [`Error::Write`] for other errnos
    /// (EACCES/EPERM when not root), [`Error::Timeout`] when the VFs do not appear in time.
    #[doc(alias = "sriov_numvfs")]
    pub fn enable_vfs(
        &self,
        pf: PciAddress,
        count: u16,
        options: &EnableOptions,
    ) -> Result<VfReport, Error> {
        let dev = self.device(pf)?;
        let info = dev.sriov.ok_or(Error::NoSriov { address: pf })?;
        if count > info.total_vfs {
            return Err(Error::TooManyVfs {
                address: pf,
                requested: count,
                total: info.total_vfs,
            });
        }
        if count == info.num_vfs {
            return Ok(VfReport {
                pf,
                requested: count,
                enabled: count,
                changed: false,
                vfs: self.virtual_functions(pf)?,
            });
        }
        if dev.driver.is_none() {
            return Err(Error::NoDriver { address: pf });
        }
        if count != 0 && info.num_vfs != 0 {
            if !options.allow_disruption {
                return Err(Error::VfsEnabled {
                    address: pf,
                    enabled: info.num_vfs,
                    requested: count,
                });
            }
            self.write_numvfs(pf, 0, dev.driver.as_deref())?;
            self.wait(
                pf,
                options,
                |s| Ok(s.virtual_functions(pf)?.is_empty()),
                "VFs to go",
            )?;
        }
        self.write_numvfs(pf, count, dev.driver.as_deref())?;
        let enabled = self.sriov(pf)?.map_or(0, |s| s.num_vfs);
        let want_drivers = info.drivers_autoprobe && options.wait_for_drivers && count > 0;
        self.wait(
            pf,
            options,
            |s| {
                let vfs = s.virtual_functions(pf)?;
                if vfs.len() != usize::from(enabled) {
                    return Ok(false);
                }
                if want_drivers {
                    for vf in vfs {
                        if s.link_name(&dev_path(vf).join("driver"))?.is_none() {
                            return Ok(false);
                        }
                    }
                }
                Ok(true)
            },
            if want_drivers {
                "VFs and their drivers"
            } else {
                "VF links"
            },
        )?;
        Ok(VfReport {
            pf,
            requested: count,
            enabled,
            changed: true,
            vfs: self.virtual_functions(pf)?,
        })
    }

    /// Disables every VF of `pf` (writes 0; the kernel takes about a second) and waits until
    /// the links are gone.
    ///
    /// # Errors
    /// As [`Sysfs::enable_vfs`].
    pub fn disable_vfs(&self, pf: PciAddress, options: &EnableOptions) -> Result<VfReport, Error> {
        self.enable_vfs(pf, 0, options)
    }

    fn write_numvfs(&self, pf: PciAddress, count: u16, driver: Option<&str>) -> Result<(), Error> {
        let rel = dev_path(pf).join("sriov_numvfs");
        self.io
            .write(&rel, &format!("{count}\n"))
            .map_err(|e| match e.raw_os_error() {
                Some(errno::ERANGE) => Error::TooManyVfs {
                    address: pf,
                    requested: count,
                    total: self.sriov(pf).ok().flatten().map_or(0, |s| s.total_vfs),
                },
                Some(errno::ENOENT) => match driver {
                    Some(d) => Error::NoSriovConfigure {
                        address: pf,
                        driver: d.to_owned(),
                    },
                    None => Error::NoDriver { address: pf },
                },
                Some(errno::EBUSY) => Error::VfsEnabled {
                    address: pf,
                    enabled: self.sriov(pf).ok().flatten().map_or(0, |s| s.num_vfs),
                    requested: count,
                },
                Some(errno::ENOMEM) => Error::MmioExhausted {
                    address: pf,
                    requested: count,
                },
                code => Error::Write {
                    path: self.full(&rel),
                    value: count.to_string(),
                    errno: code.unwrap_or(0),
                    meaning: errno_meaning(code),
                },
            })
    }

    fn wait(
        &self,
        pf: PciAddress,
        options: &EnableOptions,
        done: impl Fn(&Self) -> Result<bool, Error>,
        what: &'static str,
    ) -> Result<(), Error> {
        let start = Instant::now();
        loop {
            if done(self)? {
                return Ok(());
            }
            if start.elapsed() >= options.timeout {
                return Err(Error::Timeout {
                    address: pf,
                    waiting_for: what,
                    after: options.timeout,
                });
            }
            std::thread::sleep(options.poll);
        }
    }

    /// Sets `sriov_drivers_autoprobe` of `pf`: whether VFs enabled from now on get a driver
    /// by themselves. It does not touch VFs that exist already.
    ///
    /// # Errors
    /// [`Error::NoSriov`] when `pf` has no SR-IOV capability; [`Error::Write`].
    pub fn set_drivers_autoprobe(&self, pf: PciAddress, on: bool) -> Result<(), Error> {
        if self.sriov(pf)?.is_none() {
            return Err(Error::NoSriov { address: pf });
        }
        self.write(
            &dev_path(pf).join("sriov_drivers_autoprobe"),
            if on { "1" } else { "0" },
        )
    }
}
