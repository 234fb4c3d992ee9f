#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Prepare and unprepare on a simulated H100 node: CDI entries, refusals, a fault at every
//! NVML call (the GPU ends as before or as after, never between), a crash at every step
//! followed by adoption, and adoption of MIG devices that exist already.

use std::path::PathBuf;

use gpupart_dra::Error;
use gpupart_dra::prepare::{Checkpoint, Preparer, SimCaps};
use gpupart_mig::apply::{ApplyOptions, DesiredGpu, DesiredInstance, apply};
use gpupart_mig::backend::Backend;
use gpupart_mig::{NvmlCode, SimulatedNvml};

const DEV: &str = "gpu-0-mig-3g40gb-9-4";

fn node() -> SimulatedNvml {
    let nvml = SimulatedNvml::hgx_h100();
    let all: Vec<DesiredGpu> = (0..8)
        .map(|g| DesiredGpu::new(g, true, Vec::new()))
        .collect();
    apply(&nvml, &all, &ApplyOptions::default().lock_path(None)).unwrap();
    nvml
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gpupart-dra-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d.join("checkpoint.json")
}

/// GPU 0's instances: (GI, start, compute instances).
fn shape(nvml: &SimulatedNvml) -> Vec<(u32, u8, usize)> {
    nvml.gpu_instances(0)
        .unwrap()
        .into_iter()
        .map(|g| {
            (
                g.id,
                g.placement.start,
                nvml.compute_instances(0, g.id).unwrap().len(),
            )
        })
        .collect()
}

fn before_or_after(nvml: &SimulatedNvml, what: &str) -> bool {
    let s = shape(nvml);
    assert!(
        s.is_empty() || (s.len() == 1 && s[0].1 == 4 && s[0].2 == 1),
        "{what}: between: {s:?}"
    );
    !s.is_empty()
}

#[test]
fn prepare_unprepare_and_refusals() {
    let nvml = node();
    let caps = SimCaps::new(&nvml);
    let path = scratch("basic");
    let mut p = Preparer::open(&nvml, &caps, &path).unwrap();
    let cdi = p.prepare("uid-1", DEV).unwrap();
    assert_eq!(cdi.name, format!("uid-1-{DEV}"));
    assert!(cdi.device_nodes.contains(&"/dev/nvidia0".to_owned()));
    assert_eq!(
        cdi.device_nodes
            .iter()
            .filter(|d| d.starts_with("/dev/nvidia-caps/"))
            .count(),
        2
    );
    // Idempotent: no second instance.
    assert_eq!(p.prepare("uid-1", DEV).unwrap(), cdi);
    assert_eq!(shape(&nvml).len(), 1);
    // The claim holds another device; another claim overlaps it.
    assert!(matches!(
        p.prepare("uid-1", "gpu-0-mig-1g10gb-19-0"),
        Err(Error::Claim { .. })
    ));
    let e = p.prepare("uid-2", "gpu-0-mig-1g10gb-19-5").unwrap_err();
    assert!(e.to_string().contains("held by GPU instance"), "{e}");
    assert!(matches!(
        p.prepare("uid-3", "gpu-0-mig-3g40gb-9-3"),
        Err(Error::DeviceName { .. })
    ));
    assert!(matches!(
        p.prepare("uid-3", "nonsense"),
        Err(Error::DeviceName { .. })
    ));
    // The checkpoint survives a restart.
    let saved: Checkpoint = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved.prepared.len(), 1);
    // In use: refused, nothing destroyed.
    let gi = shape(&nvml)[0].0;
    nvml.start_process(0, gi, 4242).unwrap();
    let e = p.unprepare("uid-1").unwrap_err();
    assert!(e.to_string().contains("4242"), "{e}");
    assert_eq!(shape(&nvml).len(), 1);
    nvml.stop_processes(0, gi);
    p.unprepare("uid-1").unwrap();
    assert!(shape(&nvml).is_empty());
    p.unprepare("uid-1").unwrap();
}

#[test]
fn a_fault_at_every_nvml_call_leaves_before_or_after() {
    // Prepare: create GI, create CI (then the rollback's destroy calls).
    for k in 0..4 {
        let nvml = node();
        let caps = SimCaps::new(&nvml);
        let mut p = Preparer::open(&nvml, &caps, &scratch(&format!("fault-{k}"))).unwrap();
        nvml.fail_nth_mutation(k, NvmlCode::Unknown);
        let r = p.prepare("uid-1", DEV);
        let after = before_or_after(&nvml, &format!("prepare, fault {k}"));
        assert_eq!(r.is_ok(), after, "fault {k}: {r:?}");
        assert!(p.checkpoint().in_flight.is_empty(), "fault {k}");
        assert_eq!(p.checkpoint().prepared.len(), usize::from(after));
    }
    // Unprepare: destroy CI, destroy GI (then the CI made again).
    for k in 0..3 {
        let nvml = node();
        let caps = SimCaps::new(&nvml);
        let mut p = Preparer::open(&nvml, &caps, &scratch(&format!("ufault-{k}"))).unwrap();
        p.prepare("uid-1", DEV).unwrap();
        nvml.fail_nth_mutation(k, NvmlCode::Unknown);
        let r = p.unprepare("uid-1");
        let after = before_or_after(&nvml, &format!("unprepare, fault {k}"));
        assert_eq!(r.is_err(), after, "fault {k}: {r:?}");
    }
}

