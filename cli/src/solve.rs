//! `gpupart solve`: requests → the fleet solver on the node's GPUs → plan, bound and gap;
//! `--apply` hands the plan to MIG apply.

use std::path::Path;

use gpupart_mig::apply::desired_from_plan;
use gpupart_mig::state::read_all;
use gpupart_profiles::ProfileName;
use gpupart_profiles::text::quote;
use gpupart_topology::{Fleet, Gpu, Plan, Request, SolveOptions, solve};
use serde::Deserialize;
use serde_json::json;

use crate::args::{Cli, SolveArgs};
use crate::failure::Failure;
use crate::hooks::Hooks;
use crate::host::Host;
use crate::input::{parse_by_name, read_limited};
use crate::mig::{Flow, Target, run_flow};
use crate::output::print_json;

/// The most a requests file may hold, and the most requests it may list.
const MAX_BYTES: u64 = 4 << 20;
const MAX_REQUESTS: usize = 100_000;

/// One request as a file writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRequest {
    profile: String,
    count: u32,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    gpus: Option<Vec<u32>>,
    #[serde(default)]
    priority: u8,
}

/// One GPU of a fleet file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGpu {
    index: u32,
    model: String,
    #[serde(default = "yes")]
    mig_enabled: bool,
    #[serde(default)]
    numa_node: Option<u32>,
    #[serde(default)]
    instances: Vec<FileInstance>,
}

/// An instance a fleet file's GPU holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileInstance {
    profile: String,
    start: u8,
    #[serde(default)]
    in_use: bool,
}

fn yes() -> bool {
    true
}

/// The fleet a file describes, each instance checked by the catalog's placement rules.
fn read_fleet(path: &Path) -> Result<Fleet, Failure> {
    let bad = |m: String| Failure::Input(format!("fleet file {}: {m}", path.display()));
    let text = read_limited(path, MAX_BYTES).map_err(bad)?;
    fleet_from_text(path, &text).map_err(bad)
}

/// A fleet file's text (JSON when `name` ends in `.json`, YAML otherwise) as a fleet.
///
/// # Errors
/// What is wrong, naming the GPU and the value.
pub(crate) fn fleet_from_text(name: &Path, text: &str) -> Result<Fleet, String> {
    let bad = |m: String| m;
    let listed: Vec<FileGpu> = parse_by_name(name, text).map_err(bad)?;
    if listed.len() > MAX_REQUESTS {
        return Err(bad(format!(
            "{} GPUs (at most {MAX_REQUESTS})",
            listed.len()
        )));
    }
    let mut gpus = Vec::new();
    for g in listed {
        let model = gpupart_profiles::catalog::model_by_name(&g.model)
            .map_err(|e| bad(format!("GPU {}: {e}", g.index)))?;
        let mut gpu = Gpu::new(g.index, model);
        gpu.numa_node = g.numa_node;
        for i in &g.instances {
            let name: ProfileName = i.profile.parse().map_err(|e| {
                bad(format!(
                    "GPU {}: profile {}: {e}",
                    g.index,
                    quote(&i.profile)
                ))
            })?;
            let profile = model
                .profile_by_name(&name)
                .map_err(|e| bad(format!("GPU {}: {e}", g.index)))?;
            gpu.add_instance(profile, i.start, i.in_use)
                .map_err(|e| bad(format!("GPU {}: {e}", g.index)))?;
        }
        gpu.mig_enabled = g.mig_enabled;
        if !g.mig_enabled && !g.instances.is_empty() {
            return Err(bad(format!("GPU {}: instances with MIG off", g.index)));
        }
        gpus.push(gpu);
    }
    Fleet::new(gpus).map_err(|e| bad(e.to_string()))
}

/// `PROFILE=COUNT`.
fn parse_flag(s: &str) -> Result<Request, Failure> {
    let bad = |why: &str| {
        Failure::Input(format!(
            "request {}: {why} (expected PROFILE=COUNT, e.g. 3g.20gb=2)",
            quote(s)
        ))
    };
    let (name, count) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
    let count: u32 = count.trim().parse().map_err(|_| {
        bad(&format!(
            "the count is not a whole number from 0 to {}",
            u32::MAX
        ))
    })?;
    Request::parse(name.trim(), count).map_err(|e| bad(&e.to_string()))
}

