//! The `kv-harness` command line: `kv-harness test [PATH ...] [flags]`, read by hand (a dozen
//! flags do not pay for a parser dependency), and the run it asks for with its exit status.

use std::ffi::OsString;
use std::io::{self, IsTerminal};
use std::path::PathBuf;

use crate::Error;
use crate::redis::RedisCases;
use crate::report::HumanReport;
use crate::runner::{Options, SharedBackend, run_with};
use crate::stream::JsonStream;

/// The help text.
pub const HELP: &str = "\
kv-harness: runs kvstore case files (*_test.kv, *_test.ami) against fresh stores with manual clocks

usage: kv-harness test [PATH ...] [flags]     (PATH defaults to `.`; folders are searched)

flags:
  --json          the test.v1 event stream on stdout instead of the human report
  --kv-events     with --json: a diag.v1 KV_METRICS and KV_DUMP record after each case
  --verbose       per-case artifacts for every case, and the process-level artifacts
  --kv-metrics    the process-level <out>/test/kv/metrics.json
  --kv-dump       the process-level <out>/test/kv/dump.json
  --parallel N    N worker threads (default 1); results are reported in file order
  --failfast      stop starting cases after the first failure
  --out DIR       the build folder (default `build`)
  --backend URL   where cases run: `memory` (default), redis://[user:pass@]host:port,
                  rediss://..., or redis+cluster://host:port,host:port,... (each case in a
                  fresh namespace on a manual clock, removed afterwards)

exit status: 0 every case passed, 1 a case failed, 2 a file or the command line could not be used";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print the help text.
    Help,
    /// Run case files.
    Test(TestCommand),
}

/// `kv-harness test ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCommand {
    /// Files and folders to run (`.` when none is given).
    pub paths: Vec<PathBuf>,
    /// How to run them.
    pub options: Options,
    /// `--json`: the event stream instead of the human report.
    pub json: bool,
    /// `--kv-events`: diag records in the stream.
    pub kv_events: bool,
    /// `--backend URL`: run the cases on Redis (connected by [`execute`]); `None` in memory.
    pub backend: Option<String>,
}

/// Reads the arguments after the program name.
pub fn parse_args<I>(args: I) -> Result<Command, Error>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut args = args.into_iter().map(Into::into);
    let Some(sub) = args.next() else {
        return Err(Error::Usage(
            "missing command: run `kv-harness test [PATH ...]`".into(),
        ));
    };
    match sub.to_str() {
        Some("test") => {}
        Some("help" | "--help" | "-h") => return Ok(Command::Help),
        _ => {
            return Err(Error::Usage(format!(
                "unknown command `{}` (expected `test`)",
                sub.to_string_lossy()
            )));
        }
    }
    let mut cmd = TestCommand {
        paths: Vec::new(),
        options: Options::default(),
        json: false,
        kv_events: false,
        backend: None,
    };
    let mut only_paths = false;
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        if only_paths || !text.starts_with("--") {
            if text == "-h" {
                return Ok(Command::Help);
            }
            cmd.paths.push(PathBuf::from(arg));
            continue;
        }
        // `--flag=value` and `--flag value` both work for the flags that take a value.
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (text.clone(), None),
        };
        let mut value = |name: &str| -> Result<OsString, Error> {
            match &inline {
                Some(v) => Ok(OsString::from(v)),
                None => args
                    .next()
                    .ok_or_else(|| Error::Usage(format!("{name} needs a value"))),
            }
        };
        match flag.as_str() {
            "--" => only_paths = true,
            "--help" => return Ok(Command::Help),
            "--json" => cmd.json = true,
            "--kv-events" => cmd.kv_events = true,
            "--verbose" => cmd.options.verbose = true,
            "--kv-metrics" => cmd.options.kv_metrics = true,
            "--kv-dump" => cmd.options.kv_dump = true,
            "--failfast" => cmd.options.failfast = true,
            "--out" => cmd.options.out = PathBuf::from(value("--out")?),
            "--backend" => {
                let v = value("--backend")?.to_string_lossy().into_owned();
                cmd.backend = match v.as_str() {
                    "memory" => None,
                    url if url.starts_with("redis") => Some(url.to_string()),
                    _ => {
                        return Err(Error::Usage(
                            "--backend takes `memory` or a redis://, rediss:// or redis+cluster:// URL"
                                .into(),
                        ));
                    }
                };
            }
            "--parallel" => {
                let v = value("--parallel")?;
                let v = v.to_string_lossy();
                cmd.options.parallel = match v.parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return Err(Error::Usage(format!(
                            "--parallel needs a whole number of workers, at least 1 (got `{v}`)"
                        )));
                    }
                };
            }
            _ => return Err(Error::Usage(format!("unknown flag `{flag}`"))),
        }
        if inline.is_some() && !matches!(flag.as_str(), "--out" | "--parallel" | "--backend") {
            return Err(Error::Usage(format!("{flag} takes no value")));
        }
    }
    if cmd.kv_events && !cmd.json {
        return Err(Error::Usage(
            "--kv-events adds records to the --json stream; add --json".into(),
        ));
    }
    if cmd.paths.is_empty() {
        cmd.paths.push(PathBuf::from("."));
    }
    Ok(Command::Test(cmd))
}

