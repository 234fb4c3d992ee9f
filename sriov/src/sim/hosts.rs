//! Ready-made hosts: the family's one GPU address layout, a DGX-like A100 host under the mdev
//! framework and an HGX-like H100 host under NVIDIA's vendor-specific VFIO framework, with
//! NVIDIA's vGPU types.

use super::*;

/// An A100-SXM4-40GB's memory as the vGPU manager divides it.
const A100_40GB_MIB: u64 = 40 * 1024;

/// The A100-40GB's C-series vGPU types (NVIDIA's vGPU user guide, "A100 PCIe 40GB and
/// A100 HGX 40GB" tables): time-sliced `A100-NC` with N GB of framebuffer, at most 40/N on a
/// GPU, and MIG-backed `A100-G-NC` on a `Gg.Ngb` GPU instance, as many as the GPU has of those.
/// The type IDs are the simulator's own (a driver numbers them per release).
#[must_use]
pub fn a100_40gb_vgpu_types() -> Vec<SimVgpuType> {
    let gib = |n: u64| n * 1024;
    let mut out: Vec<SimVgpuType> = [
        (697, 4u64),
        (698, 5),
        (699, 8),
        (700, 10),
        (701, 20),
        (702, 40),
    ]
    .iter()
    .map(|&(id, gb)| {
        let max = u32::try_from(40 / gb).unwrap_or(1);
        SimVgpuType::time_sliced(id, &format!("NVIDIA A100-{gb}C"), gib(gb), max)
    })
    .collect();
    for (id, g, gb, max) in [
        (703, 1u8, 5u64, 7u32),
        (704, 2, 10, 3),
        (705, 3, 20, 2),
        (706, 4, 20, 1),
        (707, 7, 40, 1),
    ] {
        out.push(SimVgpuType::mig_backed(
            id,
            &format!("NVIDIA A100-{g}-{gb}C"),
            gib(gb),
            max,
            &format!("{g}g.{gb}gb"),
        ));
    }
    out
}

/// An H100-SXM5-80GB's memory as the vGPU manager divides it.
const H100_80GB_MIB: u64 = 80 * 1024;

/// The H100-SXM5-80GB's C-series vGPU types (NVIDIA's vGPU user guide, "H100 SXM5 80GB"
/// tables): time-sliced `H100XM-NC` with N GB of framebuffer, at most 80/N on a GPU, and
/// MIG-backed `H100XM-G-NC` on a `Gg.Ngb` GPU instance. The type IDs are the simulator's own.
#[must_use]
pub fn h100_80gb_vgpu_types() -> Vec<SimVgpuType> {
    let gib = |n: u64| n * 1024;
    let mut out: Vec<SimVgpuType> = [
        (1001, 4u64),
        (1002, 5),
        (1003, 8),
        (1004, 10),
        (1005, 16),
        (1006, 20),
        (1007, 40),
        (1008, 80),
    ]
    .iter()
    .map(|&(id, gb)| {
        let max = u32::try_from(80 / gb).unwrap_or(1);
        SimVgpuType::time_sliced(id, &format!("NVIDIA H100XM-{gb}C"), gib(gb), max)
    })
    .collect();
    for (id, g, gb, max) in [
        (1011, 1u8, 10u64, 7u32),
        (1012, 1, 20, 4),
        (1013, 2, 20, 3),
        (1014, 3, 40, 2),
        (1015, 4, 40, 1),
        (1016, 7, 80, 1),
    ] {
        out.push(SimVgpuType::mig_backed(
            id,
            &format!("NVIDIA H100XM-{g}-{gb}C"),
            gib(gb),
            max,
            &format!("{g}g.{gb}gb"),
        ));
    }
    out
}

/// The PCI buses of the eight GPUs of a DGX A100, in NVML's index order.
const DGX_GPU_BUSES: [u8; 8] = [0x07, 0x0f, 0x47, 0x4e, 0x87, 0x90, 0xb7, 0xbd];

/// The most GPUs a simulated host lays out: the DGX's eight, then 64 a PCI domain.
pub const MAX_SIMULATED_GPUS: usize = 8 + 64 * 0xffff;

