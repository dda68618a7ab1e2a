//! Servers for the tests. `KV_REDIS_URL` and `KV_REDIS_CLUSTER_URL` name servers to use (what
//! `cargo xtask test` exports); without them the tests start their own `redis-server` (and a
//! three-master cluster) on free loopback ports, which stop when the test process ends. Without a
//! `redis-server` binary the Redis tests are skipped with a printed reason, unless
//! `KV_REDIS_REQUIRE=1` (set by `cargo xtask test`), which makes that a failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const URL_VAR: &str = "KV_REDIS_URL";
pub const CLUSTER_VAR: &str = "KV_REDIS_CLUSTER_URL";
pub const REQUIRE_VAR: &str = "KV_REDIS_REQUIRE";

/// A namespace name no other test (or earlier run) uses.
pub fn unique_ns(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "test/{test}/{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn redis_server_missing() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
}

/// `None` with the reason printed when the tests may skip, a panic when they must run.
fn unavailable(what: &str, why: &str) -> Option<String> {
    if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
        panic!("{what} is required ({REQUIRE_VAR}=1) but {why}");
    }
    eprintln!(
        "skipped: {what}: {why} (install it with `apt-get install redis-server redis-tools`)"
    );
    None
}

/// The single server's URL.
pub fn single() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var(URL_VAR) {
            return Some(url);
        }
        if redis_server_missing() {
            return unavailable("a Redis server", "no `redis-server` on the PATH");
        }
        let port = free_port();
        keep_alive(&format!(
            "dir=$(mktemp -d); {} & pid=$!; cat >/dev/null; kill $pid; wait $pid; rm -rf \"$dir\"",
            server_cmd(port, "\"$dir\"", false)
        ));
        wait_for_ping(port);
        Some(format!("redis://127.0.0.1:{port}"))
    })
    .clone()
}

/// The cluster's URL (`redis+cluster://...`).
pub fn cluster() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var(CLUSTER_VAR) {
            return Some(url);
        }
        if redis_server_missing() {
            return unavailable("a Redis cluster", "no `redis-server` on the PATH");
        }
        if Command::new("redis-cli").arg("--version").output().is_err() {
            return unavailable("a Redis cluster", "no `redis-cli` on the PATH");
        }
        let ports = [free_port(), free_port(), free_port()];
        let mut script = String::from("dir=$(mktemp -d); pids=;");
        for p in ports {
            script.push_str(&format!(
                " mkdir \"$dir/{p}\"; {} & pids=\"$pids $!\";",
                server_cmd(p, &format!("\"$dir/{p}\""), true)
            ));
        }
        script.push_str(" cat >/dev/null; kill $pids; wait; rm -rf \"$dir\"");
        keep_alive(&script);
        for p in ports {
            wait_for_ping(p);
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for p in ports {
            wait_until(&format!("cluster on port {p}"), || {
                query(p, "CLUSTER INFO").is_some_and(|s| s.contains("cluster_state:ok"))
            });
        }
        Some(format!("redis+cluster://{}", nodes.join(",")))
    })
    .clone()
}

fn server_cmd(port: u16, dir: &str, cluster: bool) -> String {
    let cluster = if cluster {
        " --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000"
    } else {
        ""
    };
    format!(
        "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir {dir} \
         --daemonize no --loglevel warning --logfile '' --maxmemory-policy noeviction{cluster} >/dev/null"
    )
}

/// Runs `script` under `sh` with a pipe as its standard input that stays open until this process
/// exits, so the script can stop its servers when `cat` sees the end of its input.
fn keep_alive(script: &str) {
    // The children (and so their stdin pipes) live until the process exits.
    static SCRIPTS: Mutex<Vec<Child>> = Mutex::new(Vec::new());
    let child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh runs");
    SCRIPTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(child);
}

