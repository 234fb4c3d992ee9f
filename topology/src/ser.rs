//! Serializing catalog references by name (behind the `serde` feature).

use gpupart_profiles::{GpuInstanceProfile, GpuModel};
use serde::Serializer;

/// A GPU instance profile as its name.
pub(crate) fn gi_profile<S: Serializer>(
    p: &&'static GpuInstanceProfile,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.name)
}

/// A model as its catalog name.
pub(crate) fn model<S: Serializer>(m: &&'static GpuModel, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name)
}
