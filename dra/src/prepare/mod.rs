//! Prepare and unprepare of allocated MIG devices, as a kubelet plugin does them: create the
//! GPU instance at the device's placement and its full compute instance, return the CDI
//! device entries (the GPU's device node, `nvidiactl`, `nvidia-uvm`, and the MIG capability
//! device nodes the driver names in `/proc/driver/nvidia/capabilities/…/access`), all behind a
//! checkpoint written before and after each change, so that a restart neither leaks nor
//! creates twice:
//!
//! - a creation is recorded *in flight* before its first NVML call; a failure rolls the GPU
//!   instance back, so the GPU ends as before or as after, never between;
//! - unprepare refuses a GPU instance in which processes run, and puts the compute instance
//!   back if the GPU instance cannot go;
//! - [`Preparer::adopt`] at start completes or rolls back what was in flight, re-creates
//!   prepared devices that vanished, cleans up those whose claim is gone, **adopts** existing
//!   MIG devices that match a claim instead of tearing everything down (NVIDIA's driver
//!   destroyed devices it did not make: dra-driver-nvidia-gpu#883), and reports the rest,
//!   never destroying them.

mod caps;
mod checkpoint;

pub use caps::{CdiDevice, MigCaps, ProcCaps, SimCaps, parse_access};
pub use checkpoint::{AdoptReport, Checkpoint, InFlight, PreparedDevice};

use std::path::{Path, PathBuf};

use gpupart_mig::backend::Backend;
use gpupart_profiles::{GpuInstanceProfile, GpuModel};

use crate::Error;

/// The most bytes a checkpoint may have.
pub const MAX_CHECKPOINT_BYTES: u64 = 16 << 20;

/// A MIG device named as NVIDIA's driver names it: (GPU minor, NVML profile ID, start).
///
/// # Errors
/// [`Error::DeviceName`] for anything but `gpu-<minor>-mig-<profile>-<id>-<start>`.
pub fn parse_mig_device(name: &str) -> Result<(u32, u32, u8), Error> {
    let bad = || Error::DeviceName {
        name: name.chars().take(80).collect(),
        expected: "gpu-<minor>-mig-<profile>-<profile ID>-<start>",
    };
    let rest = name.strip_prefix("gpu-").ok_or_else(bad)?;
    let (minor, rest) = rest.split_once("-mig-").ok_or_else(bad)?;
    let mut tail = rest.rsplitn(3, '-');
    let start = tail.next().ok_or_else(bad)?;
    let id = tail.next().ok_or_else(bad)?;
    let profile = tail.next().ok_or_else(bad)?;
    let num = |s: &str| -> Result<u32, Error> {
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    if profile.is_empty() {
        return Err(bad());
    }
    Ok((
        num(minor)?,
        num(id)?,
        u8::try_from(num(start)?).map_err(|_| bad())?,
    ))
}

/// Prepares and unprepares devices on one node, keeping its checkpoint.
pub struct Preparer<'a> {
    nvml: &'a dyn Backend,
    caps: &'a dyn MigCaps,
    path: PathBuf,
    cp: Checkpoint,
}

fn cp_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn claim_err(claim: &str, reason: String) -> Error {
    Error::Claim {
        claim: claim.chars().take(80).collect(),
        reason,
    }
}

/// What a device name means on this node: the GPU's model, the profile, the start.
fn resolve(
    nvml: &dyn Backend,
    device: &str,
) -> Result<(u32, &'static GpuModel, &'static GpuInstanceProfile, u8), Error> {
    let (minor, id, start) = parse_mig_device(device)?;
    let info = nvml.gpu(minor)?;
    let model = gpupart_mig::state::model_of(&info).ok_or(gpupart_mig::Error::NotMigCapable {
        gpu: minor,
        name: info.name.clone(),
    })?;
    let p = model
        .profile_by_nvml_id(id)
        .map_err(|_| Error::DeviceName {
            name: device.chars().take(80).collect(),
            expected: "a profile ID of the GPU's model",
        })?;
    if p.placement_at(start).is_none() {
        return Err(Error::DeviceName {
            name: device.chars().take(80).collect(),
            expected: "a legal start of the profile",
        });
    }
    Ok((minor, model, p, start))
}

