//! The host state file: what apply made (VFs per GPU, the MIG layout the vGPUs need, every
//! vGPU with its type, GPU instance, placement and owner), so that `restore` can make it again
//! at boot — VFs and vGPU types do not survive a reboot — and so that owners survive a
//! restart of the manager. A small line format, parsed strictly (no serde needed):
//!
//! ```text
//! gpupart-vgpu-state 1
//! vfs 0000:07:00.0 4
//! mig 0000:07:00.0 3g.20gb@0 3g.20gb@4
//! type 705 NVIDIA A100-3-20C
//! vgpu 0000:07:00.0 0000:07:00.4 type=705 gi=1@0 placement=- owner=vm-1 name=NVIDIA A100-3-20C
//! ```
//!
//! `gi=ID@START` records the GPU instance and its start slice: after a reboot the instance is
//! made again at the same start, under a new ID, and restore follows the start.

use std::path::Path;
use std::sync::Arc;

use super::types::{Owner, Vgpu, VgpuSlot, VgpuTypeId};
use crate::{Error, PciAddress};

/// The most bytes a state file may have.
pub const MAX_STATE_BYTES: usize = 4 << 20;

const HEADER: &str = "gpupart-vgpu-state 1";

/// One vGPU as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct RecordedVgpu {
    /// The vGPU.
    pub vgpu: Vgpu,
    /// The start slice of its GPU instance, for a MIG-backed one.
    pub gi_start: Option<u8>,
    /// Who it is for, once claimed.
    pub owner: Option<Owner>,
}

/// One GPU's MIG layout as recorded: (profile, start) of each GPU instance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct RecordedMig {
    /// The GPU (its PF).
    pub gpu: PciAddress,
    /// (profile, start slice).
    pub instances: Vec<(String, u8)>,
}

/// The host state file's contents.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct HostState {
    /// VFs enabled per GPU.
    pub vfs: Vec<(PciAddress, u16)>,
    /// MIG layouts, for GPUs with MIG-backed vGPUs.
    pub mig: Vec<RecordedMig>,
    /// Every vGPU.
    pub vgpus: Vec<RecordedVgpu>,
    /// The vendor-interface types seen offered (ID, name): `creatable_vgpu_types` lists only
    /// what a VF can take now, so a type is known by name even when the card is full.
    pub types: Vec<(u32, String)>,
}

fn state_err(line: usize, text: &str, expected: &str) -> Error {
    Error::State {
        line,
        value: text.chars().take(80).collect(),
        expected: expected.to_owned(),
    }
}

impl HostState {
    /// The recorded vGPU at `slot`.
    #[must_use]
    pub fn vgpu(&self, slot: &VgpuSlot) -> Option<&RecordedVgpu> {
        self.vgpus.iter().find(|r| r.vgpu.slot == *slot)
    }

    /// The owner recorded for `slot`.
    #[must_use]
    pub fn owner(&self, slot: &VgpuSlot) -> Option<&Owner> {
        self.vgpu(slot).and_then(|r| r.owner.as_ref())
    }

    /// The MIG layout recorded for `gpu`.
    #[must_use]
    pub fn mig_of(&self, gpu: PciAddress) -> Option<&RecordedMig> {
        self.mig.iter().find(|m| m.gpu == gpu)
    }

    /// Remembers the vendor-interface types of `views`.
    pub fn learn_types(&mut self, views: &[super::GpuVgpus]) {
        for v in views {
            for (t, name) in &v.types {
                if let VgpuTypeId::Vendor(id) = t
                    && !self.types.iter().any(|(x, _)| x == id)
                {
                    self.types.push((*id, name.clone()));
                }
            }
        }
        self.types.sort();
    }

    /// Records `gpu`'s MIG layout, replacing what was there.
    pub fn set_mig(&mut self, gpu: PciAddress, instances: Vec<(String, u8)>) {
        self.mig.retain(|m| m.gpu != gpu);
        if !instances.is_empty() {
            self.mig.push(RecordedMig { gpu, instances });
            self.mig.sort_by_key(|m| m.gpu);
        }
    }

