//! The command line (clap, derive). Flags and environment variables of `gpupart mig` follow
//! nvidia-mig-parted's, so that scripts written for it run unchanged.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Partition NVIDIA data-center GPUs: MIG through NVML, on a real or a simulated host.
#[derive(Debug, Parser)]
#[command(name = "gpupart", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Run against a simulated host instead of NVML and /sys: dgx-a100, hgx-h100, mixed or
    /// gpu-host:N (N A100-40GB, 1 to 256).
    #[arg(long, global = true, env = "GPUPART_SIM", value_name = "HOST", value_parser = SimHost::parse)]
    pub(crate) sim: Option<SimHost>,
    /// The sysfs root for `sriov` commands (a real /sys, or a copy of one to read).
    #[arg(
        long,
        global = true,
        env = "GPUPART_SYSFS",
        default_value = "/sys",
        value_name = "ROOT"
    )]
    pub(crate) sysfs: PathBuf,
    /// Keep the simulated host's state in this file, so that a sequence of commands sees one
    /// host. Created with `--sim` on first use; later commands need only this flag.
    #[arg(long, global = true, env = "GPUPART_SIM_STATE", value_name = "PATH")]
    pub(crate) sim_state: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// A simulated host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SimHost {
    /// 8 x A100-SXM4-40GB, MIG off; mode changes wait for a reset.
    DgxA100,
    /// 8 x H100-SXM5-80GB, MIG off; mode changes take effect at once.
    HgxH100,
    /// 2 x A100-40GB, 2 x H100-80GB and an L4 without MIG.
    Mixed,
    /// N x A100-40GB (the SR-IOV simulator's GPU host), 1 to [`SimHost::MAX_GPUS`].
    GpuHost(u16),
}

impl SimHost {
    /// The most GPUs `gpu-host:N` may have.
    pub(crate) const MAX_GPUS: u16 = 256;

    /// Parses `dgx-a100`, `hgx-h100`, `mixed` or `gpu-host:N`.
    pub(crate) fn parse(s: &str) -> Result<SimHost, String> {
        match s {
            "dgx-a100" => Ok(SimHost::DgxA100),
            "hgx-h100" => Ok(SimHost::HgxH100),
            "mixed" => Ok(SimHost::Mixed),
            _ => match s.strip_prefix("gpu-host:").map(str::parse::<u16>) {
                Some(Ok(n)) if (1..=Self::MAX_GPUS).contains(&n) => Ok(SimHost::GpuHost(n)),
                _ => Err(format!(
                    "{} (expected dgx-a100, hgx-h100, mixed or gpu-host:N with N from 1 to {})",
                    gpupart_profiles::text::quote(s),
                    Self::MAX_GPUS
                )),
            },
        }
    }
}

impl std::fmt::Display for SimHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimHost::DgxA100 => f.write_str("dgx-a100"),
            SimHost::HgxH100 => f.write_str("hgx-h100"),
            SimHost::Mixed => f.write_str("mixed"),
            SimHost::GpuHost(n) => write!(f, "gpu-host:{n}"),
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// MIG: nvidia-mig-parted's commands, and more.
    Mig(MigArgs),
    /// SR-IOV: virtual functions, their drivers, and a host check.
    #[command(subcommand)]
    Sriov(SriovCommand),
    /// vGPU: types (mdev or NVIDIA's vendor interface), setting a VF's type, nova.conf.
    #[command(subcommand)]
    Vgpu(VgpuCommand),
    /// Kubernetes DRA: the node's MIG partitionable devices as ResourceSlices.
    #[command(subcommand)]
    Dra(DraCommand),
    /// Place requested MIG instances on the node's GPUs with the fleet solver; print the plan,
    /// its bound and gap; `--apply` carries it out.
    Solve(SolveArgs),
}

/// `gpupart mig`.
#[derive(Debug, Args)]
pub(crate) struct MigArgs {
    /// Debug output (the operations, the hooks) on stderr.
    #[arg(short = 'd', long, global = true, env = "MIG_PARTED_DEBUG",
          value_parser = BoolishValueParser::new(), default_value_t = false, num_args = 0,
          default_missing_value = "true")]
    pub(crate) debug: bool,
    /// The command.
    #[command(subcommand)]
    pub(crate) command: MigCommand,
}