fn read_file(path: &Path) -> Result<Vec<Request>, Failure> {
    let bad = |m: String| Failure::Input(format!("requests file {}: {m}", path.display()));
    let text = read_limited(path, MAX_BYTES).map_err(bad)?;
    requests_from_text(path, &text).map_err(bad)
}

/// A requests file's text (JSON when `name` ends in `.json`, YAML otherwise) as requests.
///
/// # Errors
/// What is wrong, naming the value.
pub(crate) fn requests_from_text(name: &Path, text: &str) -> Result<Vec<Request>, String> {
    let bad = |m: String| m;
    let listed: Vec<FileRequest> = parse_by_name(name, text).map_err(bad)?;
    if listed.len() > MAX_REQUESTS {
        return Err(bad(format!(
            "{} requests (at most {MAX_REQUESTS})",
            listed.len()
        )));
    }
    listed
        .into_iter()
        .map(|r| {
            let mut req = Request::parse(&r.profile, r.count)
                .map_err(|e| bad(e.to_string()))?
                .with_priority(r.priority);
            if let Some(g) = &r.gpus {
                req = req.on_gpus(g);
            }
            if let Some(m) = &r.model {
                // The catalog's one lookup by name (case aside), as fleet files use.
                let model = gpupart_profiles::catalog::model_by_name(m)
                    .map_err(|_| bad(format!("model {} is not in the catalog", quote(m))))?;
                req = req.on_model(model);
            }
            Ok(req)
        })
        .collect()
}

/// Runs `gpupart solve`.
pub(crate) fn run(cli: &Cli, a: &SolveArgs) -> Result<(), Failure> {
    let mut requests = a
        .requests
        .iter()
        .map(|r| parse_flag(r))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(f) = &a.file {
        requests.extend(read_file(f)?);
    }
    if requests.is_empty() {
        return Err(Failure::Input(
            "no requests: give -r PROFILE=COUNT or -f FILE".to_owned(),
        ));
    }
    if let Some(path) = &a.fleet {
        let fleet = read_fleet(path)?;
        let plan = solve(
            &fleet,
            &requests,
            &SolveOptions::default().enable_mig(a.enable_mig),
        );
        print_plan(cli, &plan);
        return Ok(());
    }
    let host = Host::open(cli)?;
    host.save()?;
    let current = read_all(host.backend())?;
    let gpus = current
        .iter()
        .filter(|g| g.model.is_some() && g.mig.is_some())
        .map(|g| g.to_topology())
        .collect::<Result<Vec<_>, _>>()?;
    let fleet = Fleet::new(gpus).map_err(|e| Failure::Failed(e.to_string()))?;
    let plan = solve(
        &fleet,
        &requests,
        &SolveOptions::default().enable_mig(a.enable_mig),
    );
    print_plan(cli, &plan);
    if !a.apply {
        return Ok(());
    }
    let desired = desired_from_plan(&current, &plan)?;
    let hooks = Hooks::default();
    let flow = Flow {
        skip_reset: a.skip_reset,
        mode_only: false,
        debug: false,
        json: cli.json,
        hooks: &hooks,
        env: Vec::new(),
    };
    let result = run_flow(&host, &Target::Exact(&desired), &flow);
    host.save()?;
    result
}

fn print_plan(cli: &Cli, plan: &Plan) {
    let (gap_placed, gap_gpus) = plan.gap();
    if cli.json {
        print_json(&json!({
            "placed": plan.objective.placed,
            "max_placed": plan.bound.max_placed,
            "gpus_used": plan.objective.gpus_used,
            "min_gpus_used": plan.bound.min_gpus_used,
            "gap": {"placed": gap_placed, "gpus": gap_gpus},
            "proven_optimal": plan.proven(),
            "plan": plan.to_string().lines().collect::<Vec<_>>(),
        }));
    } else {
        print!("{plan}");
    }
}
