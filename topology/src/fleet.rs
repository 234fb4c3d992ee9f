//! The node → GPU → slice model: GPUs with identity, model, MIG mode, instances and NUMA data.

use std::collections::HashMap;

use gpupart_profiles::{GpuInstanceProfile, GpuModel, ProfileName};
use gpupart_sriov::{CpuList, PciAddress, Sysfs};

use crate::{Error, Occupancy};

/// A GPU instance that exists on a GPU.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Instance {
    /// Its profile.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::gi_profile"))]
    pub profile: &'static GpuInstanceProfile,
    /// Its start memory slice.
    pub start: u8,
    /// Whether it is in use (processes run on it): an in-use instance never moves.
    pub in_use: bool,
}

impl Instance {
    /// An instance of `profile` at `start`.
    #[must_use]
    pub fn new(profile: &'static GpuInstanceProfile, start: u8, in_use: bool) -> Self {
        Instance {
            profile,
            start,
            in_use,
        }
    }
}

/// One GPU of a node.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gpu {
    /// The NVML index.
    pub index: u32,
    /// The UUID (`GPU-…`), where known.
    pub uuid: Option<String>,
    /// The PCI address, where known.
    pub pci: Option<PciAddress>,
    /// The model.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::model"))]
    pub model: &'static GpuModel,
    /// Whether MIG mode is on.
    pub mig_enabled: bool,
    /// The NUMA node, where known.
    pub numa_node: Option<u32>,
    /// The CPUs near the GPU (`local_cpulist`), where known.
    pub local_cpus: Option<CpuList>,
    instances: Vec<Instance>,
    #[cfg_attr(feature = "serde", serde(skip))]
    occupancy: Occupancy,
}

impl Gpu {
    /// GPU `index` of `model`, MIG on, no instances.
    #[must_use]
    pub fn new(index: u32, model: &'static GpuModel) -> Self {
        Gpu {
            index,
            uuid: None,
            pci: None,
            model,
            mig_enabled: true,
            numa_node: None,
            local_cpus: None,
            instances: Vec::new(),
            occupancy: Occupancy::new(model),
        }
    }

    /// Sets the UUID.
    #[must_use]
    pub fn with_uuid(mut self, uuid: &str) -> Self {
        self.uuid = Some(uuid.to_owned());
        self
    }

    /// Sets the PCI address.
    #[must_use]
    pub fn with_pci(mut self, pci: PciAddress) -> Self {
        self.pci = Some(pci);
        self
    }

    /// Sets MIG mode.
    #[must_use]
    pub fn with_mig(mut self, enabled: bool) -> Self {
        self.mig_enabled = enabled;
        self
    }

    /// Sets the NUMA node.
    #[must_use]
    pub fn with_numa_node(mut self, node: u32) -> Self {
        self.numa_node = Some(node);
        self
    }

    /// Reads the NUMA node and local CPUs of the GPU's PCI function from sysfs.
    ///
    /// # Errors
    /// [`Error::NoPciAddress`] when the GPU's address is unknown; [`Error::Sysfs`] when
    /// sysfs cannot be read.
    pub fn read_numa(&mut self, sysfs: &Sysfs) -> Result<(), Error> {
        let pci = self.pci.ok_or(Error::NoPciAddress { gpu: self.index })?;
        let dev = sysfs.device(pci).map_err(Box::new)?;
        self.numa_node = dev.numa_node;
        self.local_cpus = Some(dev.local_cpus);
        Ok(())
    }

    /// Adds an existing instance.
    ///
    /// # Errors
    /// [`Error::MigDisabled`] with MIG off; as [`Occupancy::add`] otherwise. Nothing changes
    /// on error.
    pub fn add_instance(
        &mut self,
        profile: &'static GpuInstanceProfile,
        start: u8,
        in_use: bool,
    ) -> Result<(), Error> {
        if !self.mig_enabled {
            return Err(Error::MigDisabled { gpu: self.index });
        }
        self.occupancy.add(profile, start)?;
        self.instances.push(Instance::new(profile, start, in_use));
        Ok(())
    }

