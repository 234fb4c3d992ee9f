//! `gpupart mig …`: nvidia-mig-parted's apply, assert and export over gpupart's library,
//! plus `plan`, `lgi` and `lci`.

use gpupart_mig::Backend;
use gpupart_mig::apply::{ApplyOptions, ApplyReport, DesiredGpu, Op, apply, plan};
use gpupart_mig::config::{self, MigPartedConfig};
use gpupart_mig::profiles_table;
use gpupart_mig::state::{GpuState, lci_table, lgi_table, read_all};
use serde_json::json;

use crate::args::{
    ApplyArgs, AssertArgs, Cli, ExportArgs, MigArgs, MigCommand, OutputFormat, Selection,
};
use crate::checkpoint;
use crate::failure::Failure;
use crate::hooks::{Hooks, Point};
use crate::host::Host;
use crate::input::read_limited;
use crate::output::{print_json, progress};

/// Runs a `gpupart mig` command.
pub(crate) fn run(cli: &Cli, m: &MigArgs) -> Result<(), Failure> {
    // Files and flags are checked before the host is opened. A simulated host's state file
    // is written by every command (created on first use: `open_saved`), after each change
    // by those that change it.
    match &m.command {
        MigCommand::Apply(a) => {
            let config = load_config(&a.selection)?;
            let hooks = Hooks::load_opt(a.hooks_file.as_deref())?;
            let host = Host::open(cli)?;
            let target = Target::Config {
                config: &config,
                name: &a.selection.selected_config,
            };
            let result = run_apply(cli, m.debug, &host, &target, a, &hooks);
            host.save()?;
            result
        }
        MigCommand::Assert(a) => {
            let config = load_config(&a.selection)?;
            let host = open_saved(cli)?;
            run_assert(cli, &host, &config, a)
        }
        MigCommand::Export(e) => {
            let host = open_saved(cli)?;
            run_export(&host, e)
        }
        MigCommand::Plan(s) => {
            let config = load_config(s)?;
            let host = open_saved(cli)?;
            let gpus = read_all(host.backend())?;
            let desired = config::desired_state(&config, &s.selected_config, &gpus)?;
            let changes = plan(&gpus, &desired, false)?;
            if cli.json {
                print_json(&json!({
                    "ops": changes.ops.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "resets_needed": changes.resets_needed,
                }));
            } else {
                if changes.ops.is_empty() {
                    println!(
                        "nothing to do: configuration {} is applied",
                        s.selected_config
                    );
                }
                print_ops(&changes.ops);
                for g in &changes.resets_needed {
                    println!("GPU {g}: MIG mode pending until a reset; its instances follow it");
                }
            }
            Ok(())
        }
        MigCommand::GenerateConfig(g) => {
            let host = open_saved(cli)?;
            let generated = config::generate(&read_all(host.backend())?);
            print_config(&generated, g.output_format)
        }
        MigCommand::Checkpoint(c) => {
            let host = open_saved(cli)?;
            checkpoint::write(&read_all(host.backend())?, &c.checkpoint_file)?;
            if !cli.json {
                println!("MIG state saved to {}", c.checkpoint_file.display());
            }
            Ok(())
        }
        MigCommand::Restore(r) => {
            let hooks = Hooks::load_opt(r.hooks_file.as_deref())?;
            let saved = checkpoint::read(&r.checkpoint.checkpoint_file)?;
            let host = Host::open(cli)?;
            let desired = saved.desired(&read_all(host.backend())?)?;
            let flow = Flow {
                skip_reset: r.skip_reset,
                mode_only: false,
                debug: m.debug,
                json: cli.json,
                hooks: &hooks,
                env: vec![
                    (
                        "MIG_PARTED_CHECKPOINT_FILE",
                        r.checkpoint.checkpoint_file.display().to_string(),
                    ),
                    ("MIG_PARTED_SKIP_RESET", r.skip_reset.to_string()),
                    ("MIG_PARTED_DEBUG", m.debug.to_string()),
                ],
            };
            let result = run_flow(&host, &Target::Exact(&desired), &flow);
            host.save()?;
            result
        }
        MigCommand::Lgip | MigCommand::Lgipp => {
            let host = open_saved(cli)?;
            let backend = host.backend();
            let gpus: Vec<u32> = read_all(backend)?
                .iter()
                .filter(|g| g.mig.is_some())
                .map(|g| g.info.index)
                .collect();
            if matches!(m.command, MigCommand::Lgip) {
                print!("{}", profiles_table::lgip_table(backend, &gpus)?);
            } else {
                print!("{}", profiles_table::lgipp_table(backend, &gpus)?);
            }
            Ok(())
        }
        MigCommand::Lgi | MigCommand::Lci => {
            let host = open_saved(cli)?;
            let gpus = read_all(host.backend())?;
            if cli.json {
                print_json(&json!(gpus.iter().map(gpu_json).collect::<Vec<_>>()));
            } else if matches!(m.command, MigCommand::Lgi) {
                print!("{}", lgi_table(&gpus));
            } else {
                print!("{}", lci_table(&gpus));
            }
            Ok(())
        }
    }
}

