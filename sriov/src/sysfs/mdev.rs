//! Mediated devices: parents, types, create and remove.

use super::*;

/// A mediated device.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mdev {
    /// Its UUID.
    pub uuid: MdevUuid,
    /// The parent device.
    pub parent: PciAddress,
    /// The type directory name.
    pub mdev_type: String,
}

impl Sysfs {
    /// mdev parents (`class/mdev_bus`).
    ///
    /// # Errors
    /// [`Error::Io`] other than a missing directory (no parents then).
    pub fn mdev_parents(&self) -> Result<Vec<PciAddress>, Error> {
        let rel = Path::new("class/mdev_bus");
        match self.io.read_dir(rel) {
            Ok(names) => Ok(names.iter().filter_map(|n| n.parse().ok()).collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.io_err(rel, e)),
        }
    }

    /// The mdev types `parent` offers.
    ///
    /// # Errors
    /// [`Error::NotMdevParent`]; [`Error::Io`]/[`Error::Value`].
    pub fn mdev_types(&self, parent: PciAddress) -> Result<Vec<MdevType>, Error> {
        let base = dev_path(parent).join("mdev_supported_types");
        let names = self
            .io
            .read_dir(&base)
            .map_err(|_| Error::NotMdevParent { address: parent })?;
        let mut out = Vec::new();
        for id in names {
            if parse::mdev_type_name(&id).is_err() {
                continue;
            }
            let t = base.join(&id);
            let devices = self
                .io
                .read_dir(&t.join("devices"))
                .unwrap_or_default()
                .iter()
                .filter_map(|u| u.parse().ok())
                .collect();
            out.push(MdevType {
                name: self.read_opt(&t.join("name"))?.map(|s| s.trim().to_owned()),
                description: self
                    .read_opt(&t.join("description"))?
                    .map(|s| s.trim().to_owned()),
                available_instances: self.parsed(&t.join("available_instances"), parse::decimal)?,
                device_api: self.read(&t.join("device_api"))?.trim().to_owned(),
                devices,
                id,
            });
        }
        Ok(out)
    }

    /// Creates an mdev of `mdev_type` on `parent` named `uuid`.
    ///
    /// # Errors
    /// [`Error::InvalidName`]; [`Error::NoSuchMdevType`]; [`Error::MdevExists`] when the UUID
    /// is taken anywhere (checked first; the kernel answers EEXIST too);
    /// [`Error::NoMdevRoom`] when `available_instances` is 0; [`Error::Write`].
    pub fn create_mdev(
        &self,
        parent: PciAddress,
        mdev_type: &str,
        uuid: MdevUuid,
    ) -> Result<(), Error> {
        let ty = parse::mdev_type_name(mdev_type).map_err(|e| Error::InvalidName {
            kind: "mdev type",
            value: e.value,
            expected: e.expected,
        })?;
        let types = self.mdev_types(parent)?;
        let t = types
            .iter()
            .find(|t| t.id == ty)
            .ok_or_else(|| Error::NoSuchMdevType {
                parent,
                mdev_type: ty.to_owned(),
            })?;
        if self
            .io
            .exists(&Path::new("bus/mdev/devices").join(uuid.to_string()))
        {
            return Err(Error::MdevExists { uuid });
        }
        if t.available_instances == 0 {
            return Err(Error::NoMdevRoom {
                parent,
                mdev_type: ty.to_owned(),
            });
        }
        let rel = dev_path(parent)
            .join("mdev_supported_types")
            .join(ty)
            .join("create");
        self.io
            .write(&rel, &uuid.to_string())
            .map_err(|e| match e.raw_os_error() {
                Some(errno::EEXIST) => Error::MdevExists { uuid },
                code => Error::Write {
                    path: self.full(&rel),
                    value: uuid.to_string(),
                    errno: code.unwrap_or(0),
                    meaning: errno_meaning(code),
                },
            })
    }

    /// Removes the mdev `uuid`.
    ///
    /// # Errors
    /// [`Error::NoSuchMdev`]; [`Error::Write`].
    pub fn remove_mdev(&self, uuid: MdevUuid) -> Result<(), Error> {
        let d = Path::new("bus/mdev/devices").join(uuid.to_string());
        if !self.io.exists(&d) {
            return Err(Error::NoSuchMdev { uuid });
        }
        self.write(&d.join("remove"), "1")
    }

    /// Every mdev (`bus/mdev/devices`), with parent and type.
    ///
    /// # Errors
    /// [`Error::Io`]/[`Error::Value`] when a link cannot be read.
    pub fn mdevs(&self) -> Result<Vec<Mdev>, Error> {
        let base = Path::new("bus/mdev/devices");
        let names = self.io.read_dir(base).unwrap_or_default();
        let mut out = Vec::new();
        for n in names {
            let Ok(uuid) = n.parse::<MdevUuid>() else {
                continue;
            };
            let dir = self
                .io
                .read_link(&base.join(&n))
                .map_err(|e| self.io_err(&base.join(&n), e))?;
            let parent = dir
                .parent()
                .and_then(last_component)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| Error::Value {
                    path: self.full(&base.join(&n)),
                    problem: ValueError {
                        value: dir.display().to_string(),
                        expected: "a link into a PCI parent",
                    },
                })?;
            let mdev_type = self
                .link_name(&base.join(&n).join("mdev_type"))?
                .unwrap_or_default();
            out.push(Mdev {
                uuid,
                parent,
                mdev_type,
            });
        }
        Ok(out)
    }
}