/// Runs `kv-harness test` and returns its exit status: 0 every case passed, 1 a case failed, 2 a
/// file, the command line or the output folder could not be used (the message is on stderr).
pub fn execute(cmd: &TestCommand) -> i32 {
    let mut owned;
    let cmd = match &cmd.backend {
        None => cmd,
        Some(url) => match RedisCases::connect(url) {
            Ok(redis) => {
                owned = cmd.clone();
                owned.options.backend = SharedBackend::new(redis.url().to_string(), redis);
                &owned
            }
            Err(e) => {
                // The error's text hides the URL's password.
                report_error(&Error::Usage(format!("--backend: {e}")));
                return 2;
            }
        },
    };
    let stdout = io::stdout();
    let result = if cmd.json {
        run_with(
            &cmd.paths,
            &cmd.options,
            &mut JsonStream::new(stdout.lock(), cmd.kv_events),
        )
    } else {
        let bar = stdout.is_terminal();
        run_with(
            &cmd.paths,
            &cmd.options,
            &mut HumanReport::new(stdout.lock(), bar),
        )
    };
    match result {
        Ok(summary) => summary.exit_code(),
        Err(e) => {
            report_error(&e);
            e.exit_code()
        }
    }
}

/// Prints an error that stopped the run to stderr. File problems go one a line as
/// `file:line:column: message`, the form editors and terminals link to.
pub fn report_error(e: &Error) {
    match e {
        Error::Files(_) => eprintln!("{e}"),
        _ => eprintln!("kv-harness: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(args: &[&str]) -> Result<TestCommand, String> {
        let mut all = vec!["test"];
        all.extend(args);
        match parse_args(all) {
            Ok(Command::Test(t)) => Ok(t),
            Ok(Command::Help) => Err("help".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn flags_and_paths() {
        let t = test(&[
            "a",
            "--json",
            "--parallel",
            "3",
            "--out=o",
            "--failfast",
            "b",
        ])
        .unwrap();
        assert_eq!(t.paths, [PathBuf::from("a"), PathBuf::from("b")]);
        assert!(t.json && t.options.failfast);
        assert_eq!(t.options.parallel, 3);
        assert_eq!(t.options.out, PathBuf::from("o"));
        assert_eq!(test(&[]).unwrap().paths, [PathBuf::from(".")]);
        assert_eq!(
            test(&["--", "--json"]).unwrap().paths,
            [PathBuf::from("--json")]
        );
    }

    #[test]
    fn bad_command_lines_say_what_to_do() {
        assert!(
            test(&["--parallel", "0"])
                .unwrap_err()
                .contains("at least 1")
        );
        assert!(test(&["--parallel"]).unwrap_err().contains("needs a value"));
        assert!(
            test(&["--frobnicate"])
                .unwrap_err()
                .contains("unknown flag `--frobnicate`")
        );
        assert!(test(&["--kv-events"]).unwrap_err().contains("add --json"));
        assert!(
            test(&["--json=yes"])
                .unwrap_err()
                .contains("takes no value")
        );
        assert!(parse_args(["run"]).is_err());
        assert!(parse_args(Vec::<String>::new()).is_err());
        assert_eq!(parse_args(["--help"]).unwrap(), Command::Help);
        assert!(
            test(&["--backend", "mysql://x"])
                .unwrap_err()
                .contains("redis+cluster://")
        );
    }

    #[test]
    fn backend_names_memory_or_a_redis_url() {
        assert_eq!(test(&["--backend", "memory"]).unwrap().backend, None);
        assert_eq!(test(&[]).unwrap().backend, None);
        for url in ["redis://127.0.0.1:6379", "redis+cluster://a:1,b:2"] {
            assert_eq!(
                test(&["--backend", url]).unwrap().backend.as_deref(),
                Some(url)
            );
            let inline = format!("--backend={url}");
            assert_eq!(
                test(&[inline.as_str()]).unwrap().backend.as_deref(),
                Some(url)
            );
        }
    }
}
