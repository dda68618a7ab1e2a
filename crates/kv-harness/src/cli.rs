//! The `kv-harness` command line, declared with `clap`'s derive: `kv-harness test [PATH ...]
//! [flags]`, and the run it asks for with its exit status (0 every case passed, 1 a case failed,
//! 2 bad input: a bad command line, a missing path, a malformed file, no case found).
//!
//! To add a flag, add a field to [`TestArgs`] and use it in [`execute`]; clap handles its help,
//! typo suggestions and errors.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::Error;
use crate::case::{CaseBackend, InMemory};
use crate::report::HumanReport;
use crate::runner::{Options, run_with};
use crate::stream::JsonStream;

const EXAMPLES: &str = "\
Examples:
  kv-harness test examples/cases            run every *_test.kv and *_test.ami under a folder
  kv-harness test -j 4 cases/ttl_test.kv    run one file on 4 workers
  kv-harness test --json --kv-events cases  the test.v1 event stream, with each case's counters
  kv-harness test -v --out build cases      write every artifact under build/test/kv/

Exit status: 0 every case passed, 1 a case failed, 2 bad input (command line, path, case file,
or no case found).";

/// Runs kvstore case files (*_test.kv, *_test.ami) against fresh stores with manual clocks.
#[derive(Clone, Debug, Parser)]
#[command(name = "kv-harness", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Run case files: folders are searched for *_test.kv and *_test.ami files (not entering
    /// target, hidden or fixtures folders); a file is run whatever its name.
    #[command(after_help = EXAMPLES)]
    Test(TestArgs),
}

/// When to colour the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When stdout is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `kv-harness test ...`.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct TestArgs {
    /// Files and folders to run.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// The test.v1 event stream on stdout instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// With --json: a diag.v1 KV_METRICS and KV_DUMP record after each case.
    #[arg(long, requires = "json")]
    pub kv_events: bool,
    /// Per-case artifacts for every case, and the process-level artifacts.
    #[arg(short, long)]
    pub verbose: bool,
    /// The process-level metrics.json (in test/kv under the --out folder).
    #[arg(long)]
    pub kv_metrics: bool,
    /// The process-level dump.json (in test/kv under the --out folder).
    #[arg(long)]
    pub kv_dump: bool,
    /// N worker threads; results are still reported in file order.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1, value_parser = workers)]
    pub parallel: usize,
    /// Stop starting cases after the first failure.
    #[arg(long)]
    pub failfast: bool,
    /// The build folder; artifacts go in its test/kv folder.
    #[arg(long, value_name = "DIR", default_value = "build")]
    pub out: PathBuf,
    /// Pass when no case is found (by default that is an error, exit status 2).
    #[arg(long)]
    pub allow_empty: bool,
    /// Colour the output.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Color::Auto)]
    pub color: Color,
    /// Where cases run: `memory`, or a Redis URL (`redis://[user:pass@]host:port`, `rediss://...`,
    /// `redis+cluster://host:port,host:port,...`): each case in a fresh namespace on a manual
    /// clock, removed afterwards. Redis needs the `redis` feature (on by default).
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = backend)]
    pub backend: String,
}

fn backend(text: &str) -> Result<String, String> {
    if text == "memory" || text.starts_with("redis") {
        Ok(text.to_string())
    } else {
        Err("expected `memory` or a redis://, rediss:// or redis+cluster:// URL".into())
    }
}

fn workers(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a whole number of workers, at least 1 (got `{text}`)"
        )),
    }
}

impl TestArgs {
    /// The run's options.
    pub fn options(&self) -> Options {
        Options {
            parallel: self.parallel,
            failfast: self.failfast,
            out: self.out.clone(),
            verbose: self.verbose,
            kv_metrics: self.kv_metrics,
            kv_dump: self.kv_dump,
            allow_empty: self.allow_empty,
            // A run from the command line keeps only what it reports: its failures.
            keep_passed: false,
            ..Options::default()
        }
    }
}

/// The `--color` choice among raw arguments, before parsing (so clap's own messages honour it).
fn color_in(args: &[OsString]) -> Color {
    let mut choice = Color::Auto;
    let mut iter = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = iter.next() {
        let value = match arg.strip_prefix("--color") {
            Some("") => iter.next().map(|v| v.into_owned()),
            Some(rest) => rest.strip_prefix('=').map(String::from),
            None => None,
        };
        if let Some(c) = value.and_then(|v| Color::from_str(&v, true).ok()) {
            choice = c;
        }
    }
    choice
}

/// Reads the arguments after the program name. `Err` holds clap's error, which knows how to
/// print itself and its exit status (0 for `--help` and `--version`, 2 otherwise).
pub fn parse_args<I>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let color = match color_in(&args) {
        Color::Auto => clap::ColorChoice::Auto,
        Color::Always => clap::ColorChoice::Always,
        Color::Never => clap::ColorChoice::Never,
    };
    let mut all = vec![OsString::from("kv-harness")];
    all.extend(args);
    let matches = Cli::command().color(color).try_get_matches_from(all)?;
    Cli::from_arg_matches(&matches)
}

/// Runs `kv-harness test` and returns its exit status: 0 every case passed, 1 a case failed, 2 a
/// path, a file, the output folder could not be used or no case was found (the message is on
/// stderr; with `--json`, also a `problem` record on stdout).
pub fn execute(cmd: &TestArgs) -> i32 {
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let color = match cmd.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let mut options = cmd.options();
    match case_backend(&cmd.backend) {
        Ok(backend) => options.backend = backend,
        Err(e) => {
            report_error(&e);
            return e.exit_code();
        }
    }
    let result = if cmd.json {
        let mut stream = JsonStream::new(stdout.lock(), cmd.kv_events);
        let result = run_with(&cmd.paths, &options, &mut stream);
        if let Err(e) = &result {
            stream.error(e);
        }
        result
    } else {
        let mut report = HumanReport::new(stdout.lock(), terminal).with_color(color);
        run_with(&cmd.paths, &options, &mut report)
    };
    match result {
        Ok(summary) => summary.exit_code(),
        Err(e) => {
            report_error(&e);
            e.exit_code()
        }
    }
}