/// Opens the host and writes a simulated one's state file at once (creating it on first use),
/// for the commands that change nothing.
fn open_saved(cli: &Cli) -> Result<Host, Failure> {
    let host = Host::open(cli)?;
    host.save()?;
    Ok(host)
}

/// One GPU's state as JSON (the `--json` schema of `lgi`/`lci`).
fn gpu_json(g: &GpuState) -> serde_json::Value {
    json!({
        "gpu": g.info.index,
        "name": g.info.name,
        "uuid": g.info.uuid,
        "mig": g.mig.map(|m| json!({"current": m.current, "pending": m.pending})),
        "instances": g.instances.iter().map(|x| json!({
            "id": x.id,
            "profile": x.profile.name.to_string(),
            "start": x.placement.start,
            "size": x.placement.size,
            "compute": x.compute.iter().map(|(id, c)| json!({"id": id, "profile": c.name.to_string()})).collect::<Vec<_>>(),
            "processes": x.processes,
        })).collect::<Vec<_>>(),
    })
}

/// Reads and parses `-f`, and checks that `-c` names one of its configurations.
fn load_config(s: &Selection) -> Result<MigPartedConfig, Failure> {
    // The library's limit: a larger file is not read at all.
    let text = read_limited(&s.config_file, config::MAX_CONFIG_BYTES as u64)
        .map_err(|m| Failure::Input(format!("config file {}: {m}", s.config_file.display())))?;
    let config = MigPartedConfig::parse(&text)
        .map_err(|e| Failure::from(e).context(&format!("{}", s.config_file.display())))?;
    config.config(&s.selected_config)?;
    Ok(config)
}

/// The environment mig-parted hands its hooks: every apply flag by its variable.
fn hook_env(a: &ApplyArgs, debug: bool) -> Vec<(&'static str, String)> {
    vec![
        (
            "MIG_PARTED_CONFIG_FILE",
            a.selection.config_file.display().to_string(),
        ),
        (
            "MIG_PARTED_SELECTED_CONFIG",
            a.selection.selected_config.clone(),
        ),
        (
            "MIG_PARTED_HOOKS_FILE",
            a.hooks_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        ("MIG_PARTED_SKIP_RESET", a.skip_reset.to_string()),
        ("MIG_PARTED_MODE_CHANGE_ONLY", a.mode_only.to_string()),
        ("MIG_PARTED_DEBUG", debug.to_string()),
    ]
}

/// What an apply aims at: a named configuration, or an exact state (a checkpoint).
pub(crate) enum Target<'a> {
    /// `-f FILE -c NAME`.
    Config {
        /// The file.
        config: &'a MigPartedConfig,
        /// The configuration.
        name: &'a str,
    },
    /// Exactly these GPUs, placements and compute instances.
    Exact(&'a [DesiredGpu]),
}

impl Target<'_> {
    fn desired(&self, gpus: &[GpuState]) -> Result<Vec<DesiredGpu>, Failure> {
        match self {
            Target::Config { config, name } => Ok(config::desired_state(config, name, gpus)?),
            Target::Exact(d) => Ok(d.to_vec()),
        }
    }

    /// Whether the GPUs hold the target (MIG mode current and instances).
    fn holds(&self, gpus: &[GpuState]) -> bool {
        match self {
            Target::Config { config, name } => config::assert_config(config, name, gpus).is_ok(),
            Target::Exact(desired) => desired.iter().all(|d| {
                gpus.iter()
                    .find(|g| g.info.index == d.gpu)
                    .is_some_and(|g| {
                        g.mig.is_some_and(|m| m.current == d.mig_enabled)
                            && (!d.mig_enabled
                                || instance_keys(&DesiredGpu::from_state(g)) == instance_keys(d))
                    })
            }),
        }
    }
}

