//! `redline`: the command line. Parsing lives in `cli`, each subcommand in `cmd/`; this
//! file only dispatches and prints an error chain once, with the program's name.

mod character;
mod cli;
mod client;
mod cmd;
mod config;
mod correlate;
mod exports;
mod faces;
mod git;
mod gitwatch;
mod grpc;
mod history;
mod http;
mod hub;
mod mdns;
mod memory;
mod metrics;
mod ordered_json;
mod otlp_http;
mod prom_source;
mod reload;
mod replay;
mod scan_index;
mod serving;
mod sweep;
mod table;
mod web;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use redline_engine::roots::RootEnv;

fn main() -> ExitCode {
    let mut matches = cli::Cli::command().get_matches();
    if matches.subcommand().is_none() {
        // `redline` alone is `redline serve`, its REDLINE_* variables included.
        matches = cli::Cli::command().get_matches_from(["redline", "serve"]);
    }
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let sub = matches.subcommand().map(|(_, m)| m);
    // Where each daemon value came from (flag or variable), for `redline doctor`.
    let source =
        |id: &str| sub.and_then(|m| m.try_get_raw(id).ok().flatten().and(m.value_source(id)));
    let env = RootEnv::from_process();
    let result = match cli.command {
        None => unreachable!("`redline` alone was parsed as `redline serve`"),
        Some(cli::Command::Serve(args)) => cmd::serve::run(&args, &source, &env),
        Some(cli::Command::Watch(args)) => cmd::watch::run(&args, &source, &env),
        Some(cli::Command::Doctor(args)) if args.ack => cmd::ack::run(&args.daemon, &source, &env),
        Some(cli::Command::Doctor(args)) => cmd::doctor::run(&args.daemon, &source, &env),
        Some(cli::Command::Cluster(args)) => cmd::cluster::run(&args),
        Some(cli::Command::Faces(args)) => cmd::faces::run(&args, &source, &env),
        Some(cli::Command::Calibrate(args)) => cmd::calibrate::run(&args, &source, &env),
        Some(cli::Command::Statusline(args)) => cmd::statusline::run(&args, &source, &env),
        Some(cli::Command::Report(args)) => cmd::report::run(&args, &source, &env),
        Some(cli::Command::Stats(cli::StatsCommand::Character(args))) => {
            cmd::stats::character(&args, &source, &env)
        }
        Some(cli::Command::Stats(cli::StatsCommand::Correlate(args))) => {
            cmd::correlate::run(&args, &env)
        }
        Some(cli::Command::Stats(cli::StatsCommand::Git(args))) => cmd::stats_git::run(&args, &env),
        Some(cli::Command::Demo(cli::DemoCommand::Generate(args))) => cmd::demo::generate(&args),
        Some(cli::Command::InstallClaude(args)) => cmd::install_claude::run(&args, &source, &env),
        Some(cli::Command::Service(cli::ServiceCommand::Install(args))) => {
            cmd::service::install(&args, &env)
        }
        Some(cli::Command::Service(cli::ServiceCommand::Uninstall(args))) => {
            cmd::service::uninstall(&args, &env)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `redline report daily | head` is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // An error may quote a value from a variable, a file or a file name: no
            // control byte of it reaches the terminal.
            let _ = writeln!(
                io::stderr(),
                "redline: {}",
                config::printable(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
