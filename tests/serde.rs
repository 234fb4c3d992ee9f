#![allow(clippy::expect_used, clippy::unwrap_used)]
//! With the `serde` feature every public data and report type serializes, catalog references
//! by name; the owned ones deserialize back to what they were.

use gpupart::mig::apply::{ApplyOptions, DesiredGpu, DesiredInstance, apply, plan};
use gpupart::mig::state::read_all;
use gpupart::mig::{Backend, SimulatedNvml};
use gpupart::sriov::{EnableOptions, SimulatedSysfs, Sysfs};
use gpupart::topology::batch::{Bound, Objective};
use gpupart::topology::{Fleet, Request, SolveOptions, solve};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
    let json = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, v, "{json}");
}

#[test]
fn mig_types_round_trip_and_reports_name_profiles() {
    let node = SimulatedNvml::hgx_h100();
    let want = DesiredGpu::new(
        0,
        true,
        vec![
            DesiredInstance::new("3g.40gb".parse().unwrap()).at(4),
            DesiredInstance::new("2g.20gb".parse().unwrap()).with_compute(vec![
                "1c.2g.20gb"
                    .parse()
                    .unwrap();
                2
            ]),
        ],
    );
    round_trip(&want);
    let report = apply(&node, &[want], &ApplyOptions::default().lock_path(None)).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["after"][0]["instances"][0]["profile"], "2g.20gb",
        "{json}"
    );
    assert_eq!(json["after"][0]["model"], "H100-SXM-80GB");
    assert_eq!(
        json["after"][0]["instances"][0]["compute"][0][1],
        "1c.2g.20gb"
    );
    assert!(
        json["ops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|op| op["CreateGpuInstance"]["profile"] == "3g.40gb"),
        "{json}"
    );
    for p in node.gpu_instance_profiles(0).unwrap() {
        round_trip(&p);
    }
    for gi in node.gpu_instances(0).unwrap() {
        round_trip(&gi);
        for ci in node.compute_instances(0, gi.id).unwrap() {
            round_trip(&ci);
        }
    }
    round_trip(&node.mig_mode(0).unwrap());
    round_trip(&gpupart::mig::NvmlCode::from_raw(17));
    round_trip(&gpupart::mig::MigActivation::from_raw(0));
    let gpus = read_all(&node).unwrap();
    let changes = plan(&gpus, &[DesiredGpu::new(1, true, vec![])], false).unwrap();
    assert_eq!(
        serde_json::to_value(&changes).unwrap()["ops"][0]["SetMigMode"]["gpu"],
        1
    );
    assert_eq!(serde_json::to_value(&gpus[0].info).unwrap()["index"], 0);
}

#[test]
fn topology_plan_and_fleet_serialize() {
    let fleet = Fleet::uniform(&gpupart::profiles::catalog::A100_40GB, 2);
    let requests = [Request::parse("3g.20gb", 3).unwrap()];
    let plan = solve(&fleet, &requests, &SolveOptions::default());
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["changes"][0]["create"][0]["profile"], "3g.20gb",
        "{json}"
    );
    round_trip(&plan.objective);
    round_trip(&plan.bound);
    assert_eq!(
        serde_json::to_value(&requests[0]).unwrap()["profile"],
        "3g.20gb"
    );
    let fleet_json = serde_json::to_value(plan.layout(&fleet).unwrap()).unwrap();
    assert_eq!(fleet_json.as_array().unwrap().len(), 2);
    assert_eq!(fleet_json[0]["model"], "A100-40GB");
    assert_eq!(fleet_json[0]["instances"][0]["profile"], "3g.20gb");
}

#[test]
fn sriov_types_round_trip() {
    let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(1));
    let gpu = sysfs.nvidia_gpus().unwrap()[0].clone();
    round_trip(&gpu);
    let report = sysfs
        .enable_vfs(gpu.address, 2, &EnableOptions::default())
        .unwrap();
    round_trip(&report);
    round_trip(&sysfs.device(report.vfs[0]).unwrap());
    let findings = serde_json::to_value(sysfs.doctor().unwrap()).unwrap();
    assert!(!findings.as_array().unwrap().is_empty());
}

/// The vGPU host manager's data and reports, on both interfaces; and its string forms.
#[test]
fn vgpu_types_round_trip() {
    use gpupart::sriov::nova::NovaVgpuVfs;
    use gpupart::sriov::vgpu::{
        ApplyOptions, GpuSpec, HostState, Owner, VgpuSlot, VgpuTypeId, VgpuTypeName, apply,
        inventory, plan, reconcile,
    };
    for h100 in [false, true] {
        let sim = if h100 {
            SimulatedSysfs::h100_host(1)
        } else {
            SimulatedSysfs::gpu_host(1)
        };
        let sysfs = Sysfs::simulated(sim);
        let gpu = sysfs.nvidia_gpus().unwrap()[0].address;
        sysfs.enable_vfs(gpu, 4, &EnableOptions::default()).unwrap();
        let spec = GpuSpec::new(gpu)
            .vgpus(if h100 { "H100XM-20C" } else { "A100-10C" }, 2)
            .memory_mib(if h100 { 80 } else { 40 } * 1024);
        round_trip(&spec);
        let mut state = HostState::default();
        round_trip(&plan(&sysfs, std::slice::from_ref(&spec), &state).unwrap());
        let opts = ApplyOptions::default().lock_path(None);
        round_trip(&opts);
        let report = apply(&sysfs, &[spec], &mut state, &opts).unwrap();
        round_trip(&report);
        round_trip(&state);
        round_trip(&inventory(&sysfs, &state).unwrap());
        round_trip(&reconcile(&sysfs, &mut state, &[], &[], false).unwrap());
    }
    let slot: VgpuSlot = "0000:07:00.4/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
        .parse()
        .unwrap();
    assert_eq!(
        serde_json::to_string(&slot).unwrap(),
        "\"0000:07:00.4/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\""
    );
    round_trip(&slot);
    round_trip(&"nvidia-700".parse::<VgpuTypeId>().unwrap());
    round_trip(&"vm-1".parse::<Owner>().unwrap());
    round_trip(&"NVIDIA A100-3-20C".parse::<VgpuTypeName>().unwrap());
    assert!(serde_json::from_str::<Owner>("\"a b\"").is_err());
    round_trip(&NovaVgpuVfs::for_type("NVIDIA H100XM-3-40C", &[]));
}

proptest! {
    #[test]
    fn objectives_and_bounds_round_trip(placed in any::<u64>(), gpus in any::<u32>(), reused in any::<u64>()) {
        let json = format!(r#"{{"max_placed": {placed}, "min_gpus_used": {gpus}, "max_placed_by_priority": [[0, {reused}]]}}"#);
        let b: Bound = serde_json::from_str(&json).unwrap();
        round_trip(&b);
        let mut o = serde_json::to_value(Objective::default()).unwrap();
        o["placed"] = serde_json::json!(placed);
        o["reused"] = serde_json::json!(reused);
        let o: Objective = serde_json::from_value(o).unwrap();
        prop_assert_eq!((o.placed, o.reused), (placed, reused));
        round_trip(&o);
    }
}
