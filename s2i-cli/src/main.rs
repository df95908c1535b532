//! The `s2i` binary; see the `s2i_cli` library for the command line itself.

use std::process::ExitCode;

fn main() -> ExitCode {
    s2i_cli::main()
}
