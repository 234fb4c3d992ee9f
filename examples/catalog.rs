//! Prints a model's MIG profile table like `nvidia-smi mig -lgip`, its placements like
//! `nvidia-smi mig -lgipp`, and its compute instance profiles.
//!
//! ```text
//! cargo run --example catalog                    # A100-40GB
//! cargo run --example catalog -- H100-SXM-80GB   # by catalog name
//! cargo run --example catalog -- 0x233510DE      # by PCI device ID
//! cargo run --example catalog -- --list          # every model
//! ```

use std::io::Write as _;
use std::process::ExitCode;

use gpupart::profiles::{GpuModel, PciDeviceId, catalog};

/// Appends one formatted line to the output buffer.
macro_rules! outln {
    ($o:ident) => { $o.push('\n') };
    ($o:ident, $($t:tt)*) => {{ $o.push_str(&format!($($t)*)); $o.push('\n'); }};
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn gib(mib: Option<u32>) -> String {
    mib.map_or_else(
        || "-".to_owned(),
        |m| format!("{:.2}", f64::from(m) / 1024.0),
    )
}

fn print_model(out: &mut String, m: &GpuModel) {
    let rule = format!("+{}+", "-".repeat(79));
    outln!(
        out,
        "{} ({:?}, {} GB, {} compute / {} memory slices)",
        m.name,
        m.architecture,
        m.memory_gb,
        m.compute_slices,
        m.memory_slices
    );
    for b in m.boards {
        outln!(
            out,
            "  board {}  {:<32} NVML name: {}",
            b.pci_device_id,
            b.product,
            b.nvml_name.unwrap_or("-")
        );
    }
    outln!(out, "{rule}");
    outln!(out, "| {:<77} |", "GPU instance profiles:");
    outln!(
        out,
        "| {:<18} {:>4}  {:>9}  {:>7}  {:>5}  {:>4}  {:>4}  {:>4}          |",
        "Name",
        "ID",
        "Instances",
        "Memory",
        "P2P",
        "SM",
        "DEC",
        "ENC"
    );
    outln!(
        out,
        "| {:<18} {:>4}  {:>9}  {:>7}  {:>5}  {:>4}  {:>4}  {:>4}          |",
        "",
        "",
        "Total",
        "GiB",
        "",
        "CE",
        "JPEG",
        "OFA"
    );
    outln!(out, "+{}+", "=".repeat(79));
    for p in m.profiles {
        let p2p = p.p2p.map(|b| if b { "Yes" } else { "No" });
        outln!(
            out,
            "| MIG {:<14} {:>4}  {:>9}  {:>7}  {:>5}  {:>4}  {:>4}  {:>4}          |",
            p.name.to_string(),
            opt(p.nvml_id),
            p.max_instances,
            gib(p.memory_mib),
            opt(p2p),
            opt(p.sms),
            opt(p.decoders),
            opt(p.encoders)
        );
        outln!(
            out,
            "| {:<18} {:>4}  {:>9}  {:>7}  {:>5}  {:>4}  {:>4}  {:>4}          |",
            "",
            "",
            "",
            "",
            "",
            opt(p.copy_engines),
            opt(p.jpeg),
            opt(p.ofa)
        );
        outln!(out, "{rule}");
    }
    outln!(out);
    for p in m.profiles {
        let starts: Vec<String> = p.placements.iter().map(|pl| pl.start.to_string()).collect();
        let word = if p.placements.len() == 1 {
            "Placement "
        } else {
            "Placements"
        };
        outln!(
            out,
            "Profile {:<16} ID {:>2} {word}: {{{}}}:{}",
            p.name.to_string(),
            opt(p.nvml_id),
            starts.join(","),
            p.memory_slices
        );
    }
    outln!(out);
    outln!(out, "Compute instance profiles:");
    for p in m.profiles {
        let cis: Vec<String> = p
            .compute_profiles
            .iter()
            .map(|c| format!("{} (x{})", c.name, c.max_instances))
            .collect();
        outln!(out, "  {:<16} {}", p.name.to_string(), cis.join(", "));
    }
}

fn main() -> ExitCode {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "A100-40GB".to_owned());
    if arg == "--list" {
        let mut out = String::new();
        for m in catalog::models() {
            let ids: Vec<String> = m
                .boards
                .iter()
                .map(|b| b.pci_device_id.to_string())
                .collect();
            outln!(out, "{:<20} {}", m.name, ids.join(" "));
        }
        let _ = std::io::stdout().lock().write_all(out.as_bytes());
        return ExitCode::SUCCESS;
    }
    let model = match arg.parse::<PciDeviceId>() {
        Ok(id) => catalog::model_by_pci_device_id(id.combined(), None),
        Err(_) => catalog::model_by_name(&arg),
    };
    match model {
        Ok(m) => {
            let mut out = String::new();
            print_model(&mut out, m);
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e} (try --list)");
            ExitCode::FAILURE
        }
    }
}
