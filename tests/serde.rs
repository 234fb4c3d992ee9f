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
