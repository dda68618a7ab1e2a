//! `kv-harness test [PATH ...]`: runs case files; see `kv-harness --help`.

use std::io::Write;
use std::process::ExitCode;

use kv_harness::cli::{self, Command};

fn main() -> ExitCode {
    let status = match cli::parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Help) => {
            // `writeln!`, not `println!`: a closed pipe (`| head`) is not worth a panic.
            let _ = writeln!(std::io::stdout(), "{}", cli::HELP);
            0
        }
        Ok(Command::Test(cmd)) => cli::execute(&cmd),
        Err(e) => {
            cli::report_error(&e);
            e.exit_code()
        }
    };
    ExitCode::from(u8::try_from(status).unwrap_or(2))
}