/// A GPU's instances as comparable keys: start, profile, compute instances (sorted).
fn instance_keys(d: &DesiredGpu) -> Vec<(Option<u8>, String, Vec<String>)> {
    let mut keys: Vec<_> = d
        .instances
        .iter()
        .map(|i| {
            let mut c: Vec<String> = i.compute.iter().map(ToString::to_string).collect();
            c.sort();
            (i.start, i.profile.to_string(), c)
        })
        .collect();
    keys.sort();
    keys
}

/// How an apply runs: mig-parted's flags and hooks.
pub(crate) struct Flow<'a> {
    /// `-s`.
    pub(crate) skip_reset: bool,
    /// `-m`.
    pub(crate) mode_only: bool,
    /// `-d`.
    pub(crate) debug: bool,
    /// `--json`.
    pub(crate) json: bool,
    /// The hooks.
    pub(crate) hooks: &'a Hooks,
    /// Their environment.
    pub(crate) env: Vec<(&'static str, String)>,
}

impl Flow<'_> {
    /// Applies `desired`, listing the operations on stderr with `-d`.
    fn apply(
        &self,
        backend: &dyn Backend,
        desired: &[DesiredGpu],
        options: &ApplyOptions,
    ) -> Result<ApplyReport, Failure> {
        let report = apply(backend, desired, options)?;
        if self.debug {
            for op in &report.ops {
                eprintln!("applied: {op}");
            }
        }
        Ok(report)
    }
}

fn run_apply(
    cli: &Cli,
    debug: bool,
    host: &Host,
    target: &Target<'_>,
    a: &ApplyArgs,
    hooks: &Hooks,
) -> Result<(), Failure> {
    let backend = host.backend();
    // Validate against the node before any hook runs or anything changes.
    let gpus = read_all(backend)?;
    let desired = target.desired(&gpus)?;
    if a.dry_run {
        let options = ApplyOptions::default()
            .lock_path(host.lock_path())
            .dry_run(true);
        let report = apply(
            backend,
            &with_mode_only(&desired, &gpus, a.mode_only),
            &options,
        )?;
        return print_report(cli.json, &report, "dry run: nothing changed");
    }
    let flow = Flow {
        skip_reset: a.skip_reset,
        mode_only: a.mode_only,
        debug,
        json: cli.json,
        hooks,
        env: hook_env(a, debug),
    };
    run_flow(host, target, &flow)
}

