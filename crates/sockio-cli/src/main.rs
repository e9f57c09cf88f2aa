//! `sockio`: the command line of sockio.
//!
//! ```text
//! sockio serve [--port 3000] [--config sockio.toml] …   # a Socket.IO server with a chat page
//! sockio connect http://localhost:3000/chat [--emit EVENT JSON_ARRAY --wait-ack] …
//! ```
//!
//! Each subcommand lives in a module of its own (`serve`, `connect`); this file only parses the
//! command line and reports errors: one line on stderr, exit status 2 for a bad command
//! line, 1 for anything else.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod connect;
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
    /// Connect to a Socket.IO server: events as JSON lines on stdout, commands on stdin.
    Connect(connect::ConnectArgs),
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
            // ("…were not provided:" goes on with the missing argument on the next line.)
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let mut first = lines.next().unwrap_or("error: bad command line").to_owned();
            if first.ends_with(':') {
                if let Some(next) = lines.next() {
                    first.push(' ');
                    first.push_str(next.trim());
                }
            }
            eprintln!("{first} (see `sockio --help`)");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Connect(args) => return connect::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
