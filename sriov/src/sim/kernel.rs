//! The kernel's rules: `sriov_numvfs_store`'s checks and errnos, VF creation and removal,
//! driver probing.

use super::*;

impl State {
    pub(super) fn device(&self, a: &str) -> io::Result<&SimDevice> {
        let addr: PciAddress = a.parse().map_err(|_| os(errno::ENOENT))?;
        self.devices.get(&addr).ok_or_else(|| os(errno::ENOENT))
    }

    pub(super) fn probe(&mut self, addr: PciAddress) {
        let delay = self.probe_delay;
        let Some(dev) = self.devices.get(&addr) else {
            return;
        };
        if dev.driver.is_some() {
            return;
        }
        let chosen = match &dev.driver_override {
            Some(name) => self.drivers.get(name),
            None => self
                .drivers
                .values()
                .find(|d| d.matches(dev.vendor, dev.device)),
        };
        let is_vf = dev.physfn.is_some();
        let Some(driver) = chosen
            .filter(|d| !(d.probe_fails && is_vf))
            .map(|d| d.name.clone())
        else {
            return;
        };
        if let Some(dev) = self.devices.get_mut(&addr) {
            dev.driver = Some(driver);
            dev.probe_pending = delay;
        }
    }

    pub(super) fn set_num_vfs(&mut self, pf: PciAddress, value: &str) -> io::Result<()> {
        // kstrtou16(buf, 0, ...): decimal, 0x hex or 0 octal; overflow is ERANGE.
        let t = value.trim_end_matches('\n');
        let parsed = if let Some(h) = t.strip_prefix("0x") {
            u64::from_str_radix(h, 16)
        } else {
            t.parse::<u64>()
        };
        let n = parsed.map_err(|_| os(errno::EINVAL))?;
        let n = u16::try_from(n).map_err(|_| os(errno::ERANGE))?;
        let dev = self.devices.get(&pf).ok_or_else(|| os(errno::ENOENT))?;
        let sriov = dev.sriov.clone().ok_or_else(|| os(errno::ENOENT))?;
        if n > sriov.total_vfs {
            return Err(os(errno::ERANGE));
        }
        if n == dev.num_vfs {
            return Ok(());
        }
        let driver = dev
            .driver
            .as_ref()
            .and_then(|d| self.drivers.get(d))
            .ok_or_else(|| os(errno::ENOENT))?;
        if !driver.sriov_configure {
            return Err(os(errno::ENOENT));
        }
        if n == 0 {
            let old = dev.num_vfs;
            // NVIDIA's sriov_configure refuses to remove VFs that carry vGPUs.
            let carries_vgpu = (0..old)
                .filter_map(|k| vf_address(pf, &sriov, k))
                .any(|vf| {
                    self.devices.get(&vf).is_some_and(|d| d.current_vgpu != 0)
                        || self.mdevs.values().any(|m| m.parent == vf)
                });
            if carries_vgpu {
                return Err(os(errno::EBUSY));
            }
            for k in 0..old {
                if let Some(vf) = vf_address(pf, &sriov, k) {
                    self.devices.remove(&vf);
                }
            }
            self.mdevs
                .retain(|_, m| self.devices.contains_key(&m.parent));
            if let Some(d) = self.devices.get_mut(&pf) {
                d.num_vfs = 0;
            }
            return Ok(());
        }
        if dev.num_vfs != 0 {
            return Err(os(errno::EBUSY));
        }
        if n > sriov.mmio_vfs {
            return Err(os(errno::ENOMEM));
        }
        let enabled = sriov.driver_limit.map_or(n, |l| n.min(l));
        let autoprobe = dev.autoprobe;
        let (numa, cpus, group) = (dev.numa_node, dev.cpulist.clone(), dev.iommu_group);
        let next_group = self
            .devices
            .values()
            .filter_map(|d| d.iommu_group)
            .max()
            .unwrap_or(0)
            + 1;
        let mut vfs = Vec::new();
        for k in 0..enabled {
            let vf = vf_address(pf, &sriov, k).ok_or_else(|| os(errno::ENOMEM))?;
            let mut d =
                SimDevice::new(vf, dev.vendor, sriov.vf_device, dev.class).numa(numa, &cpus);
            d.subsystem = dev.subsystem;
            d.physfn = Some(pf);
            d.iommu_group = group.map(|_| next_group + u32::from(k));
            d.vgpu_types = sriov.vf_vgpu_types.clone();
            d.mdev_types = sriov.vf_mdev_types.clone();
            vfs.push(d);
        }
        for d in vfs {
            let a = d.address;
            self.devices.insert(a, d);
            if autoprobe {
                self.probe(a);
            }
        }
        if let Some(d) = self.devices.get_mut(&pf) {
            d.num_vfs = enabled;
        }
        Ok(())
    }
}

pub(super) fn vf_address(pf: PciAddress, s: &SimSriov, k: u16) -> Option<PciAddress> {
    let rid = (u32::from(pf.bus()) << 8) | (u32::from(pf.device()) << 3) | u32::from(pf.function());
    let vf = rid + u32::from(s.offset) + u32::from(k) * u32::from(s.stride);
    let bus = u8::try_from(vf >> 8).ok()?;
    let device = u8::try_from((vf >> 3) & 0x1f).ok()?;
    let function = u8::try_from(vf & 7).ok()?;
    PciAddress::new(pf.domain(), bus, device, function).ok()
}
