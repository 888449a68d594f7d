//! The `ores` command line.

use clap::Parser;

/// The ores-rs command line.
#[derive(Debug, Parser)]
#[command(name = "ores", version, about = "The ores-rs command line")]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