/// The backend `--backend` names: `memory`, or a Redis server or cluster (connected now, so a
/// wrong address or password stops the run before any case).
fn case_backend(backend: &str) -> Result<Arc<dyn CaseBackend>, Error> {
    if backend == "memory" {
        return Ok(Arc::new(InMemory));
    }
    #[cfg(feature = "redis")]
    {
        // The error's text hides the URL's password.
        match crate::redis::RedisCases::connect(backend) {
            Ok(redis) => Ok(Arc::new(redis)),
            Err(e) => Err(Error::Usage(format!("--backend: {e}"))),
        }
    }
    #[cfg(not(feature = "redis"))]
    {
        Err(Error::Usage(
            "--backend: this build of kv-harness has no Redis support (it was built without the \
             `redis` feature, which is on by default); use `--backend memory`, or build it with \
             `--features redis`"
                .into(),
        ))
    }
}

/// Prints an error that stopped the run to stderr. File problems go one a line as
/// `file:line:column: message`, the form editors and terminals link to; every other error is
/// prefixed `kv-harness: `.
pub fn report_error(e: &Error) {
    let mut err = io::stderr().lock();
    let _ = match e {
        Error::Files(_) => writeln!(err, "{e}"),
        Error::Paths(problems) => problems
            .iter()
            .try_for_each(|p| writeln!(err, "kv-harness: {p}")),
        _ => writeln!(err, "kv-harness: {e}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(args: &[&str]) -> Result<TestArgs, String> {
        let mut all = vec!["test"];
        all.extend(args);
        match parse_args(all) {
            Ok(Cli {
                command: Command::Test(t),
            }) => Ok(t),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn flags_and_paths() {
        let t = test(&["a", "--json", "-j", "3", "--out=o", "--failfast", "b", "-v"]).unwrap();
        assert_eq!(t.paths, [PathBuf::from("a"), PathBuf::from("b")]);
        assert!(t.json && t.failfast && t.verbose);
        assert_eq!(t.parallel, 3);
        assert_eq!(t.out, PathBuf::from("o"));
        assert_eq!(test(&[]).unwrap().paths, [PathBuf::from(".")]);
        assert_eq!(test(&["--parallel=2"]).unwrap().parallel, 2);
        assert_eq!(
            test(&["--", "--json"]).unwrap().paths,
            [PathBuf::from("--json")]
        );
        let o = test(&["--allow-empty", "--kv-dump"]).unwrap().options();
        assert!(o.allow_empty && o.kv_dump && !o.keep_passed);
    }

    #[test]
    fn backend_is_memory_or_a_redis_url() {
        assert_eq!(test(&[]).unwrap().backend, "memory");
        for url in ["redis://127.0.0.1:6379", "redis+cluster://a:1,b:2"] {
            assert_eq!(test(&["--backend", url]).unwrap().backend, url);
            let inline = format!("--backend={url}");
            assert_eq!(test(&[inline.as_str()]).unwrap().backend, url);
        }
        let bad = test(&["--backend", "mysql://x"]).unwrap_err();
        assert!(bad.contains("redis+cluster://"), "{bad}");
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn without_the_redis_feature_a_redis_backend_is_a_plain_usage_error() {
        let e = case_backend("redis://127.0.0.1:6379")
            .err()
            .expect("no Redis in this build");
        assert!(matches!(e, Error::Usage(_)), "{e:?}");
        assert!(e.to_string().contains("no Redis support"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let cmd = test(&["--backend", "redis+cluster://a:1,b:2", "."]).unwrap();
        assert_eq!(execute(&cmd), 2);
        assert!(case_backend("memory").is_ok());
    }

    #[test]
    fn bad_command_lines_say_what_to_do() {
        assert!(
            test(&["--parallel", "0"])
                .unwrap_err()
                .contains("at least 1")
        );
        assert!(test(&["-j"]).unwrap_err().contains("a value is required"));
        let typo = test(&["--failfats"]).unwrap_err();
        assert!(
            typo.contains("--failfats") && typo.contains("--failfast"),
            "{typo}"
        );
        assert!(test(&["--kv-events"]).unwrap_err().contains("--json"));
        assert!(
            test(&["--color", "sometimes"])
                .unwrap_err()
                .contains("never")
        );
        assert!(
            parse_args(["tset"])
                .unwrap_err()
                .to_string()
                .contains("test")
        );
        assert!(parse_args(Vec::<String>::new()).is_err());
    }

    #[test]
    fn help_and_version_exit_0() {
        for flag in ["--help", "-h", "--version", "-V"] {
            let e = parse_args([flag]).unwrap_err();
            assert_eq!(e.exit_code(), 0, "{flag}");
        }
        let help = parse_args(["test", "--help"]).unwrap_err().to_string();
        assert!(
            help.contains("Examples:") && help.contains("-j, --parallel <N>"),
            "{help}"
        );
    }

    #[test]
    fn the_color_flag_is_read_before_parsing() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(color_in(&args(&["test", "--color", "never"])), Color::Never);
        assert_eq!(color_in(&args(&["test", "--color=always"])), Color::Always);
        assert_eq!(color_in(&args(&["test", "--colour"])), Color::Auto);
    }
}
