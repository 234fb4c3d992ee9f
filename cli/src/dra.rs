//! `gpupart dra slices`: the node's MIG partitionable devices as ResourceSlices
//! (`gpupart_dra::node_slices`).

use gpupart_dra::{NodeInfo, Order, SliceOptions, node_slices};
use gpupart_mig::state::read_all;
use gpupart_profiles::text::quote;

use crate::args::{Cli, DraCommand};
use crate::failure::Failure;
use crate::host::Host;
use crate::output::print_json;

/// Runs a `gpupart dra` command.
pub(crate) fn run(cli: &Cli, c: &DraCommand) -> Result<(), Failure> {
    match c {
        DraCommand::Slices {
            node,
            order,
            claimed,
        } => {
            let claimed = claimed
                .iter()
                .map(|s| {
                    s.split_once(':')
                        .and_then(|(g, st)| Some((g.parse::<u32>().ok()?, st.parse::<u8>().ok()?)))
                        .ok_or_else(|| {
                            Failure::Input(format!("--claimed {} (expected GPU:START)", quote(s)))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let order = if order == "nvidia" {
                Order::Nvidia
            } else {
                Order::Gpupart
            };
            let host = Host::open(cli)?;
            let gpus = read_all(host.backend())?;
            let slices = node_slices(
                &gpus,
                &NodeInfo::default(),
                &claimed,
                &SliceOptions::new(node).order(order),
            )
            .map_err(|e| Failure::Input(e.to_string()))?;
            if cli.json {
                print_json(&slices);
            } else {
                for s in &slices {
                    println!("---");
                    print!(
                        "{}",
                        serde_saphyr::to_string(s)
                            .map_err(|e| Failure::Failed(format!("cannot print YAML: {e}")))?
                    );
                }
            }
            Ok(())
        }
    }
}
