//! Typed use of the catalog: each model is a type, so a profile of one model cannot be put into
//! another model's layout — the compiler refuses it.
//!
//! ```
//! use gpupart_profiles::typed::{a100_40gb, Layout};
//!
//! let mut gpu = Layout::<a100_40gb::Model>::new();
//! gpu.place(a100_40gb::P3G_20GB, 4)?;
//! gpu.place(a100_40gb::P2G_10GB, 0)?;
//! assert!(gpu.place(a100_40gb::P4G_20GB, 0).is_err()); // slices 0..4 are taken
//! # Ok::<(), gpupart_profiles::Error>(())
//! ```
//!
//! Mixing models does not compile:
//! ```compile_fail,E0308
//! use gpupart_profiles::typed::{a100_40gb, h100_sxm_80gb, Layout};
//!
//! let mut gpu = Layout::<h100_sxm_80gb::Model>::new();
//! gpu.place(a100_40gb::P1G_5GB, 0); // an A100 profile in an H100 layout
//! ```
//!
//! Naming a profile the model does not have is a compile error too:
//! ```compile_fail,E0080
//! use gpupart_profiles::typed::{h100_sxm_80gb, TypedProfile};
//! const P: TypedProfile<h100_sxm_80gb::Model> = TypedProfile::named("1g.5gb");
//! ```

use core::fmt;
use core::marker::PhantomData;

use crate::model::{GpuInstanceProfile, GpuModel, Placement};
use crate::{Error, Occupancy, ProfileName};

mod sealed {
    pub trait Sealed {}
}

/// A catalog model as a type.
pub trait MigModel: sealed::Sealed + Copy + fmt::Debug + Send + Sync + 'static {
    /// The model's catalog entry.
    const MODEL: &'static GpuModel;
}

/// A profile of model `M`.
pub struct TypedProfile<M: MigModel> {
    profile: &'static GpuInstanceProfile,
    model: PhantomData<M>,
}

impl<M: MigModel> Clone for TypedProfile<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: MigModel> Copy for TypedProfile<M> {}

impl<M: MigModel> fmt::Debug for TypedProfile<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.profile.name, M::MODEL.name)
    }
}

impl<M: MigModel> PartialEq for TypedProfile<M> {
    fn eq(&self, other: &Self) -> bool {
        self.profile == other.profile
    }
}
impl<M: MigModel> Eq for TypedProfile<M> {}

impl<M: MigModel> TypedProfile<M> {
    /// The profile of model `M` with this name; a name the model lacks fails the build when
    /// used in a `const`.
    ///
    /// # Panics
    /// When the model has no such profile (at compile time in a `const`).
    #[must_use]
    pub const fn named(name: &'static str) -> Self {
        let wanted = ProfileName::from_static(name);
        let profiles = M::MODEL.profiles;
        let mut i = 0;
        while i < profiles.len() {
            if profiles[i].name.const_eq(&wanted) {
                return TypedProfile {
                    profile: &profiles[i],
                    model: PhantomData,
                };
            }
            i += 1;
        }
        panic!("the model has no profile of that name")
    }

    /// Looks a profile up at run time.
    ///
    /// # Errors
    /// [`Error::UnknownProfile`] when model `M` has no such profile.
    pub fn find(name: &ProfileName) -> Result<Self, Error> {
        M::MODEL.profile_by_name(name).map(|profile| TypedProfile {
            profile,
            model: PhantomData,
        })
    }

    /// The catalog entry.
    #[must_use]
    pub const fn profile(&self) -> &'static GpuInstanceProfile {
        self.profile
    }
}

/// The GPU instances placed on one GPU of model `M`: each at a legal placement, none
/// overlapping.
pub struct Layout<M: MigModel> {
    instances: Vec<(TypedProfile<M>, Placement)>,
    occupancy: Occupancy,
}

impl<M: MigModel> fmt::Debug for Layout<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layout")
            .field("model", &M::MODEL.name)
            .field("instances", &self.instances)
            .finish()
    }
}

impl<M: MigModel> Default for Layout<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: MigModel> Layout<M> {
    /// An empty GPU.
    #[must_use]
    pub fn new() -> Self {
        Layout {
            instances: Vec::new(),
            occupancy: Occupancy::new(M::MODEL),
        }
    }

    /// Places `profile` at memory slice `start`, by the one rule of [`Occupancy::add`].
    ///
    /// # Errors
    /// [`Error::IllegalPlacement`] when `start` is not a legal placement of the profile, the
    /// slices are taken, the compute slices or the media extensions are spent, or the
    /// profile's instance limit is reached. The layout is unchanged.
    pub fn place(&mut self, profile: TypedProfile<M>, start: u8) -> Result<Placement, Error> {
        let placement = self.occupancy.add(profile.profile, start)?;
        self.instances.push((profile, placement));
        Ok(placement)
    }

    /// The instances placed, in placing order.
    #[must_use]
    pub fn instances(&self) -> &[(TypedProfile<M>, Placement)] {
        &self.instances
    }

    /// Occupied memory slices as a bit mask.
    #[must_use]
    pub fn occupied_mask(&self) -> u32 {
        self.occupancy.memory_mask()
    }

    /// What the layout takes, as the solvers see it.
    #[must_use]
    pub fn occupancy(&self) -> &Occupancy {
        &self.occupancy
    }
}

