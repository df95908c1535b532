//! The command line of the s2i toolkit: it parses flags, connects to the
//! container engine, hands the work to the library crates, and renders their
//! events and errors. It holds no build logic of its own.
//!
//! The library target exists so that developer tools (`cargo xtask docs`) can
//! generate the CLI reference and man pages from the same definition.

#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
mod commands;
mod failure;
mod hints;
mod jsonpath;
mod printer;
mod render;
mod signals;
mod use_config;

use std::process::ExitCode;

/// Run `s2i` with the process's arguments; returns the exit code.
pub fn main() -> ExitCode {
    // Without root, `--engine oci` runs this program again as its user-namespace helper.
    s2i_runc::helper::run_if_requested();
    let cli = match use_config::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Wrap reports to the terminal's width; in logs and pipes, keep each message on one line.
    let wrap = console::Term::stderr().is_term();
    miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().terminal_links(false).context_lines(2).wrap_lines(wrap).build())
    }))
    .ok();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(commands::run(cli));
    // Background tasks (progress ticks, a stalled engine connection) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