    /// Adds an existing instance by profile name.
    ///
    /// # Errors
    /// [`Error::UnknownProfile`] when the model has no such profile; as
    /// [`Gpu::add_instance`].
    pub fn add(&mut self, profile: &str, start: u8, in_use: bool) -> Result<(), Error> {
        let p = self
            .model
            .profile_by_str(profile)
            .map_err(|_| Error::UnknownProfile {
                model: self.model.name,
                profile: profile.to_owned(),
            })?;
        self.add_instance(p, start, in_use)
    }

    /// Removes the instance at `start`.
    ///
    /// # Errors
    /// [`Error::NoInstance`] when none starts there.
    pub fn remove_instance(&mut self, start: u8) -> Result<Instance, Error> {
        let i = self
            .instances
            .iter()
            .position(|x| x.start == start)
            .ok_or(Error::NoInstance {
                gpu: self.index,
                start,
            })?;
        let removed = self.instances.remove(i);
        self.rebuild();
        Ok(removed)
    }

    /// Marks the instance at `start` in use or free.
    ///
    /// # Errors
    /// [`Error::NoInstance`] when none starts there.
    pub fn set_in_use(&mut self, start: u8, in_use: bool) -> Result<(), Error> {
        let gpu = self.index;
        let x = self
            .instances
            .iter_mut()
            .find(|x| x.start == start)
            .ok_or(Error::NoInstance { gpu, start })?;
        x.in_use = in_use;
        Ok(())
    }

    fn rebuild(&mut self) {
        let mut occ = Occupancy::new(self.model);
        for x in &self.instances {
            // Every instance here was added through Occupancy::add, and removing one cannot
            // make another illegal.
            let _ = occ.add(x.profile, x.start);
        }
        self.occupancy = occ;
    }

    /// The instances, in the order they were added.
    #[must_use]
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// What the instances take.
    #[must_use]
    pub fn occupancy(&self) -> &Occupancy {
        &self.occupancy
    }

    /// What the in-use instances alone take: the room a plan may fill (free instances may
    /// always be destroyed).
    pub(crate) fn in_use_occupancy(&self) -> Occupancy {
        let mut o = Occupancy::new(self.model);
        for x in self.instances.iter().filter(|x| x.in_use) {
            // Part of the GPU's own occupancy, which holds them all: it always fits.
            let _ = o.add(x.profile, x.start);
        }
        o
    }

    /// A one-line slice diagram: one cell per memory slice, `.` free, the profile's compute
    /// size digit for a free instance, `#` for an in-use one; e.g. `[3333|22|1.]`.
    #[must_use]
    pub fn diagram(&self) -> String {
        let n = usize::from(self.model.memory_slices);
        let mut cells = vec!['.'; n];
        let mut bounds = vec![false; n];
        for x in &self.instances {
            let c = if x.in_use {
                '#'
            } else {
                char::from_digit(u32::from(x.profile.compute_slices), 10).unwrap_or('?')
            };
            let end = (usize::from(x.start) + usize::from(x.profile.memory_slices)).min(n);
            for cell in &mut cells[usize::from(x.start)..end] {
                *cell = c;
            }
            if end < n {
                bounds[end] = true;
            }
            if x.start > 0 {
                bounds[usize::from(x.start)] = true;
            }
        }
        let mut s = String::from("[");
        for (i, c) in cells.iter().enumerate() {
            if i > 0 && bounds[i] {
                s.push('|');
            }
            s.push(*c);
        }
        s.push(']');
        s
    }

    /// The model's profile called `name`, if any.
    #[must_use]
    pub fn profile(&self, name: &ProfileName) -> Option<&'static GpuInstanceProfile> {
        self.model.find_profile(name)
    }
}