macro_rules! typed_models {
    ($( $(#[$doc:meta])* $module:ident => $model:path { $($konst:ident = $name:literal),* $(,)? } )*) => {$(
        $(#[$doc])*
        pub mod $module {
            use super::MigModel;
            use crate::model::GpuModel;

            /// The model as a type.
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub struct Model;
            impl super::sealed::Sealed for Model {}
            impl MigModel for Model {
                const MODEL: &'static GpuModel = &$model;
            }
            $(
                #[doc = concat!("`", $name, "`.")]
                pub const $konst: super::TypedProfile<Model> = super::TypedProfile::named($name);
            )*
        }
    )*};
}

typed_models! {
    /// A100 40GB.
    a100_40gb => crate::catalog::A100_40GB {
        P1G_5GB = "1g.5gb", P1G_5GB_ME = "1g.5gb+me", P1G_10GB = "1g.10gb", P2G_10GB = "2g.10gb",
        P3G_20GB = "3g.20gb", P4G_20GB = "4g.20gb", P7G_40GB = "7g.40gb",
    }
    /// A100 80GB.
    a100_80gb => crate::catalog::A100_80GB {
        P1G_10GB = "1g.10gb", P1G_10GB_ME = "1g.10gb+me", P1G_20GB = "1g.20gb",
        P2G_20GB = "2g.20gb", P3G_40GB = "3g.40gb", P4G_40GB = "4g.40gb", P7G_80GB = "7g.80gb",
    }
    /// A30 24GB.
    a30_24gb => crate::catalog::A30_24GB {
        P1G_6GB = "1g.6gb", P1G_6GB_ME = "1g.6gb+me", P2G_12GB = "2g.12gb",
        P2G_12GB_ME = "2g.12gb+me", P4G_24GB = "4g.24gb",
    }
    /// H100 SXM5 80GB.
    h100_sxm_80gb => crate::catalog::H100_SXM_80GB {
        P1G_10GB = "1g.10gb", P1G_10GB_ME = "1g.10gb+me", P1G_20GB = "1g.20gb",
        P2G_20GB = "2g.20gb", P3G_40GB = "3g.40gb", P4G_40GB = "4g.40gb", P7G_80GB = "7g.80gb",
    }
    /// H100 PCIe 80GB.
    h100_pcie_80gb => crate::catalog::H100_PCIE_80GB {}
    /// H100 NVL 94GB.
    h100_nvl_94gb => crate::catalog::H100_NVL_94GB {}
    /// H100 96GB.
    h100_96gb => crate::catalog::H100_96GB {}
    /// GH200 96GB.
    gh200_96gb => crate::catalog::GH200_96GB {}
    /// GH200 144GB.
    gh200_144gb => crate::catalog::GH200_144GB {}
    /// H20 96GB.
    h20_96gb => crate::catalog::H20_96GB {}
    /// H200 SXM 141GB.
    h200_141gb => crate::catalog::H200_141GB {
        P1G_18GB = "1g.18gb", P1G_18GB_ME = "1g.18gb+me", P1G_35GB = "1g.35gb",
        P2G_35GB = "2g.35gb", P3G_71GB = "3g.71gb", P4G_71GB = "4g.71gb", P7G_141GB = "7g.141gb",
    }
    /// H200 NVL 141GB.
    h200_nvl_141gb => crate::catalog::H200_NVL_141GB {}
    /// B200 180GB.
    b200_180gb => crate::catalog::B200_180GB {}
    /// GB200 186GB.
    gb200_186gb => crate::catalog::GB200_186GB {}
    /// B300 269GB.
    b300_269gb => crate::catalog::B300_269GB {}
    /// GB300 278GB.
    gb300_278gb => crate::catalog::GB300_278GB {}
    /// RTX PRO 6000 Blackwell 96GB.
    rtx_pro_6000 => crate::catalog::RTX_PRO_6000_BLACKWELL {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_enforces_placements_and_limits() {
        use a100_40gb::*;
        let mut gpu = Layout::<Model>::new();
        assert!(gpu.place(P3G_20GB, 2).is_err(), "3g starts only at 0 or 4");
        gpu.place(P1G_5GB_ME, 0).expect("free");
        let before = gpu.occupied_mask();
        let e = gpu.place(P1G_5GB_ME, 1).expect_err("one +me instance");
        assert!(e.to_string().contains("1g.5gb+me"), "{e}");
        assert_eq!(
            gpu.occupied_mask(),
            before,
            "a refused placement changes nothing"
        );
        assert!(gpu.place(P4G_20GB, 0).is_err(), "slice 0 is taken");
        gpu.place(P3G_20GB, 4).expect("free");
        gpu.place(P2G_10GB, 2).expect("free");
        assert_eq!(gpu.instances().len(), 3);
        assert_eq!(gpu.occupied_mask(), 0b1111_1101);
    }

    #[test]
    fn find_at_run_time() {
        let name: ProfileName = "7g.80gb".parse().expect("valid");
        let p = TypedProfile::<h100_sxm_80gb::Model>::find(&name).expect("exists");
        assert_eq!(p, h100_sxm_80gb::P7G_80GB);
        assert!(TypedProfile::<a100_40gb::Model>::find(&name).is_err());
    }
}
