//! Catalog look-ups: by profile name, by NVML profile ID and by PCI device ID, each against a
//! baseline measured in the same run:
//! - by name: parsing into a `ProfileName` then comparing values, against comparing printed
//!   strings (what code that keeps names as strings does);
//! - by PCI device ID and NVML ID: the catalog's linear scans, against a `HashMap` index built
//!   once, to show whether a lazily built index would earn its place.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gpupart::profiles::{GpuInstanceProfile, GpuModel, catalog};

fn by_name(c: &mut Criterion) {
    let mut g = c.benchmark_group("profile_by_name");
    let names = ["1g.5gb", "3g.20gb", "7g.40gb", "1g.5gb+me"];
    let model = &catalog::A100_40GB;
    g.bench_function("typed (parse + compare)", |b| {
        b.iter(|| {
            for n in names {
                black_box(model.profile_by_str(black_box(n)).ok());
            }
        });
    });
    g.bench_function("baseline: compare printed strings", |b| {
        b.iter(|| {
            for n in names {
                black_box(
                    model
                        .profiles
                        .iter()
                        .find(|p| p.name.to_string() == black_box(n)),
                );
            }
        });
    });
    g.finish();
}

fn by_nvml_id(c: &mut Criterion) {
    let mut g = c.benchmark_group("profile_by_nvml_id");
    let model = &catalog::H100_SXM_80GB;
    let index: HashMap<u32, &GpuInstanceProfile> = model
        .profiles
        .iter()
        .filter_map(|p| p.nvml_id.map(|id| (id, p)))
        .collect();
    g.bench_function("catalog (linear)", |b| {
        b.iter(|| {
            for id in [19u32, 15, 9, 0] {
                black_box(model.profile_by_nvml_id(black_box(id)).ok());
            }
        });
    });
    g.bench_function("baseline: HashMap index", |b| {
        b.iter(|| {
            for id in [19u32, 15, 9, 0] {
                black_box(index.get(&black_box(id)));
            }
        });
    });
    g.finish();
}

fn by_pci_device_id(c: &mut Criterion) {
    let mut g = c.benchmark_group("model_by_pci_device_id");
    let ids = [0x20B0_10DEu32, 0x2330_10DE, 0x2BB5_10DE, 0x1234_10DE];
    let index: HashMap<u32, &GpuModel> = catalog::models()
        .iter()
        .flat_map(|m| {
            m.boards
                .iter()
                .map(move |b| (b.pci_device_id.combined(), *m))
        })
        .collect();
    g.bench_function("catalog (linear)", |b| {
        b.iter(|| {
            for id in ids {
                black_box(catalog::model_by_pci_device_id(black_box(id), None).ok());
            }
        });
    });
    g.bench_function("baseline: HashMap index", |b| {
        b.iter(|| {
            for id in ids {
                black_box(index.get(&black_box(id)));
            }
        });
    });
    g.finish();
}

criterion_group!(benches, by_name, by_nvml_id, by_pci_device_id);
criterion_main!(benches);