/// The address of GPU `index` on a simulated host, the same in every simulator of the family:
/// the first eight at the DGX A100's buses in domain 0, the rest at device 0 of buses
/// 0xc0-0xff, 64 to a domain, from domain 1. Distinct and valid for every index below
/// [`MAX_SIMULATED_GPUS`]; `None` past it.
///
/// ```
/// use gpupart_sriov::sim::gpu_address;
/// assert_eq!(gpu_address(0).unwrap().to_string(), "0000:07:00.0");
/// assert_eq!(gpu_address(8).unwrap().to_string(), "0001:c0:00.0");
/// assert_ne!(gpu_address(11), gpu_address(12));
/// ```
#[must_use]
pub fn gpu_address(index: usize) -> Option<PciAddress> {
    if let Some(&bus) = DGX_GPU_BUSES.get(index) {
        return PciAddress::new(0, bus, 0, 0).ok();
    }
    let k = index.checked_sub(DGX_GPU_BUSES.len())?;
    let domain = u32::try_from(k / 64 + 1).ok().filter(|&d| d <= 0xffff)?;
    let bus = 0xc0 + u8::try_from(k % 64).ok()?;
    PciAddress::new(domain, bus, 0, 0).ok()
}

/// The drivers every ready-made host has: `nvidia` (with `sriov_configure`), `vfio-pci`,
/// `nvme`.
fn with_drivers(sim: SimulatedSysfs) -> SimulatedSysfs {
    sim.with_driver(
        SimDriver::new("nvidia")
            .sriov_configure()
            .ids(&[(0x10de, 0xffff)]),
    )
    .with_driver(SimDriver::new("vfio-pci"))
    .with_driver(
        SimDriver::new("nvme")
            .sriov_configure()
            .ids(&[(0x144d, 0xffff)]),
    )
}

/// What differs between the ready-made GPU hosts.
struct Board {
    device: u16,
    subsystem: u16,
    memory_mib: u64,
    sriov: SimSriov,
}

fn host(gpus: u16, board: &Board) -> SimulatedSysfs {
    let mut sim = with_drivers(SimulatedSysfs::new());
    for (group, i) in (10u32..).zip(0..gpus) {
        // Every u16 count is below MAX_SIMULATED_GPUS.
        let Some(addr) = gpu_address(usize::from(i)) else {
            break;
        };
        let node = u32::from(addr.bus() >= 0x80);
        let cpus = if node == 0 {
            "0-63,128-191"
        } else {
            "64-127,192-255"
        };
        sim = sim.with_device(
            SimDevice::new(addr, 0x10de, board.device, 0x030200)
                .subsystem(0x10de, board.subsystem)
                .numa(Some(node), cpus)
                .iommu_group(group)
                .driver("nvidia")
                .gpu_memory_mib(board.memory_mib)
                .sriov(board.sriov.clone()),
        );
    }
    if let Ok(nvme) = PciAddress::new(0, 0x01, 0, 0) {
        sim = sim.with_device(
            SimDevice::new(nvme, 0x144d, 0xa80a, 0x010802)
                .numa(Some(0), "0-63,128-191")
                .iommu_group(1)
                .driver("nvme"),
        );
    }
    sim
}

impl SimulatedSysfs {
    /// A host with `gpus` NVIDIA A100-SXM4-40GB physical functions under the mdev framework,
    /// as the seed's A100 hosts are (and every Ampere host): 16 VFs each, driver `nvidia`
    /// with `sriov_configure`; each VF is an mdev parent offering the A100-40GB's types
    /// ([`a100_40gb_vgpu_types`], directories `nvidia-<id>`, one vGPU per VF); `vfio-pci`
    /// and an NVMe disk, over two NUMA nodes. The examples' default host.
    #[must_use]
    pub fn gpu_host(gpus: u16) -> Self {
        let types = a100_40gb_vgpu_types()
            .into_iter()
            .map(|t| SimMdevType::new(&format!("nvidia-{}", t.id()), t.name(), 1).vgpu(t))
            .collect();
        host(
            gpus,
            &Board {
                device: 0x20b0,
                subsystem: 0x134f,
                memory_mib: A100_40GB_MIB,
                sriov: SimSriov::new(16, 4, 1, 0x20b0).vf_mdev_types(types),
            },
        )
    }

    /// A host with `gpus` NVIDIA H100-SXM5-80GB physical functions under NVIDIA's
    /// vendor-specific VFIO framework (vGPU 17+ on Linux 6.8+: no mdev bus): 32 VFs each,
    /// each VF offering the H100's types ([`h100_80gb_vgpu_types`]) through
    /// `nvidia/creatable_vgpu_types` and `nvidia/current_vgpu_type`.
    #[must_use]
    pub fn h100_host(gpus: u16) -> Self {
        host(
            gpus,
            &Board {
                device: 0x2330,
                subsystem: 0x16c1,
                memory_mib: H100_80GB_MIB,
                sriov: SimSriov::new(32, 4, 1, 0x2330).vf_vgpu_types(h100_80gb_vgpu_types()),
            },
        )
    }
}