    /// The file's text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for (pf, n) in &self.vfs {
            s.push_str(&format!("vfs {pf} {n}\n"));
        }
        for m in &self.mig {
            s.push_str(&format!("mig {}", m.gpu));
            for (p, start) in &m.instances {
                s.push_str(&format!(" {p}@{start}"));
            }
            s.push('\n');
        }
        for (id, name) in &self.types {
            s.push_str(&format!("type {id} {name}\n"));
        }
        for r in &self.vgpus {
            let v = &r.vgpu;
            let gi = match (v.gpu_instance_id, r.gi_start) {
                (Some(id), Some(st)) => format!("{id}@{st}"),
                (Some(id), None) => id.to_string(),
                (None, _) => "-".to_owned(),
            };
            let opt = |o: Option<String>| o.unwrap_or_else(|| "-".to_owned());
            s.push_str(&format!(
                "vgpu {} {} type={} gi={gi} placement={} owner={}",
                v.gpu,
                v.slot,
                v.type_id,
                opt(v.placement_id.map(|p| p.to_string())),
                opt(r.owner.as_ref().map(ToString::to_string)),
            ));
            if let Some(n) = &v.type_name {
                s.push_str(&format!(" name={n}"));
            }
            s.push('\n');
        }
        s
    }

    /// Parses a state file's text.
    ///
    /// # Errors
    /// [`Error::State`] naming the line, the offending text and what was expected.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.len() > MAX_STATE_BYTES {
            return Err(state_err(
                0,
                &format!("{} bytes", text.len()),
                "a state file of at most 4 MiB",
            ));
        }
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end()));
        match lines.next() {
            Some((_, HEADER)) => {}
            Some((n, l)) => return Err(state_err(n, l, HEADER)),
            None => return Err(state_err(1, "", HEADER)),
        }
        let mut st = HostState::default();
        for (n, line) in lines {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            match kind {
                "vfs" => {
                    let mut f = rest.split(' ');
                    let pf = f.next().and_then(|s| s.parse::<PciAddress>().ok());
                    let count = f.next().and_then(|s| s.parse::<u16>().ok());
                    match (pf, count, f.next()) {
                        (Some(pf), Some(c), None) if !st.vfs.iter().any(|(p, _)| *p == pf) => {
                            st.vfs.push((pf, c));
                        }
                        _ => return Err(state_err(n, line, "vfs PF-ADDRESS COUNT, once per PF")),
                    }
                }
                "mig" => {
                    let mut f = rest.split(' ');
                    let gpu: PciAddress = f
                        .next()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| state_err(n, line, "mig PF-ADDRESS PROFILE@START…"))?;
                    let mut instances = Vec::new();
                    for item in f {
                        let (p, start) = item
                            .split_once('@')
                            .and_then(|(p, s)| Some((p, s.parse::<u8>().ok()?)))
                            .filter(|(p, _)| {
                                !p.is_empty()
                                    && p.len() <= 32
                                    && p.bytes()
                                        .all(|b| b.is_ascii_alphanumeric() || b"._+".contains(&b))
                            })
                            .ok_or_else(|| state_err(n, item, "PROFILE@START, e.g. 3g.20gb@4"))?;
                        instances.push((p.to_owned(), start));
                    }
                    if st.mig_of(gpu).is_some() {
                        return Err(state_err(n, line, "one mig line per GPU"));
                    }
                    st.mig.push(RecordedMig { gpu, instances });
                }
                "type" => {
                    let (id, name) = rest
                        .split_once(' ')
                        .and_then(|(id, n)| Some((id.parse::<u32>().ok()?, n)))
                        .filter(|(_, n)| {
                            !n.is_empty() && n.len() <= 128 && !n.chars().any(char::is_control)
                        })
                        .ok_or_else(|| state_err(n, line, "type ID NAME"))?;
                    if st.types.iter().any(|(t, _)| *t == id) {
                        return Err(state_err(n, line, "one type line per ID"));
                    }
                    st.types.push((id, name.to_owned()));
                }
                "vgpu" => {
                    let r = parse_vgpu(n, rest)?;
                    if st.vgpu(&r.vgpu.slot).is_some() {
                        return Err(state_err(n, line, "one vgpu line per slot"));
                    }
                    st.vgpus.push(r);
                }
                _ => return Err(state_err(n, kind, "a line starting vfs, mig, type or vgpu")),
            }
        }
        Ok(st)
    }

    /// Reads the state file at `path`; a missing file is an empty state.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read; [`Error::State`] when it does not parse.
    pub fn load(path: &Path) -> Result<Self, Error> {
        use std::io::Read;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(io_err(path, e)),
        };
        let mut text = String::new();
        file.take(MAX_STATE_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .map_err(|e| io_err(path, e))?;
        Self::parse(&text)
    }

    /// Writes the state file at `path` atomically (a temporary file beside it, renamed).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let tmp = path.with_extension("tmp");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        std::fs::write(&tmp, self.to_text()).map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
    }
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        io: Arc::new(e),
    }
}