impl<'a> Preparer<'a> {
    /// The preparer of a node, its checkpoint at `path` (a missing file: nothing prepared).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the file cannot be read or parsed.
    pub fn open(nvml: &'a dyn Backend, caps: &'a dyn MigCaps, path: &Path) -> Result<Self, Error> {
        let cp = match std::fs::File::open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint {
                version: 1,
                ..Checkpoint::default()
            },
            Err(e) => return Err(cp_err(path, e.to_string())),
            Ok(f) => {
                use std::io::Read;
                let mut text = String::new();
                f.take(MAX_CHECKPOINT_BYTES + 1)
                    .read_to_string(&mut text)
                    .map_err(|e| cp_err(path, e.to_string()))?;
                if text.len() as u64 > MAX_CHECKPOINT_BYTES {
                    return Err(cp_err(path, "larger than 16 MiB"));
                }
                let cp: Checkpoint =
                    serde_json::from_str(&text).map_err(|e| cp_err(path, e.to_string()))?;
                if cp.version != 1 {
                    return Err(cp_err(path, format!("version {} (expected 1)", cp.version)));
                }
                cp
            }
        };
        Ok(Preparer {
            nvml,
            caps,
            path: path.to_path_buf(),
            cp,
        })
    }

    /// The checkpoint as it is now.
    #[must_use]
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.cp
    }

    fn save(&self) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(&self.cp)
            .map_err(|e| cp_err(&self.path, e.to_string()))?;
        let tmp = self.path.with_extension("tmp");
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d).map_err(|e| cp_err(&self.path, e.to_string()))?;
        }
        std::fs::write(&tmp, text).map_err(|e| cp_err(&tmp, e.to_string()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| cp_err(&self.path, e.to_string()))
    }

    fn cdi(
        &self,
        claim: &str,
        device: &str,
        minor: u32,
        gi: u32,
        ci: u32,
    ) -> Result<CdiDevice, Error> {
        let gim = self
            .caps
            .gi_minor(minor, gi)
            .map_err(|e| claim_err(claim, e))?;
        let cim = self
            .caps
            .ci_minor(minor, gi, ci)
            .map_err(|e| claim_err(claim, e))?;
        Ok(CdiDevice {
            name: format!("{claim}-{device}"),
            device_nodes: vec![
                format!("/dev/nvidia{minor}"),
                "/dev/nvidiactl".to_owned(),
                "/dev/nvidia-uvm".to_owned(),
                "/dev/nvidia-uvm-tools".to_owned(),
                format!("/dev/nvidia-caps/nvidia-cap{gim}"),
                format!("/dev/nvidia-caps/nvidia-cap{cim}"),
            ],
        })
    }

    /// The GPU instance at exactly `p`@`start` on `minor`, if one exists.
    fn gi_at(&self, minor: u32, p: &GpuInstanceProfile, start: u8) -> Result<Option<u32>, Error> {
        Ok(self
            .nvml
            .gpu_instances(minor)?
            .into_iter()
            .find(|x| Some(x.profile_id) == p.nvml_id && x.placement.start == start)
            .map(|x| x.id))
    }

    /// Prepares `device` (a MIG device's name) for claim `claim`: its GPU instance and full
    /// compute instance made (or found, when already prepared), its CDI entry returned.
    ///
    /// # Errors
    /// [`Error::DeviceName`]; [`Error::Claim`] when the claim holds another device or the
    /// placement is taken by a GPU instance that is not the claim's; NVML errors, after
    /// which the GPU is as before ([`Error::RollbackFailed`] when even that failed: the
    /// checkpoint keeps the device in flight for [`Preparer::adopt`]).
    pub fn prepare(&mut self, claim: &str, device: &str) -> Result<CdiDevice, Error> {
        let (minor, _, p, start) = resolve(self.nvml, device)?;
        if let Some(done) = self.cp.prepared.iter().find(|d| d.claim == claim) {
            if done.device != device {
                return Err(claim_err(
                    claim,
                    format!("already prepared with {}; unprepare it first", done.device),
                ));
            }
            if self.gi_at(minor, p, start)? == Some(done.gi)
                && self
                    .nvml
                    .compute_instances(minor, done.gi)?
                    .iter()
                    .any(|c| c.id == done.ci)
            {
                return Ok(done.cdi.clone());
            }
            // It vanished: make it again.
            self.cp.prepared.retain(|d| d.claim != claim);
        }
        // Nothing of anyone else's may be where the device goes.
        let mask = p.placement_at(start).map_or(0, |pl| pl.mask());
        for x in self.nvml.gpu_instances(minor)? {
            if x.placement.mask() & mask != 0 {
                return Err(claim_err(
                    claim,
                    format!(
                        "{device}: memory slices {}..{} are held by GPU instance {} (not this claim's)",
                        x.placement.start,
                        x.placement.start + x.placement.size,
                        x.id
                    ),
                ));
            }
        }
        self.cp.in_flight.retain(|f| f.claim != claim);
        self.cp.in_flight.push(InFlight {
            claim: claim.to_owned(),
            device: device.to_owned(),
            gi: None,
        });
        self.save()?;
        match self.make(claim, device, minor, p, start) {
            Ok(d) => {
                let cdi = d.cdi.clone();
                self.cp.in_flight.retain(|f| f.claim != claim);
                self.cp.prepared.push(d);
                self.save()?;
                Ok(cdi)
            }
            Err((cause, gi)) => {
                let rollback = gi.map_or(Ok(()), |gi| self.remove(minor, gi, true));
                match rollback {
                    Ok(()) => {
                        self.cp.in_flight.retain(|f| f.claim != claim);
                        self.save()?;
                        Err(cause)
                    }
                    Err(r) => {
                        if let Some(f) = self.cp.in_flight.iter_mut().find(|f| f.claim == claim) {
                            f.gi = gi;
                        }
                        self.save()?;
                        Err(Error::RollbackFailed {
                            claim: claim.to_owned(),
                            cause: Box::new(cause),
                            rollback: Box::new(r),
                        })
                    }
                }
            }
        }
    }

    /// The NVML calls of a preparation; on failure, the cause and the GPU instance made so
    /// far (for the rollback).
    fn make(
        &mut self,
        claim: &str,
        device: &str,
        minor: u32,
        p: &GpuInstanceProfile,
        start: u8,
    ) -> Result<PreparedDevice, (Error, Option<u32>)> {
        let id = p.nvml_id.ok_or((
            Error::DeviceName {
                name: device.to_owned(),
                expected: "a profile with an NVML ID",
            },
            None,
        ))?;
        let gi = self
            .nvml
            .create_gpu_instance(minor, id, start)
            .map_err(|e| (e.into(), None))?
            .id;
        if let Some(f) = self.cp.in_flight.iter_mut().find(|f| f.claim == claim) {
            f.gi = Some(gi);
        }
        self.save().map_err(|e| (e, Some(gi)))?;
        let full = p
            .compute_profiles
            .iter()
            .find(|c| c.compute_slices == p.compute_slices)
            .ok_or((
                claim_err(
                    claim,
                    format!("{} has no full compute instance profile", p.name),
                ),
                Some(gi),
            ))?;
        let ci = self
            .nvml
            .create_compute_instance(minor, gi, full.nvml_index.as_u32())
            .map_err(|e| (e.into(), Some(gi)))?
            .id;
        let cdi = self
            .cdi(claim, device, minor, gi, ci)
            .map_err(|e| (e, Some(gi)))?;
        Ok(PreparedDevice {
            claim: claim.to_owned(),
            device: device.to_owned(),
            gi,
            ci,
            cdi,
        })
    }

    /// Destroys GPU instance `gi` of `minor` and its compute instances (none in use; with
    /// `rollback`, processes are not asked about: the instance was just made). If the GPU
    /// instance cannot go, the compute instances destroyed are made again.
    fn remove(&self, minor: u32, gi: u32, rollback: bool) -> Result<(), Error> {
        if !rollback {
            let pids = self.nvml.processes(minor, gi)?;
            if !pids.is_empty() {
                return Err(claim_err(
                    &format!("GPU {minor} instance {gi}"),
                    format!("in use by processes {pids:?}; not destroyed"),
                ));
            }
        }
        let cis = self.nvml.compute_instances(minor, gi)?;
        let mut gone = Vec::new();
        for c in &cis {
            if let Err(e) = self.nvml.destroy_compute_instance(minor, gi, c.id) {
                self.restore_cis(minor, gi, &gone);
                return Err(e.into());
            }
            gone.push(c.profile_index);
        }
        if let Err(e) = self.nvml.destroy_gpu_instance(minor, gi) {
            self.restore_cis(minor, gi, &gone);
            return Err(e.into());
        }
        Ok(())
    }

    fn restore_cis(&self, minor: u32, gi: u32, profiles: &[u32]) {
        for &p in profiles {
            let _ = self.nvml.create_compute_instance(minor, gi, p);
        }
    }

    /// Unprepares claim `claim`'s device: its compute and GPU instances destroyed, unless
    /// processes run in it. Nothing prepared for the claim: nothing to do.
    ///
    /// # Errors
    /// [`Error::Claim`] while processes run; NVML errors, after which the device is as it
    /// was (a compute instance destroyed before the GPU instance refused is made again).
    pub fn unprepare(&mut self, claim: &str) -> Result<(), Error> {
        let Some(d) = self.cp.prepared.iter().find(|d| d.claim == claim).cloned() else {
            return Ok(());
        };
        let (minor, _, p, start) = resolve(self.nvml, &d.device)?;
        if self.gi_at(minor, p, start)? == Some(d.gi) {
            self.remove(minor, d.gi, false)?;
        }
        self.cp.prepared.retain(|x| x.claim != claim);
        self.save()
    }

    /// At start: brings the node in line with `claims` ((claim UID, device) the API server
    /// says are allocated to this node), never destroying what is neither in the checkpoint
    /// nor claimed.
    ///
    /// # Errors
    /// NVML and checkpoint errors; what could be done before is done and saved.
    pub fn adopt(&mut self, claims: &[(String, String)]) -> Result<AdoptReport, Error> {
        let mut report = AdoptReport::default();
        let wanted = |c: &str, d: &str| claims.iter().any(|(x, y)| x == c && y == d);
        // In flight: complete for a live claim, roll back otherwise.
        for f in std::mem::take(&mut self.cp.in_flight) {
            let (minor, _, p, start) = resolve(self.nvml, &f.device)?;
            let at = self.gi_at(minor, p, start)?;
            if wanted(&f.claim, &f.device) {
                if let Some(gi) = at {
                    self.finish(&f.claim, &f.device, minor, p, gi)?;
                    report.completed.push(f.device.clone());
                } else {
                    self.prepare(&f.claim, &f.device)?;
                    report.completed.push(f.device.clone());
                }
            } else {
                if let Some(gi) = at.filter(|g| f.gi.is_none_or(|x| x == *g)) {
                    self.remove(minor, gi, false)?;
                }
                report.rolled_back.push(f.device.clone());
            }
            self.save()?;
        }
        // Prepared: clean up for claims that are gone, make again what vanished.
        for d in self.cp.prepared.clone() {
            if !wanted(&d.claim, &d.device) {
                self.unprepare(&d.claim)?;
                report.cleaned.push(d.device.clone());
                continue;
            }
            let (minor, _, p, start) = resolve(self.nvml, &d.device)?;
            let there = self.gi_at(minor, p, start)? == Some(d.gi)
                && self
                    .nvml
                    .compute_instances(minor, d.gi)?
                    .iter()
                    .any(|c| c.id == d.ci);
            if !there {
                self.cp.prepared.retain(|x| x.claim != d.claim);
                if let Some(gi) = self.gi_at(minor, p, start)? {
                    self.finish(&d.claim, &d.device, minor, p, gi)?;
                } else {
                    self.prepare(&d.claim, &d.device)?;
                }
                report.recreated.push(d.device.clone());
            }
        }
        // Claimed devices that exist but are not ours yet: adopt them.
        for (claim, device) in claims {
            if self.cp.prepared.iter().any(|d| &d.claim == claim) {
                continue;
            }
            let Ok((minor, _, p, start)) = resolve(self.nvml, device) else {
                continue;
            };
            if let Some(gi) = self.gi_at(minor, p, start)? {
                self.finish(claim, device, minor, p, gi)?;
                report.adopted.push(device.clone());
            }
        }
        // Everything else that exists is foreign: reported, never destroyed.
        for minor in 0..self.nvml.gpu_count()? {
            if self
                .nvml
                .mig_mode(minor)
                .map(|m| m.current)
                .unwrap_or(false)
            {
                for x in self.nvml.gpu_instances(minor)? {
                    let ours = self.cp.prepared.iter().any(|d| {
                        d.gi == x.id
                            && parse_mig_device(&d.device).is_ok_and(|(m, _, _)| m == minor)
                    });
                    if !ours {
                        report.foreign.push((minor, x.id));
                    }
                }
            }
        }
        self.save()?;
        Ok(report)
    }

    /// Records GPU instance `gi` (which exists) as `claim`'s `device`, making its full
    /// compute instance if it has none.
    fn finish(
        &mut self,
        claim: &str,
        device: &str,
        minor: u32,
        p: &GpuInstanceProfile,
        gi: u32,
    ) -> Result<(), Error> {
        let cis = self.nvml.compute_instances(minor, gi)?;
        let ci = match cis.first() {
            Some(c) => c.id,
            None => {
                let full = p
                    .compute_profiles
                    .iter()
                    .find(|c| c.compute_slices == p.compute_slices)
                    .ok_or_else(|| {
                        claim_err(
                            claim,
                            format!("{} has no full compute instance profile", p.name),
                        )
                    })?;
                self.nvml
                    .create_compute_instance(minor, gi, full.nvml_index.as_u32())?
                    .id
            }
        };
        let cdi = self.cdi(claim, device, minor, gi, ci)?;
        self.cp.in_flight.retain(|f| f.claim != claim);
        self.cp.prepared.retain(|d| d.claim != claim);
        self.cp.prepared.push(PreparedDevice {
            claim: claim.to_owned(),
            device: device.to_owned(),
            gi,
            ci,
            cdi,
        });
        self.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_refuse() {
        assert_eq!(
            parse_mig_device("gpu-3-mig-1g5gb-me-20-6").unwrap(),
            (3, 20, 6)
        );
        assert_eq!(parse_mig_device("gpu-0-mig-3g40gb-9-4").unwrap(), (0, 9, 4));
        for bad in [
            "gpu-0",
            "gpu-x-mig-1g5gb-19-0",
            "gpu-0-mig--19-0",
            "gpu-0-mig-1g5gb-19-999",
            "gpu-0-mig-19-0",
            "",
            "gpu-0-mig-1g5gb-19-",
        ] {
            assert!(parse_mig_device(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_access("DeviceFileMinor: 93\nDeviceFileMode: 292\n").unwrap(),
            93
        );
        assert!(parse_access("DeviceFileMode: 292\n").is_err());
    }

    #[test]
    fn capability_files_under_a_proc_root() {
        let root = std::env::temp_dir().join(format!("gpupart-caps-{}", std::process::id()));
        let gi = root.join("driver/nvidia/capabilities/gpu0/mig/gi3");
        std::fs::create_dir_all(gi.join("ci0")).unwrap();
        std::fs::write(
            gi.join("access"),
            "DeviceFileMinor: 30\nDeviceFileMode: 292\n",
        )
        .unwrap();
        std::fs::write(
            gi.join("ci0/access"),
            "DeviceFileMinor: 31\nDeviceFileMode: 292\n",
        )
        .unwrap();
        let caps = ProcCaps::new(&root);
        assert_eq!(caps.gi_minor(0, 3), Ok(30));
        assert_eq!(caps.ci_minor(0, 3, 0), Ok(31));
        let e = caps.gi_minor(0, 4).unwrap_err();
        assert!(e.contains("gi4"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
