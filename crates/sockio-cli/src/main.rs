//! `sockio`: the command line of sockio.
//!
//! ```text
//! sockio serve [--port 3000] [--config sockio.toml] …   # a Socket.IO server with a chat page
//! ```
//!
//! Each subcommand lives in a module of its own (`serve`); this file only parses the
//! command line and reports errors: one line on stderr, exit status 2 for a bad command
//! line, 1 for anything else.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod serve;

/// Socket.IO for Rust.
#[derive(Parser)]
#[command(name = "sockio", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Socket.IO server with a live chat at / and Prometheus metrics at /metrics.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version: clap's own output, on stdout.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's first line says what is wrong ("error: unexpected argument …").
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("error: bad command line");
            eprintln!("{first} (see `sockio --help`)");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
