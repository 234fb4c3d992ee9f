//! The `gpupart` binary: see the `gpupart_cli` crate.

fn main() -> std::process::ExitCode {
    gpupart_cli::main()
}
