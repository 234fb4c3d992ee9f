//! `gpupart`: the library at a shell prompt. Every command is a call a Rust program can make
//! too; this crate parses arguments, opens the host (NVML or a simulated one) and prints. The
//! binary is [`main`]; [`formats`] checks the command's own file formats from text.
//!
//! Invoked under the name `nvidia-mig-parted` (a symlink), it takes that tool's command line:
//! `nvidia-mig-parted apply -f config.yaml -c all-1g.10gb` is `gpupart mig apply …`.
//!
//! Exit status: 0 ok; 1 an assertion that does not hold or an apply that failed; 2 bad input
//! (arguments, files, a configuration the node cannot take). Under the name
//! `nvidia-mig-parted` every failure exits 1, as that tool does.

mod args;
mod checkpoint;
mod dra;
mod failure;
pub mod formats;
mod hooks;
mod host;
mod input;
mod mig;
mod output;
mod solve;
mod sriov;
mod sriov_state;
mod vgpu;
mod vgpu_host;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::failure::Failure;

/// The name under which the binary speaks nvidia-mig-parted's command line.
const MIG_PARTED_NAME: &str = "nvidia-mig-parted";

/// Whether a panic is `println!` failing on a closed pipe.
fn is_broken_pipe(payload: &(dyn std::any::Any + Send)) -> bool {
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    msg.contains("failed printing to stdout") && msg.contains("Broken pipe")
}

/// The `gpupart` command: its arguments from the process, its exit status.
#[must_use]
pub fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let as_mig_parted = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == MIG_PARTED_NAME);
    if as_mig_parted {
        argv.insert(1, OsString::from("mig"));
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let usage_error = e.use_stderr();
            // Help and version go to stdout and exit 0; what clap refuses is bad input.
            let _ = e.print();
            return if !usage_error {
                ExitCode::SUCCESS
            } else if as_mig_parted {
                ExitCode::from(1)
            } else {
                ExitCode::from(Failure::INPUT_STATUS)
            };
        }
    };
    // A reader that goes away (`gpupart … | head`) ends the command quietly, with the status a
    // shell gives a process killed by SIGPIPE (128 + 13), not with a panic's message.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe(info.payload()) {
            default_hook(info);
        }
    }));
    match std::panic::catch_unwind(|| run(&cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(f)) => {
            eprintln!("{f}");
            ExitCode::from(if as_mig_parted { 1 } else { f.status() })
        }
        Err(payload) if is_broken_pipe(payload.as_ref()) => ExitCode::from(141),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Mig(m) => mig::run(cli, m),
        Command::Solve(s) => solve::run(cli, s),
        Command::Dra(c) => dra::run(cli, c),
        Command::Sriov(c) => sriov::run(cli, c),
        Command::Vgpu(c) => vgpu::run(cli, c),
    }
}
