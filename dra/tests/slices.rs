#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Generated slices deserialize with k8s-openapi, hold every API limit (checked at the
//! limits), and a change of occupancy republishes only the slices it touches.

use gpupart_dra::slices::{limits, node_slices, republish, validate};
use gpupart_dra::{NodeInfo, Order, SliceOptions};
use gpupart_mig::apply::{ApplyOptions, DesiredGpu, DesiredInstance, apply};
use gpupart_mig::state::read_all;
use gpupart_mig::{SimGpu, SimulatedNvml};
use gpupart_profiles::catalog;
use k8s_openapi::api::resource::v1::{
    Counter, CounterSet, Device, DeviceAttribute, DeviceCounterConsumption, ResourceSlice,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

fn mig_on(nvml: &SimulatedNvml, n: u32) {
    let opts = ApplyOptions::default().lock_path(None);
    let all: Vec<DesiredGpu> = (0..n)
        .map(|g| DesiredGpu::new(g, true, Vec::new()))
        .collect();
    for g in apply(nvml, &all, &opts).unwrap().resets_needed {
        nvml.reset(g).unwrap();
    }
}

fn node(models: &[&'static gpupart_profiles::GpuModel]) -> SimulatedNvml {
    let nvml = SimulatedNvml::new(
        models
            .iter()
            .map(|m| SimGpu::new(m).mode_needs_reset(false))
            .collect(),
    );
    mig_on(&nvml, u32::try_from(models.len()).unwrap());
    nvml
}

#[test]
fn every_model_every_order_round_trips_through_k8s_openapi_and_holds_the_limits() {
    for m in catalog::MODELS {
        for order in [Order::Gpupart, Order::Nvidia] {
            let nvml = node(&[m; 8]);
            let gpus = read_all(&nvml).unwrap();
            let slices = node_slices(
                &gpus,
                &NodeInfo::versions("580.95.05", "13.0"),
                &[],
                &SliceOptions::new("node-a").order(order),
            )
            .unwrap();
            validate(&slices).unwrap();
            for s in &slices {
                let json = serde_json::to_string(s).unwrap();
                assert!(
                    json.contains("\"apiVersion\":\"resource.k8s.io/v1\""),
                    "{json}"
                );
                let back: ResourceSlice = serde_json::from_str(&json).unwrap();
                assert_eq!(&back, s);
                let yaml = serde_saphyr::to_string(s).unwrap();
                let back: ResourceSlice = serde_saphyr::from_str(&yaml).unwrap();
                assert_eq!(&back, s, "{}", m.name);
                let n = s.spec.devices.as_ref().map_or(0, Vec::len);
                assert!(n <= limits::DEVICES_WITH_COUNTERS);
            }
            let devices: usize = slices
                .iter()
                .map(|s| s.spec.devices.as_ref().map_or(0, Vec::len))
                .sum();
            let expected: usize = 8
                * (1 + m
                    .profiles
                    .iter()
                    .filter(|p| p.nvml_id.is_some())
                    .map(|p| p.placements.len())
                    .sum::<usize>());
            assert_eq!(devices, expected, "{}", m.name);
        }
    }
}

fn counter_slice(sets: usize, counters: usize) -> ResourceSlice {
    let mut s = ResourceSlice::default();
    s.metadata.name = Some("s-0".to_owned());
    s.spec.driver = "gpu.nvidia.com".to_owned();
    s.spec.pool.name = "p".to_owned();
    s.spec.pool.resource_slice_count = 1;
    s.spec.shared_counters = Some(
        (0..sets)
            .map(|i| CounterSet {
                name: format!("set-{i}"),
                counters: (0..counters)
                    .map(|k| {
                        (
                            format!("c-{k}"),
                            Counter {
                                value: Quantity("1".to_owned()),
                            },
                        )
                    })
                    .collect(),
            })
            .collect(),
    );
    s
}

fn device(name: &str, consumes: &[(&str, usize)], attrs: usize) -> Device {
    Device {
        name: name.to_owned(),
        attributes: Some(
            (0..attrs)
                .map(|i| {
                    (
                        format!("a{i}"),
                        DeviceAttribute {
                            int: Some(1),
                            ..DeviceAttribute::default()
                        },
                    )
                })
                .collect(),
        ),
        consumes_counters: (!consumes.is_empty()).then(|| {
            consumes
                .iter()
                .map(|(set, n)| DeviceCounterConsumption {
                    counter_set: (*set).to_owned(),
                    counters: (0..*n)
                        .map(|k| {
                            (
                                format!("c-{k}"),
                                Counter {
                                    value: Quantity("1".to_owned()),
                                },
                            )
                        })
                        .collect(),
                })
                .collect()
        }),
        ..Device::default()
    }
}

fn pool(mut slices: Vec<ResourceSlice>) -> Vec<ResourceSlice> {
    let n = i64::try_from(slices.len()).unwrap();
    for (i, s) in slices.iter_mut().enumerate() {
        s.metadata.name = Some(format!("s-{i}"));
        s.spec.pool.resource_slice_count = n;
    }
    slices
}

fn device_slice(devices: Vec<Device>) -> ResourceSlice {
    let mut s = counter_slice(0, 0);
    s.spec.shared_counters = None;
    s.spec.devices = Some(devices);
    s
}

#[test]
fn validation_at_every_limit() {
    let ok = |v: Vec<ResourceSlice>| validate(&pool(v)).unwrap();
    let bad = |v: Vec<ResourceSlice>, needle: &str| {
        let e = validate(&pool(v)).unwrap_err().to_string();
        assert!(e.contains(needle), "{e} (wanted {needle:?})");
    };
    ok(vec![counter_slice(8, 32)]);
    bad(vec![counter_slice(9, 1)], "9 counter sets");
    bad(vec![counter_slice(1, 33)], "33 counters");
    bad(vec![counter_slice(1, 0)], "0 counters");
    let devs = |n: usize| {
        (0..n)
            .map(|i| device(&format!("d-{i}"), &[("set-0", 2)], 1))
            .collect::<Vec<_>>()
    };
    ok(vec![counter_slice(2, 32), device_slice(devs(64))]);
    bad(
        vec![counter_slice(2, 32), device_slice(devs(65))],
        "65 devices (at most 64)",
    );
    let plain = |n: usize| {
        (0..n)
            .map(|i| device(&format!("d-{i}"), &[], 1))
            .collect::<Vec<_>>()
    };
    ok(vec![device_slice(plain(128))]);
    bad(vec![device_slice(plain(129))], "129 devices (at most 128)");
    ok(vec![
        counter_slice(3, 32),
        device_slice(vec![device("d", &[("set-0", 32), ("set-1", 1)], 31)]),
    ]);
    bad(
        vec![
            counter_slice(3, 32),
            device_slice(vec![device(
                "d",
                &[("set-0", 1), ("set-1", 1), ("set-2", 1)],
                1,
            )]),
        ],
        "from 3 counter sets",
    );
    bad(
        vec![
            counter_slice(3, 32),
            device_slice(vec![device("d", &[("set-0", 1), ("set-0", 1)], 1)]),
        ],
        "twice",
    );
    bad(
        vec![
            counter_slice(1, 32),
            device_slice(vec![device("d", &[("set-0", 33)], 1)]),
        ],
        "33 counters",
    );
    bad(
        vec![device_slice(vec![device("d", &[], 33)])],
        "33 attributes",
    );
    bad(
        vec![
            counter_slice(1, 2),
            device_slice(vec![device("d", &[("set-9", 1)], 1)]),
        ],
        "undefined counter set",
    );
    bad(
        vec![
            counter_slice(1, 2),
            device_slice(vec![device("d", &[("set-0", 3)], 1)]),
        ],
        "undefined counter c-2",
    );
    bad(
        vec![device_slice(vec![device("Not_A_Label", &[], 1)])],
        "not a DNS label",
    );
    bad(
        vec![
            device_slice(vec![device("d", &[], 1)]),
            device_slice(vec![device("d", &[], 1)]),
        ],
        "twice in the pool",
    );
    let mut both = counter_slice(1, 1);
    both.spec.devices = Some(vec![device("d", &[], 1)]);
    bad(vec![both], "devices and sharedCounters");
    let mut bad_pool = pool(vec![counter_slice(1, 1)]);
    bad_pool[0].spec.pool.name = "Node One".to_owned();
    let e = validate(&bad_pool).unwrap_err().to_string();
    assert!(
        e.contains("pool name \"Node One\" is not a DNS subdomain"),
        "{e}"
    );
    let mut wrong = pool(vec![counter_slice(1, 1)]);
    wrong[0].spec.pool.resource_slice_count = 2;
    let e = validate(&wrong).unwrap_err().to_string();
    assert!(e.contains("resourceSliceCount 2 for 1 slices"), "{e}");
}

/// gpupart's order: one profile's change republishes that profile's slices, not the node's.
#[test]
fn a_change_republishes_only_what_it_touches() {
    let nvml = node(&[&catalog::A100_40GB; 8]);
    let info = NodeInfo::default();
    let opts = SliceOptions::new("n");
    let before = node_slices(&read_all(&nvml).unwrap(), &info, &[], &opts).unwrap();
    // A 7g.40gb on GPU 3, made through DRA (claimed).
    apply(
        &nvml,
        &[DesiredGpu::new(
            3,
            true,
            vec![DesiredInstance::new("7g.40gb".parse().unwrap()).at(0)],
        )],
        &ApplyOptions::default().lock_path(None),
    )
    .unwrap();
    let after = node_slices(
        &read_all(&nvml).unwrap(),
        &info,
        &[(3, 0)],
        &opts.clone().generation(2),
    )
    .unwrap();
    let changed = republish(&before, &after);
    assert!(!changed.is_empty());
    assert!(
        changed.len() < after.len(),
        "{changed:?} of {}",
        after.len()
    );
    // The counter slice is unchanged: the instance was allocated through DRA.
    assert!(!changed.contains(&0));
    // Nothing changes, nothing is republished.
    let again = node_slices(
        &read_all(&nvml).unwrap(),
        &info,
        &[(3, 0)],
        &opts.generation(3),
    )
    .unwrap();
    assert!(republish(&after, &again).is_empty());
}
