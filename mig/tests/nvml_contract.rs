#![allow(clippy::expect_used, clippy::unwrap_used)]
//! nvml.h's contract, held on the simulator (the real backend follows the same trait): MIG
//! activation status, profile enumeration until INVALID_ARGUMENT, one meaning of possible
//! placements, raw return codes kept, processes of every kind.

use gpupart_mig::apply::{ApplyOptions, DesiredGpu, apply};
use gpupart_mig::{
    Backend, ComputeInstanceInfo, Error, GpuInfo, GpuInstanceInfo, MigActivation, MigMode,
    NvmlCode, ProfileInfo, SimGpu, SimulatedNvml,
};
use gpupart_profiles::{Placement, catalog};

fn no_lock() -> ApplyOptions {
    ApplyOptions::default().lock_path(None)
}

#[test]
fn the_activation_status_says_what_to_do() {
    // An idle Hopper switches at once.
    let node = SimulatedNvml::hgx_h100();
    assert_eq!(
        node.set_mig_mode(0, true).unwrap(),
        MigActivation::Activated
    );
    // A busy one cannot be unbound: the call succeeds, the mode waits for idle, not a reset.
    let node = SimulatedNvml::new(vec![
        SimGpu::new(&catalog::H100_SXM_80GB)
            .mode_needs_reset(false)
            .busy(true),
    ]);
    let r = apply(&node, &[DesiredGpu::new(0, true, vec![])], &no_lock()).unwrap();
    assert_eq!(r.activations, [(0, MigActivation::RetryWhenIdle)]);
    assert_eq!(r.retry_when_idle, [0]);
    assert!(r.resets_needed.is_empty(), "a reset would not help");
    assert!(MigActivation::RetryWhenIdle.action().contains("processes"));
    // Where no reset is exposed (pass-through), the pending mode needs one.
    let node = SimulatedNvml::dgx_a100();
    let r = apply(&node, &[DesiredGpu::new(0, true, vec![])], &no_lock()).unwrap();
    assert_eq!(r.activations, [(0, MigActivation::ResetRequired)]);
    assert_eq!(r.resets_needed, [0]);
    assert_eq!(MigActivation::from_raw(16), MigActivation::ResetRequired);
    assert_eq!(MigActivation::from_raw(19), MigActivation::RetryWhenIdle);
    assert_eq!(
        MigActivation::from_raw(999),
        MigActivation::Failed(NvmlCode::Unknown)
    );
}

/// A driver newer than the catalog: one more GPU instance profile index (0x11,
/// `3_SLICE_GFX` in 13.x headers) before INVALID_ARGUMENT.
struct NewerDriver(SimulatedNvml);

impl Backend for NewerDriver {
    fn gpu_count(&self) -> Result<u32, Error> {
        self.0.gpu_count()
    }
    fn gpu(&self, gpu: u32) -> Result<GpuInfo, Error> {
        self.0.gpu(gpu)
    }
    fn mig_mode(&self, gpu: u32) -> Result<MigMode, Error> {
        self.0.mig_mode(gpu)
    }
    fn set_mig_mode(&self, gpu: u32, enabled: bool) -> Result<MigActivation, Error> {
        self.0.set_mig_mode(gpu, enabled)
    }
    fn gpu_instance_profile_info(&self, gpu: u32, index: u32) -> Result<ProfileInfo, Error> {
        match index {
            17 => {
                let mut p = self.0.gpu_instance_profile_info(gpu, 2)?;
                p.index = 17;
                p.id = 47;
                Ok(p)
            }
            18.. => Err(Error::Nvml {
                gpu: Some(gpu),
                op: "get GPU instance profile info",
                code: NvmlCode::InvalidArgument,
            }),
            _ => self.0.gpu_instance_profile_info(gpu, index),
        }
    }
    fn possible_placements(&self, gpu: u32, profile_id: u32) -> Result<Vec<Placement>, Error> {
        self.0.possible_placements(gpu, profile_id)
    }
    fn remaining_capacity(&self, gpu: u32, profile_id: u32) -> Result<u32, Error> {
        self.0.remaining_capacity(gpu, profile_id)
    }
    fn gpu_instances(&self, gpu: u32) -> Result<Vec<GpuInstanceInfo>, Error> {
        self.0.gpu_instances(gpu)
    }
    fn create_gpu_instance(&self, gpu: u32, id: u32, start: u8) -> Result<GpuInstanceInfo, Error> {
        self.0.create_gpu_instance(gpu, id, start)
    }
    fn destroy_gpu_instance(&self, gpu: u32, gi: u32) -> Result<(), Error> {
        self.0.destroy_gpu_instance(gpu, gi)
    }
    fn compute_instances(&self, gpu: u32, gi: u32) -> Result<Vec<ComputeInstanceInfo>, Error> {
        self.0.compute_instances(gpu, gi)
    }
    fn create_compute_instance(
        &self,
        gpu: u32,
        gi: u32,
        p: u32,
    ) -> Result<ComputeInstanceInfo, Error> {
        self.0.create_compute_instance(gpu, gi, p)
    }
    fn destroy_compute_instance(&self, gpu: u32, gi: u32, ci: u32) -> Result<(), Error> {
        self.0.destroy_compute_instance(gpu, gi, ci)
    }
    fn processes(&self, gpu: u32, gi: u32) -> Result<Vec<u32>, Error> {
        self.0.processes(gpu, gi)
    }
}

