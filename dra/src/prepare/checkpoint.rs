//! The checkpoint: what is being made and what was made, so a restart neither leaks nor
//! creates twice; and what adoption at start found.

use serde::{Deserialize, Serialize};

use super::CdiDevice;

/// A device being made: recorded before its first NVML call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InFlight {
    /// The claim's UID.
    pub claim: String,
    /// The device's name.
    pub device: String,
    /// The GPU instance made so far, if any.
    pub gi: Option<u32>,
}

/// A prepared device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PreparedDevice {
    /// The claim's UID.
    pub claim: String,
    /// The device's name.
    pub device: String,
    /// Its GPU instance.
    pub gi: u32,
    /// Its compute instance.
    pub ci: u32,
    /// What the container got.
    pub cdi: CdiDevice,
}

/// The checkpoint file's contents (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Checkpoint {
    /// Format version (1).
    pub version: u32,
    /// Devices being made.
    pub in_flight: Vec<InFlight>,
    /// Devices made.
    pub prepared: Vec<PreparedDevice>,
}

/// What [`Preparer::adopt`](super::Preparer::adopt) found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdoptReport {
    /// In-flight devices completed (their claim is still allocated): device names.
    pub completed: Vec<String>,
    /// In-flight devices rolled back (their claim is gone).
    pub rolled_back: Vec<String>,
    /// Prepared devices that vanished and were made again.
    pub recreated: Vec<String>,
    /// Prepared devices whose claim is gone, unprepared.
    pub cleaned: Vec<String>,
    /// Existing MIG devices taken over for a claim that names them.
    pub adopted: Vec<String>,
    /// Existing GPU instances neither ours nor claimed: (GPU, GPU instance ID), left alone.
    pub foreign: Vec<(u32, u32)>,
}