/// `gpupart mig …`.
#[derive(Debug, Subcommand)]
pub(crate) enum MigCommand {
    /// Apply a configuration from a mig-parted file (only what differs is changed).
    Apply(ApplyArgs),
    /// Check that a configuration is applied (exit 1 when not), or with `--valid-config`
    /// that it is valid for this node.
    Assert(AssertArgs),
    /// Print the current MIG state as a mig-parted configuration.
    Export(ExportArgs),
    /// Print the operations an apply would perform, with explicit placements; change nothing.
    Plan(Selection),
    /// Print a configuration file for this node's GPUs: `all-disabled`, `all-enabled` and
    /// `all-<profile>` for every profile they offer.
    GenerateConfig(GenerateArgs),
    /// Save the exact MIG state (modes, placements, compute instances) to a file.
    Checkpoint(CheckpointArgs),
    /// Bring the GPUs back to a checkpoint: the same placements and compute instances.
    Restore(RestoreArgs),
    /// List the GPU instance profiles (`nvidia-smi mig -lgip`).
    Lgip,
    /// List the GPU instance profiles' possible placements (`nvidia-smi mig -lgipp`).
    Lgipp,
    /// List the GPU instances (`nvidia-smi mig -lgi`).
    Lgi,
    /// List the compute instances (`nvidia-smi mig -lci`).
    Lci,
}

/// `-f FILE -c NAME`.
#[derive(Debug, Clone, Args)]
pub(crate) struct Selection {
    /// Path to the configuration file.
    #[arg(short = 'f', long = "config-file", env = "MIG_PARTED_CONFIG_FILE")]
    pub(crate) config_file: PathBuf,
    /// The label of the mig-config in the file.
    #[arg(
        short = 'c',
        long = "selected-config",
        env = "MIG_PARTED_SELECTED_CONFIG"
    )]
    pub(crate) selected_config: String,
}

/// `gpupart mig apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The configuration.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Path to the hooks file (mig-parted's format: apply-start, pre-apply-mode,
    /// pre-apply-config, apply-exit).
    #[arg(short = 'k', long = "hooks-file", env = "MIG_PARTED_HOOKS_FILE")]
    pub(crate) hooks_file: Option<PathBuf>,
    /// Do not reset GPUs after changing their MIG mode.
    #[arg(short = 's', long = "skip-reset", env = "MIG_PARTED_SKIP_RESET",
          value_parser = BoolishValueParser::new(), default_value_t = false, num_args = 0,
          default_missing_value = "true")]
    pub(crate) skip_reset: bool,
    /// Change only the MIG mode, not the MIG devices.
    #[arg(short = 'm', long = "mode-only", env = "MIG_PARTED_MODE_CHANGE_ONLY",
          value_parser = BoolishValueParser::new(), default_value_t = false, num_args = 0,
          default_missing_value = "true")]
    pub(crate) mode_only: bool,
    /// Print what would be done; change nothing and run no hooks.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `gpupart mig assert`.
#[derive(Debug, Args)]
pub(crate) struct AssertArgs {
    /// The configuration.
    #[command(flatten)]
    pub(crate) selection: Selection,
    /// Only check that the configuration is valid for this node's GPUs.
    #[arg(short = 'a', long = "valid-config", env = "MIG_PARTED_VALID_CONFIG",
          value_parser = BoolishValueParser::new(), default_value_t = false, num_args = 0,
          default_missing_value = "true")]
    pub(crate) valid_config: bool,
}

/// `gpupart mig export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Output format.
    #[arg(short = 'o', long = "output-format", value_enum, default_value_t = OutputFormat::Yaml)]
    pub(crate) output_format: OutputFormat,
    /// The label of the exported configuration.
    #[arg(short = 'l', long = "config-label", default_value = "current")]
    pub(crate) config_label: String,
}

/// `--output-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// `gpupart mig generate-config`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Output format.
    #[arg(short = 'o', long = "output-format", value_enum, default_value_t = OutputFormat::Yaml)]
    pub(crate) output_format: OutputFormat,
}

/// `-f FILE` of `checkpoint` and `restore`.
#[derive(Debug, Args)]
pub(crate) struct CheckpointArgs {
    /// The checkpoint file (JSON).
    #[arg(
        short = 'f',
        long = "checkpoint-file",
        env = "MIG_PARTED_CHECKPOINT_FILE"
    )]
    pub(crate) checkpoint_file: PathBuf,
}

