//! Redis servers for `cargo xtask test`: one `redis-server` and a three-master cluster on free
//! loopback ports, data in a temporary directory, no persistence. [`Servers`] stops them and
//! removes the directory when dropped, so a failing step still leaves nothing running.

use std::env;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::Result;

/// The environment variables the kv-redis tests (and nothing else) read.
pub const URL_VAR: &str = "KV_REDIS_URL";
pub const CLUSTER_VAR: &str = "KV_REDIS_CLUSTER_URL";
pub const REQUIRE_VAR: &str = "KV_REDIS_REQUIRE";

/// The one command that installs what is missing (Debian/Ubuntu).
const INSTALL_CMD: &str = "sudo apt-get update && sudo apt-get install -y redis-server redis-tools";

/// The running servers; dropping this stops them.
pub struct Servers {
    children: Vec<Child>,
    dir: PathBuf,
    /// `redis://127.0.0.1:PORT`
    pub single: String,
    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`
    pub cluster: String,
}

impl Servers {
    /// Starts one server and a three-master cluster, and waits until the cluster is `ok`.
    pub fn start() -> Result<Self> {
        ensure_installed()?;
        let dir = env::temp_dir().join(format!("kvstore-xtask-redis-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut servers = Servers {
            children: Vec::new(),
            dir,
            single: String::new(),
            cluster: String::new(),
        };
        eprintln!("\n==> redis: one server and a three-master cluster on loopback");
        let port = servers.spawn(false)?;
        servers.single = format!("redis://127.0.0.1:{port}");
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(format!("127.0.0.1:{}", servers.spawn(true)?));
        }
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        for node in &nodes {
            let port: u16 = node[node.rfind(':').map_or(0, |i| i + 1)..]
                .parse()
                .map_err(|_| format!("bad node {node}"))?;
            wait_until(&format!("cluster node {node}"), || {
                inline(port, "CLUSTER INFO").is_some_and(|r| r.contains("cluster_state:ok"))
            })?;
        }
        servers.cluster = format!("redis+cluster://{}", nodes.join(","));
        eprintln!("    {} and {}", servers.single, servers.cluster);
        Ok(servers)
    }

    /// Sets the variables that point the kv-redis tests at these servers (and make them run).
    pub fn export(&self, cmd: &mut Command) {
        cmd.env(URL_VAR, &self.single)
            .env(CLUSTER_VAR, &self.cluster)
            .env(REQUIRE_VAR, "1");
    }

    fn spawn(&mut self, cluster: bool) -> Result<u16> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free loopback port: {e}"))?;
        let dir = self.dir.join(port.to_string());
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--maxmemory-policy", "noeviction", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null());
        if cluster {
            cmd.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ]);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("redis-server did not start: {e}"))?;
        self.children.push(child);
        wait_until(&format!("redis-server on port {port}"), || {
            inline(port, "PING").is_some_and(|r| r.starts_with("+PONG"))
        })?;
        Ok(port)
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn found(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Makes sure `redis-server` and `redis-cli` are on the PATH: when one is missing and this runs as
/// root with `apt-get` (a fresh Debian container, CI), installs Debian's packages non-interactively,
/// saying so; otherwise stops with the one command that installs them.
fn ensure_installed() -> Result {
    let missing: Vec<&str> = ["redis-server", "redis-cli"]
        .into_iter()
        .filter(|t| !found(t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let why = format!(
        "`cargo xtask test` runs the Redis backend's tests on a real redis-server and cluster, \
         and {} not on the PATH",
        match missing[..] {
            [one] => format!("`{one}` is"),
            _ => "`redis-server` and `redis-cli` are".to_string(),
        }
    );
    if !is_root() || !found("apt-get") {
        return Err(format!(
            "{why}: install them with `{INSTALL_CMD}` and run again"
        ));
    }
    eprintln!(
        "\n==> {why}: installing redis-server and redis-tools with apt-get (running as root)"
    );
    for args in [
        &["update", "-q"][..],
        &["install", "-y", "-q", "redis-server", "redis-tools"][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("apt-get could not start: {e}"))?;
        if !status.success() {
            return Err(format!(
                "`apt-get {}` failed ({status}); install them with `{INSTALL_CMD}` and run again",
                args.join(" ")
            ));
        }
    }
    match ["redis-server", "redis-cli"]
        .into_iter()
        .find(|t| !found(t))
    {
        None => Ok(()),
        Some(tool) => Err(format!("`{tool}` is still missing after apt-get install")),
    }
}

/// Whether this process runs as root (`id -u` is 0): the only case in which xtask installs
/// packages itself.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) -> Result {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("{what} not ready after 30 s"));
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// One inline command's reply (the first 4 KiB of it), or `None` if nothing answers.
fn inline(port: u16, command: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("{command}\r\n").as_bytes()).ok()?;
    let mut buf = [0; 4096];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}