/// Runs an apply as mig-parted does: apply-start; the MIG mode where it differs
/// (pre-apply-mode first, then the resets it needs unless `-s`); the MIG devices where they
/// differ (pre-apply-config first); apply-exit whatever happened.
pub(crate) fn run_flow(host: &Host, target: &Target<'_>, flow: &Flow<'_>) -> Result<(), Failure> {
    flow.hooks.run(Point::ApplyStart, &flow.env, flow.debug)?;
    let result = apply_phases(host, target, flow);
    let exit = flow.hooks.run(Point::ApplyExit, &flow.env, flow.debug);
    let result = match result {
        Ok(report) if flow.json => {
            // One document whatever happened: the report, or an empty one with the GPUs now.
            let report = match report {
                Some(r) => r,
                None => {
                    let mut r = ApplyReport::default();
                    r.after = read_all(host.backend())?;
                    r
                }
            };
            print_report(true, &report, "")
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    match (result, exit) {
        (Err(e), Err(x)) => {
            eprintln!("{x}");
            Err(e)
        }
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => {
            if !flow.json {
                println!("MIG configuration applied successfully");
            }
            Ok(())
        }
    }
}

/// The desired GPUs with their instances as they are now: MIG mode only.
fn with_mode_only(desired: &[DesiredGpu], gpus: &[GpuState], mode_only: bool) -> Vec<DesiredGpu> {
    if !mode_only {
        return desired.to_vec();
    }
    desired
        .iter()
        .map(|d| {
            let mut keep = gpus
                .iter()
                .find(|g| g.info.index == d.gpu)
                .map_or_else(|| d.clone(), DesiredGpu::from_state);
            keep.mig_enabled = d.mig_enabled;
            keep
        })
        .collect()
}

fn apply_phases(
    host: &Host,
    target: &Target<'_>,
    flow: &Flow<'_>,
) -> Result<Option<ApplyReport>, Failure> {
    let backend = host.backend();
    let options = ApplyOptions::default().lock_path(host.lock_path());
    // Phase 1, as mig-parted: the MIG mode, where it differs (current or pending).
    let gpus = read_all(backend)?;
    let desired = target.desired(&gpus)?;
    let mode_differs = desired.iter().any(|d| {
        gpus.iter()
            .find(|g| g.info.index == d.gpu)
            .and_then(|g| g.mig)
            .is_some_and(|m| m.current != d.mig_enabled || m.pending != d.mig_enabled)
    });
    if mode_differs {
        flow.hooks.run(Point::PreApplyMode, &flow.env, flow.debug)?;
        progress(&format!(
            "setting the MIG mode of GPU(s) {}",
            gpu_list(desired.iter().map(|d| d.gpu))
        ));
        let report = flow.apply(backend, &with_mode_only(&desired, &gpus, true), &options)?;
        if let Some(g) = report.retry_when_idle.first() {
            return Err(Failure::Failed(format!(
                "GPU {g}: the MIG mode change waits for the processes on it to stop; stop them and apply again"
            )));
        }
        for &g in &report.resets_needed {
            if flow.skip_reset {
                if !flow.mode_only {
                    return Err(Failure::Failed(format!(
                        "GPU {g}: MIG mode is pending until a reset and -s/--skip-reset was given; reset it and apply again"
                    )));
                }
            } else {
                if flow.debug {
                    eprintln!("resetting GPU {g}");
                }
                progress(&format!("resetting GPU {g}"));
                host.reset(g)?;
            }
        }
    }
    if flow.mode_only {
        return Ok(None);
    }
    // Phase 2: the MIG devices, where they differ.
    let gpus = read_all(backend)?;
    if target.holds(&gpus) {
        return Ok(None);
    }
    flow.hooks
        .run(Point::PreApplyConfig, &flow.env, flow.debug)?;
    let desired = target.desired(&gpus)?;
    let report = flow.apply(backend, &desired, &options)?;
    if target.holds(&read_all(backend)?) {
        Ok(Some(report))
    } else {
        Err(Failure::Failed(
            "the GPUs do not hold the target after applying it".to_owned(),
        ))
    }
}

fn gpu_list(gpus: impl Iterator<Item = u32>) -> String {
    gpus.map(|g| g.to_string()).collect::<Vec<_>>().join(", ")
}

fn print_report(json: bool, report: &ApplyReport, headline: &str) -> Result<(), Failure> {
    if json {
        print_json(&json!({
            "ops": report.ops.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "performed": report.performed,
            "resets_needed": report.resets_needed,
            "retry_when_idle": report.retry_when_idle,
            "after": report.after.iter().map(gpu_json).collect::<Vec<_>>(),
        }));
    } else {
        println!("{headline}");
        print_ops(&report.ops);
    }
    Ok(())
}

/// Operations as a numbered list.
fn print_ops(ops: &[Op]) {
    for (i, op) in ops.iter().enumerate() {
        println!("{:>3}. {op}", i + 1);
    }
}

fn run_assert(
    cli: &Cli,
    host: &Host,
    config: &MigPartedConfig,
    a: &AssertArgs,
) -> Result<(), Failure> {
    let gpus = read_all(host.backend())?;
    let name = &a.selection.selected_config;
    if a.valid_config {
        config::desired_state(config, name, &gpus)?;
        if cli.json {
            print_json(&json!({"valid": true}));
        } else {
            println!("Selected MIG configuration is valid");
        }
        return Ok(());
    }
    match config::assert_config(config, name, &gpus) {
        Ok(()) => {
            if cli.json {
                print_json(&json!({"applied": true}));
            } else {
                println!("Selected MIG configuration currently applied");
            }
            Ok(())
        }
        Err(e @ gpupart_mig::Error::Mismatch { .. }) => {
            if cli.json {
                print_json(&json!({"applied": false, "mismatch": e.to_string()}));
            }
            Err(Failure::Mismatch(format!(
                "Assertion failure: selected configuration not currently applied ({e})"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

fn run_export(host: &Host, e: &ExportArgs) -> Result<(), Failure> {
    let gpus = read_all(host.backend())?;
    print_config(&config::export(&gpus, &e.config_label), e.output_format)
}

fn print_config(c: &MigPartedConfig, format: OutputFormat) -> Result<(), Failure> {
    let text = match format {
        OutputFormat::Yaml => c.to_yaml()?,
        OutputFormat::Json => {
            serde_json::to_string_pretty(c)
                .map_err(|x| Failure::Failed(format!("cannot write JSON: {x}")))?
                + "\n"
        }
    };
    print!("{text}");
    Ok(())
}