fn parse_vgpu(n: usize, rest: &str) -> Result<RecordedVgpu, Error> {
    const FORM: &str =
        "vgpu PF SLOT type=ID gi=ID[@START]|- placement=N|- owner=NAME|- [name=TYPE NAME]";
    let (fields, name) = match rest.split_once(" name=") {
        Some((f, name)) => (f, Some(name.to_owned())),
        None => (rest, None),
    };
    let f: Vec<&str> = fields.split(' ').collect();
    let [gpu, slot, ty, gi, placement, owner] = f.as_slice() else {
        return Err(state_err(n, rest, FORM));
    };
    let val = |field: &str, key: &str| -> Result<Option<String>, Error> {
        let v = field
            .strip_prefix(key)
            .ok_or_else(|| state_err(n, field, FORM))?;
        Ok((v != "-").then(|| v.to_owned()))
    };
    let gpu: PciAddress = gpu.parse().map_err(|_| state_err(n, gpu, "a PF address"))?;
    let slot: VgpuSlot = slot
        .parse()
        .map_err(|e: crate::ValueError| state_err(n, slot, e.expected))?;
    let type_id: VgpuTypeId = val(ty, "type=")?
        .ok_or_else(|| state_err(n, ty, "type=ID"))?
        .parse()
        .map_err(|e: crate::ValueError| state_err(n, ty, e.expected))?;
    let (gpu_instance_id, gi_start) = match val(gi, "gi=")? {
        None => (None, None),
        Some(v) => {
            let (id, start) = match v.split_once('@') {
                Some((id, s)) => (id, Some(s)),
                None => (v.as_str(), None),
            };
            let id: u32 = id.parse().map_err(|_| state_err(n, gi, "gi=ID[@START]"))?;
            let start = start
                .map(|s| s.parse::<u8>().map_err(|_| state_err(n, gi, "gi=ID@START")))
                .transpose()?;
            (Some(id), start)
        }
    };
    let placement_id = val(placement, "placement=")?
        .map(|p| {
            p.parse::<u32>()
                .map_err(|_| state_err(n, placement, "placement=N or -"))
        })
        .transpose()?;
    let owner = val(owner, "owner=")?
        .map(|o| {
            o.parse::<Owner>()
                .map_err(|e| state_err(n, owner, e.expected))
        })
        .transpose()?;
    if let Some(name) = &name
        && (name.is_empty() || name.len() > 128 || name.chars().any(char::is_control))
    {
        return Err(state_err(
            n,
            name,
            "a type name of 1 to 128 printable characters",
        ));
    }
    Ok(RecordedVgpu {
        vgpu: Vgpu {
            gpu,
            slot,
            type_id,
            type_name: name,
            gpu_instance_id,
            placement_id,
        },
        gi_start,
        owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "gpupart-vgpu-state 1\nvfs 0000:07:00.0 4\nmig 0000:07:00.0 3g.20gb@0 3g.20gb@4\nvgpu 0000:07:00.0 0000:07:00.4 type=705 gi=1@0 placement=- owner=vm-1 name=NVIDIA A100-3-20C\nvgpu 0000:0f:00.0 0000:0f:00.4/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 type=nvidia-699 gi=- placement=- owner=- name=NVIDIA A100-8C\n";

    #[test]
    fn round_trips_a_sample() {
        let st = HostState::parse(SAMPLE).unwrap();
        assert_eq!(st.vfs.len(), 1);
        assert_eq!(
            st.mig[0].instances,
            [("3g.20gb".to_owned(), 0), ("3g.20gb".to_owned(), 4)]
        );
        assert_eq!(st.vgpus[0].owner.as_ref().map(Owner::as_str), Some("vm-1"));
        assert_eq!(st.vgpus[0].gi_start, Some(0));
        assert_eq!(st.to_text(), SAMPLE);
    }

    #[test]
    fn refusals_name_the_line() {
        for (bad, line) in [
            ("", 1),
            ("gpupart-vgpu-state 2\n", 1),
            ("gpupart-vgpu-state 1\nvfs 0000:07:00.0\n", 2),
            (
                "gpupart-vgpu-state 1\nvfs 0000:07:00.0 4\nvfs 0000:07:00.0 4\n",
                3,
            ),
            ("gpupart-vgpu-state 1\nmig 0000:07:00.0 3g.20gb\n", 2),
            (
                "gpupart-vgpu-state 1\nvgpu 0000:07:00.0 0000:07:00.4 type=../x gi=- placement=- owner=-\n",
                2,
            ),
            (
                "gpupart-vgpu-state 1\nvgpu 0000:07:00.0 0000:07:00.4 type=1 gi=- placement=- owner=a b\n",
                2,
            ),
            ("gpupart-vgpu-state 1\nwhat\n", 2),
        ] {
            match HostState::parse(bad) {
                Err(Error::State { line: l, .. }) => assert_eq!(l, line, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_what_parses_round_trips(s in "gpupart-vgpu-state 1\n(((vfs|mig|vgpu) [ -~]{0,60})\n){0,4}") {
            if let Ok(st) = HostState::parse(&s) {
                prop_assert_eq!(HostState::parse(&st.to_text()).unwrap(), st);
            }
        }
    }
}
