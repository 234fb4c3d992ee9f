//! What every command prints besides its own tables: JSON documents on stdout, progress on
//! stderr.

/// One JSON document, pretty-printed, on stdout.
pub(crate) fn print_json<T: serde::Serialize + ?Sized>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A progress line on stderr, only when stderr is a terminal (scripts and logs stay clean);
/// `GPUPART_PROGRESS=always` or `never` decides instead.
pub(crate) fn progress(line: &str) {
    use std::io::IsTerminal;
    let show = match std::env::var("GPUPART_PROGRESS").as_deref() {
        Ok("always") => true,
        Ok("never") => false,
        _ => std::io::stderr().is_terminal(),
    };
    if show {
        eprintln!("gpupart: {line}…");
    }
}
