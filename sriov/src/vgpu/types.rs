//! The manager's identities: where a vGPU lives (its slot), its type, its owner.

use core::fmt;
use core::str::FromStr;

use crate::parse::{self, ValueError};
use crate::{MdevUuid, PciAddress};

/// Where a vGPU lives: a VF under the vendor interface, or an mdev (its parent and UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub enum VgpuSlot {
    /// A VF carrying a vendor-interface vGPU (`nvidia/current_vgpu_type`).
    Vf(PciAddress),
    /// A mediated device.
    Mdev {
        /// Its parent (a VF on an SR-IOV GPU).
        parent: PciAddress,
        /// Its UUID.
        uuid: MdevUuid,
    },
}

impl VgpuSlot {
    /// The PCI function a VM is given or the mdev lives on.
    #[must_use]
    pub fn device(&self) -> PciAddress {
        match *self {
            VgpuSlot::Vf(a) | VgpuSlot::Mdev { parent: a, .. } => a,
        }
    }
}

impl fmt::Display for VgpuSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VgpuSlot::Vf(a) => write!(f, "{a}"),
            VgpuSlot::Mdev { parent, uuid } => write!(f, "{parent}/{uuid}"),
        }
    }
}

impl FromStr for VgpuSlot {
    type Err = ValueError;

    /// `0000:07:00.4` (a VF) or `0000:07:00.4/<uuid>` (an mdev).
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let bad = || ValueError {
            value: s.chars().take(80).collect(),
            expected: "a VF address (0000:07:00.4) or PARENT/UUID for an mdev",
        };
        match s.split_once('/') {
            None => s.parse().map(VgpuSlot::Vf).map_err(|_| bad()),
            Some((p, u)) => Ok(VgpuSlot::Mdev {
                parent: p.parse().map_err(|_| bad())?,
                uuid: u.parse().map_err(|_| bad())?,
            }),
        }
    }
}

/// A vGPU type as its interface names it: the vendor interface's numeric ID (what
/// `current_vgpu_type` takes) or an mdev type directory (`nvidia-471`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub enum VgpuTypeId {
    /// A vendor-interface type ID.
    Vendor(u32),
    /// An mdev type directory name.
    Mdev(String),
}

impl fmt::Display for VgpuTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VgpuTypeId::Vendor(id) => write!(f, "{id}"),
            VgpuTypeId::Mdev(t) => f.write_str(t),
        }
    }
}

impl FromStr for VgpuTypeId {
    type Err = ValueError;

    /// Digits: a vendor ID; otherwise an mdev type directory name.
    fn from_str(s: &str) -> Result<Self, ValueError> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return parse::decimal(s).map(VgpuTypeId::Vendor);
        }
        parse::mdev_type_name(s).map(|t| VgpuTypeId::Mdev(t.to_owned()))
    }
}

/// One vGPU: its GPU (the physical function), where it lives, its type and where on the GPU
/// it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Vgpu {
    /// The physical GPU (its PF).
    pub gpu: PciAddress,
    /// Where it lives.
    pub slot: VgpuSlot,
    /// Its type.
    pub type_id: VgpuTypeId,
    /// The type's name (`NVIDIA A100-3-20C`), where known.
    pub type_name: Option<String>,
    /// The GPU instance a MIG-backed vGPU runs on (`nvidia/gpu_instance_id`); under mdev the
    /// driver chooses it and it is `None` here.
    pub gpu_instance_id: Option<u32>,
    /// Where a time-sliced vendor vGPU sits in the framebuffer (`nvidia/placement_id`).
    pub placement_id: Option<u32>,
}

impl fmt::Display for Vgpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.slot, self.type_id)?;
        if let Some(n) = &self.type_name {
            write!(f, " ({n})")?;
        }
        if let Some(gi) = self.gpu_instance_id {
            write!(f, " on GPU instance {gi}")?;
        }
        if let Some(p) = self.placement_id {
            write!(f, " at placement {p}")?;
        }
        Ok(())
    }
}

/// Who a vGPU is for: a VM's UUID or any name of 1 to 128 ASCII letters, digits, `.`, `_`,
/// `:`, `-`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct Owner(String);

impl Owner {
    /// The owner's name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Owner {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, ValueError> {
        let ok = s.len() <= 128
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(Owner(s.to_owned()))
        } else {
            Err(ValueError {
                value: s.chars().take(80).collect(),
                expected: "an owner of 1 to 128 ASCII letters, digits, '.', '_', ':', '-', starting with a letter or digit (a VM UUID)",
            })
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A GPU instance of a GPU in MIG mode, as the MIG layer reads it through NVML: what a
/// MIG-backed vGPU runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct GpuInstanceRef {
    /// NVML's GPU instance ID.
    pub id: u32,
    /// Its profile (`3g.20gb`).
    pub profile: String,
    /// Its start slice.
    pub start: u8,
}

impl GpuInstanceRef {
    /// GPU instance `id` of `profile` at `start`.
    #[must_use]
    pub fn new(id: u32, profile: &str, start: u8) -> Self {
        GpuInstanceRef {
            id,
            profile: profile.to_owned(),
            start,
        }
    }
}

string_form!(VgpuSlot);
string_form!(VgpuTypeId);
string_form!(Owner);
