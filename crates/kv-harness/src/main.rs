//! `kv-harness test [PATH ...]`: runs case files; see `kv-harness --help`.

use std::process::ExitCode;

use kv_harness::cli::{self, Command};

fn main() -> ExitCode {
    let status = match cli::parse_args(std::env::args_os().skip(1)) {
        Ok(cli) => match cli.command {
            Command::Test(args) => cli::execute(&args),
        },
        Err(e) => {
            // clap's message (help, version, or what was wrong and a suggestion); a closed pipe
            // is not worth a panic.
            let _ = e.print();
            e.exit_code()
        }
    };
    ExitCode::from(u8::try_from(status).unwrap_or(2))
}
