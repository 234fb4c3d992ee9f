#![allow(clippy::expect_used, clippy::unwrap_used)]
//! With the `serde` feature the crate's data and reports serialize (profiles by name); the
//! owned ones deserialize too.

use gpupart_dra::devices::{AttrValue, gpu_counter_set, gpu_devices};
use gpupart_dra::prepare::{AdoptReport, Checkpoint};
use gpupart_dra::{NodeInfo, Order, SliceOptions};
use gpupart_mig::SimulatedNvml;
use gpupart_mig::apply::{ApplyOptions, DesiredGpu, apply};
use gpupart_mig::state::read_all;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
    let json = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, v, "{json}");
}

#[test]
fn data_and_reports() {
    let nvml = SimulatedNvml::hgx_h100();
    apply(
        &nvml,
        &[DesiredGpu::new(0, true, Vec::new())],
        &ApplyOptions::default().lock_path(None),
    )
    .unwrap();
    let gpus = read_all(&nvml).unwrap();
    let devices = gpu_devices(&gpus[0], &NodeInfo::default());
    let v = serde_json::to_value(&devices).unwrap();
    assert_eq!(v[1]["kind"]["Mig"]["profile"], "1g.10gb", "{}", v[1]);
    round_trip(&gpu_counter_set(&gpus[0]).unwrap());
    round_trip(&NodeInfo::versions("580.95.05", "13.0"));
    round_trip(
        &SliceOptions::new("n")
            .order(Order::Nvidia)
            .expected(vec!["3g.40gb".parse().unwrap()]),
    );
    round_trip(&AttrValue::Version("9.0.0".to_owned()));
    round_trip(&AdoptReport::default());
    round_trip(&Checkpoint::default());
}