/// A loopback port that was free a moment ago and that this process has not handed out before
/// (a port is released before its server binds it, so two tests could otherwise be given the
/// same one). Another process may still take it first: [`OwnServer`] then starts again on
/// another port.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} not ready after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn wait_for_ping(port: u16) {
    wait_until(&format!("redis-server on port {port}"), || {
        // `+PONG`, or `-NOAUTH` from a server that wants a password: either way it is up.
        query(port, "PING").is_some_and(|s| s.starts_with("+PONG") || s.starts_with("-NOAUTH"))
    });
}

/// Sends one inline command and returns the raw reply, or `None` if nothing answers.
pub fn query(port: u16, command: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("{command}\r\n").as_bytes()).ok()?;
    let mut r = BufReader::new(s);
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    if let Some(len) = first.strip_prefix('$') {
        let n: usize = len.trim().parse().ok()?;
        let mut body = vec![0; n + 2];
        r.read_exact(&mut body).ok()?;
        return Some(String::from_utf8_lossy(&body).into_owned());
    }
    Some(first)
}

/// A `redis-server` this test owns, killed when dropped (also when the test panics).
pub struct OwnServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
}

impl OwnServer {
    /// Starts a server on a free port, with `extra` arguments (`None` without a binary).
    pub fn start(extra: &[&str]) -> Option<Self> {
        Self::start_with(|| extra.iter().map(|a| a.to_string()).collect())
    }

    /// Starts a server on a free port, with the arguments `extra` returns. When the port was
    /// taken before the server could bind it (or another port that `extra` picked was), the
    /// server exits: it starts again on a new port, with `extra` called again.
    pub fn start_with(mut extra: impl FnMut() -> Vec<String>) -> Option<Self> {
        if redis_server_missing() {
            unavailable("a private redis-server", "no `redis-server` on the PATH")?;
        }
        let mut failures = Vec::new();
        while failures.len() < 5 {
            let port = free_port();
            let dir =
                std::env::temp_dir().join(format!("kv-redis-own-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let mut s = Self {
                port,
                dir,
                child: None,
                extra: extra(),
            };
            match s.spawn() {
                Ok(()) => return Some(s),
                Err(why) => failures.push(format!("port {port}: {why}")),
            }
        }
        panic!("redis-server did not start: {failures:?}");
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        if let Err(why) = self.spawn() {
            panic!(
                "redis-server did not start again on port {}: {why}",
                self.port
            );
        }
    }

    /// Starts the process and waits until it answers on its port, or fails if it exits first.
    fn spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let pid = child.id();
        let start = Instant::now();
        let mut locked = false;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("it exited ({status}): a port taken?"));
            }
            if locked {
                break;
            }
            // Its own process id, so that another server on a taken port does not pass for it.
            // A server with a password only says `-NOAUTH`: taken for its own if it still runs
            // a round later (one that lost its port exits as it starts).
            match query(self.port, "INFO server") {
                Some(info) if info.contains(&format!("process_id:{pid}\r")) => break,
                Some(reply) => locked = reply.starts_with("-NOAUTH"),
                None => {}
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                return Err("no answer after 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Kills the server process (as a crash would) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops (`SIGSTOP`) or resumes (`SIGCONT`) the server process: while stopped, the kernel
    /// still accepts connections but nothing answers, as with a hung server.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running server").id();
        let ok = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} {pid}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server whose port is taken exits; [`OwnServer::start_with`] then starts it on a new port.
#[test]
fn an_own_server_whose_port_is_taken_starts_again_on_another() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let taken_port = taken.local_addr().expect("its address").port();
    let mut tries = 0;
    let Some(own) = OwnServer::start_with(|| {
        tries += 1;
        // The first try's `--port` (the last one wins) is the port held above.
        match tries {
            1 => vec!["--port".into(), taken_port.to_string()],
            _ => Vec::new(),
        }
    }) else {
        return;
    };
    assert_eq!(tries, 2);
    assert_ne!(own.port, taken_port);
    assert!(query(own.port, "PING").is_some_and(|r| r.starts_with("+PONG")));
}
