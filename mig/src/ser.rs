//! Serializing catalog references by name (behind the `serde` feature): a report names
//! `3g.40gb`, not the whole catalog entry.

use gpupart_profiles::{ComputeInstanceProfile, GpuInstanceProfile, GpuModel};
use serde::Serializer;

/// A GPU instance profile as its name.
pub(crate) fn gi_profile<S: Serializer>(
    p: &&'static GpuInstanceProfile,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.name)
}

/// A compute instance profile as its name.
pub(crate) fn ci_profile<S: Serializer>(
    p: &&'static ComputeInstanceProfile,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.name)
}

/// Compute instances as `[[id, name], …]`.
pub(crate) fn compute_list<S: Serializer>(
    list: &[(u32, &'static ComputeInstanceProfile)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(list.iter().map(|(id, p)| (id, p.name)))
}

/// A model as its catalog name.
pub(crate) fn model<S: Serializer>(m: &Option<&'static GpuModel>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_some(m.name),
        None => s.serialize_none(),
    }
}
