//! The path router: which sysfs path reads, lists, links or writes what, and the
//! [`SysfsIo`] the library sees.

use super::vgpu::{Fit, Want};
use super::*;

/// A signed sysfs value: the number, or -1 for none.
fn signed(v: Option<u32>) -> String {
    v.map_or_else(|| "-1\n".to_owned(), |g| format!("{g}\n"))
}

impl State {
    pub(super) fn read(&mut self, p: &[String]) -> io::Result<String> {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["bus", "pci", "devices", a, attr] => {
                let d = self.device(a)?;
                let hex = |v: u16| format!("0x{v:04x}\n");
                let s = d.sriov.as_ref();
                let sr =
                    |f: &dyn Fn(&SimSriov) -> String| s.map(f).ok_or_else(|| os(errno::ENOENT));
                Ok(match *attr {
                    "vendor" => hex(d.vendor),
                    "device" => hex(d.device),
                    "subsystem_vendor" => hex(d.subsystem.0),
                    "subsystem_device" => hex(d.subsystem.1),
                    "class" => format!("0x{:06x}\n", d.class),
                    "numa_node" => d.numa_node.map_or("-1\n".to_owned(), |n| format!("{n}\n")),
                    "local_cpulist" => format!("{}\n", d.cpulist),
                    "driver_override" => {
                        format!("{}\n", d.driver_override.as_deref().unwrap_or("(null)"))
                    }
                    "sriov_totalvfs" => sr(&|s| format!("{}\n", s.total_vfs))?,
                    "sriov_numvfs" => sr(&|_| format!("{}\n", d.num_vfs))?,
                    "sriov_offset" => sr(&|s| format!("{}\n", s.offset))?,
                    "sriov_stride" => sr(&|s| format!("{}\n", s.stride))?,
                    "sriov_vf_device" => sr(&|s| format!("{:x}\n", s.vf_device))?,
                    "sriov_drivers_autoprobe" => sr(&|_| format!("{}\n", u8::from(d.autoprobe)))?,
                    _ => return Err(os(errno::ENOENT)),
                })
            }
            ["bus", "pci", "devices", a, "nvidia", attr] => {
                let d = self.device(a)?;
                if d.vgpu_types.is_empty() {
                    return Err(os(errno::ENOENT));
                }
                match *attr {
                    "creatable_vgpu_types" => {
                        let mut s = String::from("ID    : vGPU Name\n");
                        for t in self.creatable(d) {
                            s.push_str(&format!("{} : {}\n", t.id, t.name));
                        }
                        Ok(s)
                    }
                    "current_vgpu_type" => Ok(format!("{}\n", d.current_vgpu)),
                    "gpu_instance_id" => Ok(signed(d.gpu_instance.or(d.want_gpu_instance))),
                    "placement_id" => Ok(signed(d.placement.or(d.want_placement))),
                    _ => Err(os(errno::ENOENT)),
                }
            }
            ["bus", "pci", "devices", a, "mdev_supported_types", t, attr] => {
                let d = self.device(a)?;
                let addr = d.address;
                let ty = d
                    .mdev_types
                    .iter()
                    .find(|x| x.id == *t)
                    .ok_or_else(|| os(errno::ENOENT))?;
                Ok(match *attr {
                    "name" => format!("{}\n", ty.name),
                    "description" => {
                        format!("num_heads=4, frl_config=60, framebuffer={}\n", ty.name)
                    }
                    "device_api" => "vfio-pci\n".to_owned(),
                    "available_instances" => format!("{}\n", self.mdev_available(addr, ty)),
                    _ => return Err(os(errno::ENOENT)),
                })
            }
            ["kernel", "iommu_groups", ..]
            | ["bus", "pci", "devices", ..]
            | ["bus", "pci", "drivers", ..]
            | ["class", ..]
            | ["bus", "mdev", ..] => Err(os(errno::ENOENT)),
            _ => Err(os(errno::ENOENT)),
        }
    }

    pub(super) fn read_dir(&self, p: &[String]) -> io::Result<Vec<String>> {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        let mut v: Vec<String> = match p.as_slice() {
            ["bus", "pci", "devices"] => self.devices.keys().map(ToString::to_string).collect(),
            ["bus", "pci", "drivers"] => self.drivers.keys().cloned().collect(),
            ["kernel", "iommu_groups"] => {
                if self.iommu {
                    let mut g: Vec<u32> = self
                        .devices
                        .values()
                        .filter_map(|d| d.iommu_group)
                        .collect();
                    g.sort_unstable();
                    g.dedup();
                    g.iter().map(ToString::to_string).collect()
                } else {
                    Vec::new()
                }
            }
            ["class", "mdev_bus"] => self
                .devices
                .values()
                .filter(|d| !d.mdev_types.is_empty())
                .map(|d| d.address.to_string())
                .collect(),
            ["bus", "mdev", "devices"] => self.mdevs.keys().map(ToString::to_string).collect(),
            ["bus", "pci", "devices", a] => {
                let d = self.device(a)?;
                let mut names: Vec<String> =
                    ["vendor", "device", "class", "numa_node", "local_cpulist"]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect();
                if d.sriov.is_some() {
                    names.push("sriov_numvfs".to_owned());
                }
                for k in 0..d.num_vfs {
                    names.push(format!("virtfn{k}"));
                }
                names
            }
            ["bus", "pci", "devices", a, "mdev_supported_types"] => {
                let d = self.device(a)?;
                if d.mdev_types.is_empty() {
                    return Err(os(errno::ENOENT));
                }
                d.mdev_types.iter().map(|t| t.id.clone()).collect()
            }
            [
                "bus",
                "pci",
                "devices",
                a,
                "mdev_supported_types",
                t,
                "devices",
            ] => {
                let d = self.device(a)?;
                let addr = d.address;
                if !d.mdev_types.iter().any(|x| x.id == *t) {
                    return Err(os(errno::ENOENT));
                }
                self.mdevs
                    .iter()
                    .filter(|(_, m)| m.parent == addr && m.mdev_type == *t)
                    .map(|(u, _)| u.to_string())
                    .collect()
            }
            _ => return Err(os(errno::ENOENT)),
        };
        v.sort();
        Ok(v)
    }

    pub(super) fn read_link(&mut self, p: &[String]) -> io::Result<PathBuf> {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["bus", "pci", "devices", a, link] => {
                let addr = self.device(a)?.address;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                match *link {
                    "driver" => {
                        if d.probe_pending > 0 {
                            d.probe_pending -= 1;
                            return Err(os(errno::ENOENT));
                        }
                        let name = d.driver.as_ref().ok_or_else(|| os(errno::ENOENT))?;
                        Ok(PathBuf::from(format!("../../../bus/pci/drivers/{name}")))
                    }
                    "physfn" => d
                        .physfn
                        .map(|pf| PathBuf::from(format!("../{pf}")))
                        .ok_or_else(|| os(errno::ENOENT)),
                    "iommu_group" if self.iommu_on() => {
                        let g = self
                            .devices
                            .get(&addr)
                            .and_then(|d| d.iommu_group)
                            .ok_or_else(|| os(errno::ENOENT))?;
                        Ok(PathBuf::from(format!("../../../kernel/iommu_groups/{g}")))
                    }
                    l if l.starts_with("virtfn") => {
                        let k: u16 = l["virtfn".len()..].parse().map_err(|_| os(errno::ENOENT))?;
                        let d = self.devices.get(&addr).ok_or_else(|| os(errno::ENOENT))?;
                        let s = d.sriov.as_ref().ok_or_else(|| os(errno::ENOENT))?;
                        if k >= d.num_vfs {
                            return Err(os(errno::ENOENT));
                        }
                        let vf = vf_address(addr, s, k).ok_or_else(|| os(errno::ENOENT))?;
                        Ok(PathBuf::from(format!("../{vf}")))
                    }
                    _ => Err(os(errno::ENOENT)),
                }
            }
            ["bus", "mdev", "devices", u, "mdev_type"] => {
                let u: MdevUuid = u.parse().map_err(|_| os(errno::ENOENT))?;
                let m = self.mdevs.get(&u).ok_or_else(|| os(errno::ENOENT))?;
                Ok(PathBuf::from(format!(
                    "../../../devices/pci0000:00/{}/mdev_supported_types/{}",
                    m.parent, m.mdev_type
                )))
            }
            ["bus", "mdev", "devices", u] => {
                let u: MdevUuid = u.parse().map_err(|_| os(errno::ENOENT))?;
                let m = self.mdevs.get(&u).ok_or_else(|| os(errno::ENOENT))?;
                Ok(PathBuf::from(format!(
                    "../../../devices/pci0000:00/{}/{u}",
                    m.parent
                )))
            }
            _ => Err(os(errno::ENOENT)),
        }
    }

    /// `echo ID > nvidia/current_vgpu_type` with ID > 0: the driver's rules for the physical
    /// GPU (what `creatable_vgpu_types` offers), at the GPU instance and placement written
    /// before, if any.
    fn set_vendor_type(&mut self, addr: PciAddress, id: u32) -> io::Result<()> {
        let d = self.devices.get(&addr).ok_or_else(|| os(errno::ENOENT))?;
        if d.current_vgpu != 0 {
            return Err(os(errno::EBUSY));
        }
        let want = Want {
            gpu_instance: d.want_gpu_instance,
            placement: d.want_placement,
        };
        let Some(ty) = d.vgpu_types.iter().find(|t| t.id == id).cloned() else {
            return Err(os(errno::EINVAL));
        };
        let fit = self
            .vgpu_fits(self.physical(addr), &ty, want)
            .map_err(|_| os(errno::EINVAL))?;
        let d = self
            .devices
            .get_mut(&addr)
            .ok_or_else(|| os(errno::ENOENT))?;
        d.current_vgpu = id;
        d.gpu_instance = fit.gpu_instance;
        d.placement = fit.placement;
        Ok(())
    }

    pub(super) fn iommu_on(&self) -> bool {
        self.iommu
    }

    pub(super) fn write(&mut self, p: &[String], value: &str) -> io::Result<()> {
        if !self.root {
            return Err(os(errno::EACCES));
        }
        let joined = p.join("/");
        if let Some(i) = self
            .faults
            .iter()
            .position(|(s, _, _)| joined.ends_with(s.as_str()))
        {
            if self.faults[i].2 == 0 {
                let (_, e, _) = self.faults.remove(i);
                return Err(os(e));
            }
            self.faults[i].2 -= 1;
        }
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        let v = value.trim_end_matches('\n');
        match p.as_slice() {
            ["bus", "pci", "devices", a, "sriov_numvfs"] => {
                let addr = self.device(a)?.address;
                self.set_num_vfs(addr, value)
            }
            ["bus", "pci", "devices", a, "sriov_drivers_autoprobe"] => {
                let addr = self.device(a)?.address;
                let on = match v {
                    "0" => false,
                    "1" => true,
                    _ => return Err(os(errno::EINVAL)),
                };
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                if d.sriov.is_none() {
                    return Err(os(errno::ENOENT));
                }
                d.autoprobe = on;
                Ok(())
            }
            ["bus", "pci", "devices", a, "driver_override"] => {
                let addr = self.device(a)?.address;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                d.driver_override = (!v.is_empty()).then(|| v.to_owned());
                Ok(())
            }
            [
                "bus",
                "pci",
                "devices",
                a,
                "nvidia",
                attr @ ("gpu_instance_id" | "placement_id"),
            ] => {
                let addr = self.device(a)?.address;
                let t = v.trim_end_matches('\n');
                let value: Option<u32> = if t == "-1" {
                    None
                } else {
                    Some(t.parse().map_err(|_| os(errno::EINVAL))?)
                };
                let p = self.physical(addr);
                let gi_exists = |id: u32| {
                    self.devices
                        .get(&p)
                        .and_then(|g| g.mig.as_ref())
                        .is_some_and(|gis| gis.iter().any(|g| g.id == id))
                };
                if *attr == "gpu_instance_id" && value.is_some_and(|id| !gi_exists(id)) {
                    return Err(os(errno::EINVAL));
                }
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                if d.vgpu_types.is_empty() {
                    return Err(os(errno::ENOENT));
                }
                if d.current_vgpu != 0 {
                    return Err(os(errno::EBUSY));
                }
                if *attr == "gpu_instance_id" {
                    d.want_gpu_instance = value;
                } else {
                    d.want_placement = value;
                }
                Ok(())
            }
            ["bus", "pci", "devices", a, "nvidia", "current_vgpu_type"] => {
                let addr = self.device(a)?.address;
                let id: u32 = v
                    .trim_end_matches('\n')
                    .parse()
                    .map_err(|_| os(errno::EINVAL))?;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                if d.vgpu_types.is_empty() {
                    return Err(os(errno::ENOENT));
                }
                if id == 0 {
                    if self.open.contains(&format!("bus/pci/devices/{addr}")) {
                        return Err(os(errno::EBUSY));
                    }
                    let d = self
                        .devices
                        .get_mut(&addr)
                        .ok_or_else(|| os(errno::ENOENT))?;
                    d.current_vgpu = 0;
                    d.gpu_instance = None;
                    d.placement = None;
                    d.want_gpu_instance = None;
                    d.want_placement = None;
                    Ok(())
                } else {
                    self.set_vendor_type(addr, id)
                }
            }
            [
                "bus",
                "pci",
                "devices",
                a,
                "mdev_supported_types",
                t,
                "create",
            ] => {
                let addr = self.device(a)?.address;
                let u: MdevUuid = v.parse().map_err(|_| os(errno::EINVAL))?;
                let ty = self
                    .devices
                    .get(&addr)
                    .and_then(|d| d.mdev_types.iter().find(|x| x.id == *t))
                    .ok_or_else(|| os(errno::ENOENT))?;
                if self.mdevs.contains_key(&u) {
                    return Err(os(errno::EEXIST));
                }
                if self.mdev_available(addr, ty) == 0 {
                    return Err(os(errno::EINVAL));
                }
                let fit = match &ty.rules {
                    Some(r) => self
                        .vgpu_fits(self.physical(addr), r, Want::default())
                        .map_err(|_| os(errno::EINVAL))?,
                    None => Fit::default(),
                };
                self.mdevs.insert(
                    u,
                    SimMdev {
                        parent: addr,
                        mdev_type: (*t).to_owned(),
                        gpu_instance: fit.gpu_instance,
                        placement: fit.placement,
                    },
                );
                Ok(())
            }
            ["bus", "mdev", "devices", u, "remove"] => {
                let u: MdevUuid = u.parse().map_err(|_| os(errno::ENOENT))?;
                if v.trim_end_matches('\n') != "1" {
                    return Err(os(errno::EINVAL));
                }
                if self.open.contains(&format!("bus/mdev/devices/{u}")) {
                    return Err(os(errno::EBUSY));
                }
                self.mdevs
                    .remove(&u)
                    .map(|_| ())
                    .ok_or_else(|| os(errno::ENOENT))
            }
            ["bus", "pci", "drivers", drv, "unbind"] => {
                let addr: PciAddress = v.parse().map_err(|_| os(errno::ENODEV))?;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENODEV))?;
                if d.driver.as_deref() != Some(*drv) {
                    return Err(os(errno::ENODEV));
                }
                d.driver = None;
                Ok(())
            }
            ["bus", "pci", "drivers", drv, "bind"] => {
                let addr: PciAddress = v.parse().map_err(|_| os(errno::ENODEV))?;
                let driver = self
                    .drivers
                    .get(*drv)
                    .ok_or_else(|| os(errno::ENOENT))?
                    .clone();
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENODEV))?;
                if d.driver.is_some() {
                    return Err(os(errno::EBUSY));
                }
                let allowed = d
                    .driver_override
                    .as_deref()
                    .map_or_else(|| driver.matches(d.vendor, d.device), |o| o == driver.name);
                if !allowed || (driver.probe_fails && d.physfn.is_some()) {
                    return Err(os(errno::ENODEV));
                }
                d.driver = Some(driver.name);
                Ok(())
            }
            ["bus", "pci", "drivers_probe"] => {
                let addr: PciAddress = v.parse().map_err(|_| os(errno::EINVAL))?;
                if !self.devices.contains_key(&addr) {
                    return Err(os(errno::ENODEV));
                }
                self.probe(addr);
                Ok(())
            }
            _ => Err(os(errno::EACCES)),
        }
        .map(|()| {
            self.writes
                .push((PathBuf::from(p.join("/")), value.to_owned()));
        })
    }

    pub(super) fn exists(&self, p: &[String]) -> bool {
        let q: Vec<&str> = p.iter().map(String::as_str).collect();
        match q.as_slice() {
            ["sys"] | [] => true,
            ["bus", "pci", "devices", a] => self.device(a).is_ok(),
            ["bus", "pci", "drivers", d] => self.drivers.contains_key(*d),
            ["class", "mdev_bus"] => true,
            ["bus", "mdev", "devices", u] => u
                .parse::<MdevUuid>()
                .is_ok_and(|u| self.mdevs.contains_key(&u)),
            ["bus", "pci", "devices", a, "nvidia"] => {
                self.device(a).is_ok_and(|d| !d.vgpu_types.is_empty())
            }
            ["bus", "pci", "devices", a, "mdev_supported_types"] => {
                self.device(a).is_ok_and(|d| !d.mdev_types.is_empty())
            }
            _ => false,
        }
    }
}

impl SysfsIo for SimulatedSysfs {
    fn read(&self, path: &Path) -> io::Result<String> {
        let p = parts(path)?;
        self.lock().read(&p)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        let p = parts(path)?;
        self.lock().write(&p, value)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let p = parts(path)?;
        self.lock().read_link(&p)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let p = parts(path)?;
        self.lock().read_dir(&p)
    }

    fn vfio_holders(&self, device: &Path) -> io::Result<Vec<u32>> {
        let p = parts(device)?.join("/");
        // The simulated VM's process id.
        Ok(if self.lock().open.contains(&p) {
            vec![4242]
        } else {
            Vec::new()
        })
    }

    fn exists(&self, path: &Path) -> bool {
        parts(path).is_ok_and(|p| {
            let mut s = self.lock();
            s.exists(&p) || s.read(&p).is_ok() || s.read_dir(&p).is_ok()
        })
    }
}

fn parts(path: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            _ => return Err(os(errno::ENOENT)),
        }
    }
    Ok(out)
}