/// The GPUs of a node (or of a fleet of nodes). A GPU is known by its [`Gpu::index`] (the
/// NVML index on a node) everywhere: in requests, plans, online placement and MIG's desired
/// state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fleet {
    gpus: Vec<Gpu>,
    /// Index → position in `gpus`.
    positions: HashMap<u32, usize>,
}

/// A fleet serializes as its GPUs, in order.
#[cfg(feature = "serde")]
impl serde::Serialize for Fleet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.gpus)
    }
}

impl Fleet {
    /// A fleet of these GPUs, in this order.
    ///
    /// # Errors
    /// [`Error::DuplicateGpu`] when two GPUs have the same index.
    pub fn new(gpus: Vec<Gpu>) -> Result<Self, Error> {
        let mut positions = HashMap::with_capacity(gpus.len());
        for (p, g) in gpus.iter().enumerate() {
            if positions.insert(g.index, p).is_some() {
                return Err(Error::DuplicateGpu { gpu: g.index });
            }
        }
        Ok(Fleet { gpus, positions })
    }

    /// `n` empty GPUs of `model`, MIG on, indices 0..n.
    #[must_use]
    pub fn uniform(model: &'static GpuModel, n: u32) -> Self {
        let gpus: Vec<Gpu> = (0..n).map(|i| Gpu::new(i, model)).collect();
        let positions = (0..n).zip(0..).collect();
        Fleet { gpus, positions }
    }

    /// The GPUs.
    #[must_use]
    pub fn gpus(&self) -> &[Gpu] {
        &self.gpus
    }

    /// The GPU with this index.
    #[must_use]
    pub fn gpu(&self, index: u32) -> Option<&Gpu> {
        self.gpus.get(*self.positions.get(&index)?)
    }

    /// The GPU with this index, mutable.
    pub fn gpu_mut(&mut self, index: u32) -> Option<&mut Gpu> {
        self.gpus.get_mut(*self.positions.get(&index)?)
    }

    /// Where the GPU with this index stands in [`Fleet::gpus`].
    #[must_use]
    pub fn position(&self, index: u32) -> Option<usize> {
        self.positions.get(&index).copied()
    }

    /// The GPU at a position in [`Fleet::gpus`], mutable (the solvers work by position).
    pub(crate) fn gpu_at_mut(&mut self, position: usize) -> Option<&mut Gpu> {
        self.gpus.get_mut(position)
    }

    /// Reads NUMA data of every GPU with a PCI address.
    ///
    /// # Errors
    /// [`Error::Sysfs`] for the first GPU whose sysfs entries cannot be read.
    pub fn read_numa(&mut self, sysfs: &Sysfs) -> Result<(), Error> {
        for g in &mut self.gpus {
            if g.pci.is_some() {
                g.read_numa(sysfs)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpupart_profiles::catalog::A100_40GB;
    use gpupart_sriov::SimulatedSysfs;

    #[test]
    fn instances_diagram_and_numa() {
        let mut g = Gpu::new(0, &A100_40GB).with_pci("0000:87:00.0".parse().unwrap());
        g.add("3g.20gb", 4, true).unwrap();
        g.add("1g.5gb", 0, false).unwrap();
        assert_eq!(g.diagram(), "[1|...|####]");
        assert!(g.add("4g.20gb", 0, false).is_err());
        assert!(matches!(
            g.add("9g.1gb", 0, false),
            Err(Error::UnknownProfile { .. })
        ));
        g.remove_instance(0).unwrap();
        assert!(g.remove_instance(0).is_err());
        g.add("4g.20gb", 0, false).unwrap();
        assert_eq!(g.diagram(), "[4444|####]");
        g.read_numa(&Sysfs::simulated(SimulatedSysfs::gpu_host(8)))
            .unwrap();
        assert_eq!(g.numa_node, Some(1));
        assert_eq!(g.local_cpus.unwrap().to_string(), "64-127,192-255");
        let mut off = Gpu::new(1, &A100_40GB).with_mig(false);
        assert!(matches!(
            off.add("1g.5gb", 0, false),
            Err(Error::MigDisabled { gpu: 1 })
        ));
    }
}
