//! `redline`: the command line. Parsing lives in `cli`, each subcommand in `cmd/`; this
//! file only dispatches and prints an error chain once, with the program's name.

mod cli;
mod cmd;
mod table;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Report(args) => cmd::report::run(&args),
        cli::Command::Demo(cli::DemoCommand::Generate(args)) => cmd::demo::generate(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `redline report daily | head` is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "redline: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