#[test]
fn profiles_are_enumerated_until_invalid_argument() {
    let node = SimulatedNvml::hgx_h100();
    let indices: Vec<u32> = node
        .gpu_instance_profiles(0)
        .unwrap()
        .iter()
        .map(|p| p.index)
        .collect();
    assert_eq!(indices, [0, 1, 2, 3, 4, 7, 9]);
    let newer = NewerDriver(SimulatedNvml::hgx_h100());
    let profiles = newer.gpu_instance_profiles(0).unwrap();
    let last = profiles.last().unwrap();
    assert_eq!(
        (last.index, last.id),
        (17, 47),
        "a profile the catalog lacks is seen"
    );
    assert_eq!(last.known_index(), None);
    assert!(matches!(
        node.gpu_instance_profile_info(0, 17),
        Err(Error::Nvml {
            code: NvmlCode::InvalidArgument,
            ..
        })
    ));
    assert!(matches!(
        node.gpu_instance_profile_info(0, 5),
        Err(Error::Nvml {
            code: NvmlCode::NotSupported,
            ..
        })
    ));
}

#[test]
fn possible_placements_are_every_legal_one_and_free_ones_are_computed() {
    let node = SimulatedNvml::new(vec![
        SimGpu::new(&catalog::H100_SXM_80GB).mode_needs_reset(false),
    ]);
    // MIG off: every legal placement all the same (nvml.h: "regardless of whether MIG is
    // enabled or not").
    assert_eq!(node.possible_placements(0, 19).unwrap().len(), 7);
    node.set_mig_mode(0, true).unwrap();
    node.create_gpu_instance(0, 9, 0).unwrap();
    assert_eq!(node.possible_placements(0, 9).unwrap().len(), 2);
    let free: Vec<u8> = node
        .free_placements(0, 9)
        .unwrap()
        .iter()
        .map(|p| p.start)
        .collect();
    assert_eq!(free, [4]);
    assert_eq!(node.remaining_capacity(0, 9).unwrap(), 1);
    // An occupied placement is INSUFFICIENT_RESOURCES, an illegal start INVALID_ARGUMENT.
    let code = |r: Result<GpuInstanceInfo, Error>| match r {
        Err(Error::Nvml { code, .. }) => code,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code(node.create_gpu_instance(0, 9, 0)),
        NvmlCode::InsufficientResources
    );
    assert_eq!(
        code(node.create_gpu_instance(0, 9, 2)),
        NvmlCode::InvalidArgument
    );
}

#[test]
fn return_codes_keep_their_number() {
    for (raw, code) in [
        (9, NvmlCode::DriverNotLoaded),
        (18, NvmlCode::LibRmVersionMismatch),
        (999, NvmlCode::Unknown),
        (19, NvmlCode::InUse),
    ] {
        assert_eq!(NvmlCode::from_raw(raw), code);
        assert_eq!(code.raw(), raw);
    }
    let unknown = NvmlCode::from_raw(77);
    assert_eq!(unknown, NvmlCode::Other(77));
    assert!(unknown.to_string().contains("77"), "{unknown}");
    assert!(
        NvmlCode::LibRmVersionMismatch
            .to_string()
            .contains("reboot")
    );
    assert!(!NvmlCode::Unknown.to_string().contains("error 0"));
}

#[test]
fn processes_answer_on_any_gpu() {
    let node = SimulatedNvml::hgx_h100();
    assert_eq!(
        node.processes(0, 1).unwrap(),
        Vec::<u32>::new(),
        "MIG off: none"
    );
}