#[test]
fn a_crash_at_every_step_is_adopted_or_rolled_back() {
    for k in 0..3u64 {
        for claim_lives in [true, false] {
            let nvml = node();
            let path = scratch(&format!("crash-{k}-{claim_lives}"));
            {
                let caps = SimCaps::new(&nvml);
                let mut p = Preparer::open(&nvml, &caps, &path).unwrap();
                // The driver stops answering at mutation k: nothing after it, not even the
                // rollback, gets through (the checkpoint still says what was in flight).
                for n in k..k + 8 {
                    nvml.fail_nth_mutation(n, NvmlCode::Unknown);
                }
                let _ = p.prepare("uid-1", DEV);
            }
            nvml.clear_faults();
            let caps = SimCaps::new(&nvml);
            let mut p = Preparer::open(&nvml, &caps, &path).unwrap();
            let claims = if claim_lives {
                vec![("uid-1".to_owned(), DEV.to_owned())]
            } else {
                Vec::new()
            };
            let r = p.adopt(&claims).unwrap();
            let mut after =
                before_or_after(&nvml, &format!("crash at {k}, claim lives {claim_lives}"));
            assert!(p.checkpoint().in_flight.is_empty());
            assert!(r.foreign.is_empty(), "{r:?}");
            if claim_lives && !after {
                // Nothing was left half made: the kubelet's retry prepares it.
                p.prepare("uid-1", DEV).unwrap();
                after = before_or_after(&nvml, "retry");
            }
            assert_eq!(after, claim_lives, "crash at {k}: {r:?}");
            assert_eq!(p.checkpoint().prepared.len(), usize::from(claim_lives));
        }
    }
}

#[test]
fn a_crash_after_nvml_before_the_checkpoint_is_completed_without_a_second_instance() {
    for claim_lives in [true, false] {
        let nvml = node();
        let path = scratch(&format!("late-{claim_lives}"));
        {
            let caps = SimCaps::new(&nvml);
            let mut p = Preparer::open(&nvml, &caps, &path).unwrap();
            p.prepare("uid-1", DEV).unwrap();
        }
        // As if the process died before moving the device from in flight to prepared.
        let mut cp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let d = cp["prepared"][0].clone();
        cp["prepared"] = serde_json::json!([]);
        cp["in_flight"] =
            serde_json::json!([{"claim": d["claim"], "device": d["device"], "gi": d["gi"]}]);
        std::fs::write(&path, cp.to_string()).unwrap();
        let caps = SimCaps::new(&nvml);
        let mut p = Preparer::open(&nvml, &caps, &path).unwrap();
        let claims = if claim_lives {
            vec![("uid-1".to_owned(), DEV.to_owned())]
        } else {
            Vec::new()
        };
        let r = p.adopt(&claims).unwrap();
        assert_eq!(before_or_after(&nvml, "late crash"), claim_lives, "{r:?}");
        assert_eq!(shape(&nvml).len(), usize::from(claim_lives));
    }
}

#[test]
fn existing_devices_are_adopted_for_their_claims_and_the_rest_left_alone() {
    let nvml = node();
    // Made before the plugin started: one matches a claim, one does not.
    let want = vec![
        DesiredInstance::new("3g.40gb".parse().unwrap()).at(4),
        DesiredInstance::new("2g.20gb".parse().unwrap()).at(0),
    ];
    apply(
        &nvml,
        &[DesiredGpu::new(0, true, want)],
        &ApplyOptions::default().lock_path(None),
    )
    .unwrap();
    let before = shape(&nvml);
    let caps = SimCaps::new(&nvml);
    let mut p = Preparer::open(&nvml, &caps, &scratch("adopt")).unwrap();
    let r = p.adopt(&[("uid-9".to_owned(), DEV.to_owned())]).unwrap();
    assert_eq!(r.adopted, [DEV]);
    assert_eq!(r.foreign.len(), 1, "{r:?}");
    assert_eq!(shape(&nvml), before, "nothing destroyed or made twice");
    // The adopted device is the claim's now: its unprepare removes it, the foreign one stays.
    p.unprepare("uid-9").unwrap();
    assert_eq!(shape(&nvml).len(), 1);
}

/// Every NVML call, reads included, failing once in turn: a backend that delegates to the
/// simulator and fails its `fail_at`-th call (of any kind) with UNKNOWN.
struct Faulty<'a> {
    inner: &'a SimulatedNvml,
    calls: std::sync::atomic::AtomicU64,
    fail_at: u64,
}