/// `gpupart mig restore`.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The checkpoint to restore.
    #[command(flatten)]
    pub(crate) checkpoint: CheckpointArgs,
    /// Path to the hooks file, run as for apply.
    #[arg(short = 'k', long = "hooks-file", env = "MIG_PARTED_HOOKS_FILE")]
    pub(crate) hooks_file: Option<PathBuf>,
    /// Do not reset GPUs after changing their MIG mode.
    #[arg(short = 's', long = "skip-reset", env = "MIG_PARTED_SKIP_RESET",
          value_parser = BoolishValueParser::new(), default_value_t = false, num_args = 0,
          default_missing_value = "true")]
    pub(crate) skip_reset: bool,
}

/// `gpupart solve`.
#[derive(Debug, Args)]
pub(crate) struct SolveArgs {
    /// A request, `PROFILE=COUNT` (`-r 3g.20gb=2 -r 1g.5gb=7`).
    #[arg(short = 'r', long = "request", value_name = "PROFILE=COUNT")]
    pub(crate) requests: Vec<String>,
    /// Requests from a file: a YAML or JSON list of `{profile, count, model?, gpus?,
    /// priority?}`.
    #[arg(short = 'f', long = "file")]
    pub(crate) file: Option<PathBuf>,
    /// Plan for the GPUs of a fleet file instead of the node's: a YAML or JSON list of
    /// `{index, model, mig_enabled?, numa_node?, instances?: [{profile, start, in_use?}]}`.
    #[arg(long, value_name = "FILE", conflicts_with = "apply")]
    pub(crate) fleet: Option<PathBuf>,
    /// GPUs with MIG off may be used (the plan enables MIG there).
    #[arg(long)]
    pub(crate) enable_mig: bool,
    /// Carry the plan out (MIG mode, resets as for `mig apply`, instances at the plan's
    /// placements).
    #[arg(long)]
    pub(crate) apply: bool,
    /// With `--apply`: do not reset GPUs after changing their MIG mode.
    #[arg(short = 's', long = "skip-reset")]
    pub(crate) skip_reset: bool,
}

