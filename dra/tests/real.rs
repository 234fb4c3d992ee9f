#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Slices printed on real hardware (`tests/fixtures/README.md`) deserialize with k8s-openapi
//! and hold every API limit; the allocator model can allocate the full GPU.

use gpupart_dra::allocator::Allocator;
use gpupart_dra::slices::validate;
use k8s_openapi::api::resource::v1::ResourceSlice;

#[test]
fn slices_from_a_real_h100_read_back() {
    let text = include_str!("fixtures/lent-h100-mig-off.json");
    let slices: Vec<ResourceSlice> = serde_json::from_str(text).unwrap();
    validate(&slices).unwrap();
    assert_eq!(slices.len(), 1);
    let mut alloc = Allocator::new(&slices);
    assert_eq!(
        alloc.allocate(&|d| d.name == "gpu-0").as_deref(),
        Some("gpu-0")
    );
    assert!(alloc.allocate(&|_| true).is_none());
}