impl Faulty<'_> {
    fn tick(&self, op: &'static str) -> Result<(), gpupart_mig::Error> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == self.fail_at {
            return Err(gpupart_mig::Error::Nvml {
                gpu: None,
                op,
                code: NvmlCode::Unknown,
            });
        }
        Ok(())
    }
}

type R<T> = Result<T, gpupart_mig::Error>;

impl Backend for Faulty<'_> {
    fn gpu_count(&self) -> R<u32> {
        self.tick("gpu count")?;
        self.inner.gpu_count()
    }
    fn gpu(&self, gpu: u32) -> R<gpupart_mig::backend::GpuInfo> {
        self.tick("gpu")?;
        self.inner.gpu(gpu)
    }
    fn mig_mode(&self, gpu: u32) -> R<gpupart_mig::backend::MigMode> {
        self.tick("mig mode")?;
        self.inner.mig_mode(gpu)
    }
    fn set_mig_mode(&self, gpu: u32, on: bool) -> R<gpupart_mig::backend::MigActivation> {
        self.tick("set mig mode")?;
        self.inner.set_mig_mode(gpu, on)
    }
    fn gpu_instance_profile_info(
        &self,
        gpu: u32,
        index: u32,
    ) -> R<gpupart_mig::backend::ProfileInfo> {
        self.tick("profile info")?;
        self.inner.gpu_instance_profile_info(gpu, index)
    }
    fn possible_placements(&self, gpu: u32, id: u32) -> R<Vec<gpupart_profiles::Placement>> {
        self.tick("placements")?;
        self.inner.possible_placements(gpu, id)
    }
    fn remaining_capacity(&self, gpu: u32, id: u32) -> R<u32> {
        self.tick("capacity")?;
        self.inner.remaining_capacity(gpu, id)
    }
    fn gpu_instances(&self, gpu: u32) -> R<Vec<gpupart_mig::backend::GpuInstanceInfo>> {
        self.tick("gpu instances")?;
        self.inner.gpu_instances(gpu)
    }
    fn create_gpu_instance(
        &self,
        gpu: u32,
        id: u32,
        start: u8,
    ) -> R<gpupart_mig::backend::GpuInstanceInfo> {
        self.tick("create gpu instance")?;
        self.inner.create_gpu_instance(gpu, id, start)
    }
    fn destroy_gpu_instance(&self, gpu: u32, gi: u32) -> R<()> {
        self.tick("destroy gpu instance")?;
        self.inner.destroy_gpu_instance(gpu, gi)
    }
    fn compute_instances(
        &self,
        gpu: u32,
        gi: u32,
    ) -> R<Vec<gpupart_mig::backend::ComputeInstanceInfo>> {
        self.tick("compute instances")?;
        self.inner.compute_instances(gpu, gi)
    }
    fn create_compute_instance(
        &self,
        gpu: u32,
        gi: u32,
        p: u32,
    ) -> R<gpupart_mig::backend::ComputeInstanceInfo> {
        self.tick("create compute instance")?;
        self.inner.create_compute_instance(gpu, gi, p)
    }
    fn destroy_compute_instance(&self, gpu: u32, gi: u32, ci: u32) -> R<()> {
        self.tick("destroy compute instance")?;
        self.inner.destroy_compute_instance(gpu, gi, ci)
    }
    fn processes(&self, gpu: u32, gi: u32) -> R<Vec<u32>> {
        self.tick("processes")?;
        self.inner.processes(gpu, gi)
    }
}

#[test]
fn a_fault_at_every_nvml_call_reads_included_leaves_before_or_after() {
    for (what, prepared_first) in [("prepare", false), ("unprepare", true)] {
        let mut k = 0;
        loop {
            let nvml = node();
            let path = scratch(&format!("every-{what}-{k}"));
            if prepared_first {
                let caps = SimCaps::new(&nvml);
                Preparer::open(&nvml, &caps, &path)
                    .unwrap()
                    .prepare("uid-1", DEV)
                    .unwrap();
            }
            let faulty = Faulty {
                inner: &nvml,
                calls: std::sync::atomic::AtomicU64::new(0),
                fail_at: k,
            };
            let caps = SimCaps::new(&faulty);
            let mut p = Preparer::open(&faulty, &caps, &path).unwrap();
            let r = if prepared_first {
                p.unprepare("uid-1")
            } else {
                p.prepare("uid-1", DEV).map(|_| ())
            };
            let after = before_or_after(&nvml, &format!("{what}, call {k} fails"));
            // Prepare succeeded ⇔ made; unprepare succeeded ⇔ gone.
            assert_eq!(
                r.is_ok(),
                after != prepared_first,
                "{what}, call {k}: {r:?}"
            );
            assert!(p.checkpoint().in_flight.is_empty(), "{what}, call {k}");
            if faulty.calls.load(std::sync::atomic::Ordering::SeqCst) <= k {
                break; // the fault came after the last call: every call has failed once
            }
            k += 1;
        }
        assert!(k >= 4, "{what}: only {k} calls");
    }
}