/// `gpupart sriov …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SriovCommand {
    /// Check the host for SR-IOV and vGPU: IOMMU, drivers, VF counts (exit 1 on a problem).
    Doctor,
    /// List the NVIDIA GPUs with their SR-IOV state and VFs.
    List,
    /// Enable N VFs on a GPU (checked, re-read, waited for).
    Enable {
        /// The physical function.
        #[arg(long, value_name = "ADDR")]
        pf: String,
        /// How many VFs.
        #[arg(long, value_name = "N")]
        vfs: u16,
        /// Allow changing a non-zero count (0 is written first, which removes the VFs).
        #[arg(long)]
        allow_disruption: bool,
    },
    /// Disable the VFs of a GPU.
    Disable {
        /// The physical function.
        #[arg(long, value_name = "ADDR")]
        pf: String,
        /// Allow it while VFs are in use by a driver.
        #[arg(long)]
        allow_disruption: bool,
    },
    /// Bind a VF (or any PCI function) to a driver.
    Bind {
        /// The function.
        #[arg(long, value_name = "ADDR")]
        vf: String,
        /// The driver (`vfio-pci`, `nvidia`, …).
        #[arg(long, value_name = "D")]
        driver: String,
    },
    /// Turn the automatic probing of new VFs by drivers on or off.
    Autoprobe {
        /// The physical function.
        #[arg(long, value_name = "ADDR")]
        pf: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

/// Where the vGPU manager keeps its state by default.
pub(crate) const DEFAULT_VGPU_STATE: &str = "/var/lib/gpupart/vgpu.state";

/// `--state-file`: the vGPU host manager's state file.
#[derive(Debug, Args)]
pub(crate) struct StateFileArg {
    /// The host's vGPU state file.
    #[arg(long, env = "GPUPART_VGPU_STATE", default_value = DEFAULT_VGPU_STATE)]
    pub(crate) state_file: PathBuf,
}

/// `gpupart vgpu …`.
#[derive(Debug, Subcommand)]
pub(crate) enum VgpuCommand {
    /// The vGPU types each device offers now: mdev types per parent, or under NVIDIA's vendor
    /// interface the creatable types and the current one per VF.
    Types,
    /// Give a VF a vGPU: under NVIDIA's vendor interface a type ID, checked against
    /// `creatable_vgpu_types` first; on an mdev parent an mdev type directory (`nvidia-700`),
    /// made as an mdev with a fresh UUID. `--type none` clears it.
    Set {
        /// The VF.
        #[arg(long, value_name = "ADDR")]
        vf: String,
        /// The type ID (vendor), the mdev type (`nvidia-700`), or `none`.
        #[arg(long = "type", value_name = "ID|TYPE|none")]
        type_id: String,
    },
    /// Make exactly these vGPUs on a GPU (NVML index) with the MIG layout MIG-backed types
    /// need (GPU instances kept or added, no compute instances), then record the VFs, the MIG
    /// layout and the vGPUs in the state file for `restore`.
    Apply {
        /// The GPU's NVML index.
        #[arg(long, value_name = "INDEX")]
        gpu: u32,
        /// `NVIDIA A100-3-20C=2` (repeat for more types; `=0` removes a type).
        #[arg(short = 't', long = "type", value_name = "TYPE=COUNT", required = true)]
        types: Vec<String>,
        /// The host's vGPU state file.
        #[command(flatten)]
        state: StateFileArg,
        /// Plan only.
        #[arg(long)]
        dry_run: bool,
    },
    /// At boot: make the recorded host again (VFs, MIG layout, vGPUs at their slots);
    /// idempotent.
    Restore {
        /// The host's vGPU state file.
        #[command(flatten)]
        state: StateFileArg,
    },
    /// Report vGPUs the state does not record or whose owner is not live; `--clear` clears
    /// them, never a protected one or one a running VM holds open.
    Reconcile {
        /// The host's vGPU state file.
        #[command(flatten)]
        state: StateFileArg,
        /// A live owner (repeat).
        #[arg(long = "live", value_name = "OWNER")]
        live: Vec<String>,
        /// A slot never to touch (`VF` or `PARENT/UUID`; repeat).
        #[arg(long = "protect", value_name = "SLOT")]
        protect: Vec<String>,
        /// Clear the orphans.
        #[arg(long)]
        clear: bool,
    },
    /// Record OWNER (a VM's UUID) as the owner of the vGPU at SLOT.
    Claim {
        /// `VF` or `PARENT/UUID`.
        #[arg(long, value_name = "SLOT")]
        slot: String,
        /// The owner.
        #[arg(long, value_name = "OWNER")]
        owner: String,
        /// The host's vGPU state file.
        #[command(flatten)]
        state: StateFileArg,
    },
    /// Clear the vGPU at SLOT for its owner; refused for another owner or while a VM holds it.
    Release {
        /// `VF` or `PARENT/UUID`.
        #[arg(long, value_name = "SLOT")]
        slot: String,
        /// The owner.
        #[arg(long, value_name = "OWNER")]
        owner: String,
        /// The host's vGPU state file.
        #[command(flatten)]
        state: StateFileArg,
    },
    /// Print nova.conf's `[devices]` and `[mdev_*]` sections for TYPE=ADDR,ADDR… mappings.
    NovaConf {
        /// `nvidia-471=0000:07:00.4,0000:07:00.5` (repeat for more types).
        #[arg(long = "map", value_name = "TYPE=ADDR[,ADDR…]", required = true)]
        maps: Vec<String>,
        /// `max_instances` for every type (Nova since Caracal, for SR-IOV GPUs).
        #[arg(long)]
        max_instances: Option<u32>,
    },
}

/// `gpupart dra …`.
#[derive(Debug, Subcommand)]
pub(crate) enum DraCommand {
    /// Print the node's ResourceSlices (YAML documents; `--json`: a JSON array): one counter
    /// set per MIG GPU, the full GPUs and one device per legal (profile, placement), named and
    /// described as NVIDIA's DRA driver does, within every API limit.
    Slices {
        /// The node's name.
        #[arg(long, default_value = "node")]
        node: String,
        /// Device order: gpupart (the first fit picks what gpupart's online placement would)
        /// or nvidia (per GPU, profiles in table order, starts ascending).
        #[arg(long, default_value = "gpupart", value_parser = ["gpupart", "nvidia"])]
        order: String,
        /// A GPU instance allocated through DRA, `GPU:START` (repeat); other existing
        /// instances are foreign and their counters are taken out.
        #[arg(long = "claimed", value_name = "GPU:START")]
        claimed: Vec<String>,
    },
}
