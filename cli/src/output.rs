//! What every command prints besides its own tables: JSON documents on stdout, progress on
//! stderr.

/// One JSON document, pretty-printed, on stdout.
pub(crate) fn print_json<T: serde::Serialize + ?Sized>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A progress line on stderr, only when stderr is a terminal (scripts and logs stay clean).
pub(crate) fn progress(line: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprintln!("gpupart: {line}…");
    }
}
