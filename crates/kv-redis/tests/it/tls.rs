//! TLS for real (feature `tls`): a `redis-server` with a `--tls-port`, whose certificate a CA
//! that the test makes (rcgen) has signed, in a temporary directory the test makes and removes.
//! The sync and the async stores reach it (and a three-master cluster with `tls-cluster yes`)
//! when given that CA, and refuse it, with [`RedisStoreError::Tls`] and no hang, when its
//! certificate comes from another CA or names another host.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kv_core::{AsyncBackend, Backend};
use kv_redis::{AsyncTypedRedisStore, NearCache, RedisServer, RedisStoreError, TypedRedisStore};
use kvstore::PutOptions;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::contract::async_runtime;
use crate::support::{self, OwnServer};

/// Far more than a refused handshake takes (a few milliseconds): only a hang reaches it.
const NO_HANG: Duration = Duration::from_secs(30);

/// A directory of this test's own for certificates and keys, removed when dropped.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kv-redis-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Self { dir }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("a certificate file");
        path
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A self-signed CA named `name`.
fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a key")).expect("a CA")
}

/// A certificate for `hosts` signed by `ca`, and its key, both PEM.
fn leaf(ca: &CertifiedIssuer<'static, KeyPair>, hosts: &[&str]) -> (String, String) {
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    let mut params = CertificateParams::new(hosts).expect("certificate parameters");
    params.distinguished_name.push(DnType::CommonName, "redis");
    let key = KeyPair::generate().expect("a key");
    let cert = params.signed_by(&key, ca).expect("a signed certificate");
    (cert.pem(), key.serialize_pem())
}

/// A CA of the test's own and a server certificate for `hosts` that it signed, as files.
struct Certs {
    ca_pem: String,
    ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
    _pki: Pki,
}

impl Certs {
    fn new(hosts: &[&str]) -> Self {
        let pki = Pki::new();
        let ca = ca("kv-redis test CA");
        let (cert, key) = leaf(&ca, hosts);
        Self {
            ca_pem: ca.pem(),
            ca_file: pki.write("ca.pem", &ca.pem()),
            cert_file: pki.write("server.pem", &cert),
            key_file: pki.write("server.key", &key),
            _pki: pki,
        }
    }

    /// redis-server's arguments to speak TLS on `tls_port` with these certificates (and to
    /// want no client certificate).
    fn server_args(&self, tls_port: u16) -> Vec<String> {
        let path = |p: &Path| p.to_str().expect("a UTF-8 temp path").to_string();
        vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            path(&self.cert_file),
            "--tls-key-file".into(),
            path(&self.key_file),
            "--tls-ca-cert-file".into(),
            path(&self.ca_file),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }
}

/// A redis-server that speaks TLS on `tls_port` with a certificate for `hosts` signed by a CA
/// of its own, `ca_pem` (and plain RESP on its other port, for the readiness check).
struct TlsServer {
    server: OwnServer,
    tls_port: u16,
    ca_pem: String,
    ca_file: PathBuf,
    _certs: Certs,
}

impl TlsServer {
    fn start(hosts: &[&str]) -> Option<Self> {
        let certs = Certs::new(hosts);
        // A new TLS port for each try: one that was taken makes the server exit.
        let mut tls_port = 0;
        let server = OwnServer::start_with(|| {
            tls_port = support::free_port();
            certs.server_args(tls_port)
        })?;
        Some(Self {
            server,
            tls_port,
            ca_pem: certs.ca_pem.clone(),
            ca_file: certs.ca_file.clone(),
            _certs: certs,
        })
    }

    /// `rediss://` to the TLS port, with a password the errors must not show.
    fn url(&self) -> String {
        format!(
            "rediss://:tls-pass-K2@127.0.0.1:{}?timeout=5s",
            self.tls_port
        )
    }
}

fn assert_tls_error(err: RedisStoreError, says: &[&str]) {
    let shown = format!("{err} | {err:?}");
    assert!(matches!(err, RedisStoreError::Tls { .. }), "{shown}");
    for part in says {
        assert!(shown.contains(part), "`{part}` not in {shown}");
    }
    assert!(!shown.contains("tls-pass-K2"), "{shown}");
}

#[test]
fn a_sync_store_reaches_a_tls_server_through_the_ca_it_is_given() {
    let Some(tls) = TlsServer::start(&["127.0.0.1", "localhost"]) else {
        return;
    };
    let ns = support::unique_ns("tls-sync");
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("rediss://{host}:{}", tls.tls_port);
        let store = TypedRedisStore::<String>::new(
            RedisServer::builder(&url)
                .tls_ca_cert(tls.ca_pem.clone())
                .connect()
                .unwrap()
                .namespace(&ns),
        );
        store
            .put(host.into(), "over TLS".into(), &PutOptions::new())
            .unwrap();
    }
    // From the CA's file, the same namespace: both writes are there.
    let url = format!("rediss://127.0.0.1:{}", tls.tls_port);
    let store = TypedRedisStore::<String>::new(
        RedisServer::builder(&url)
            .tls_ca_cert_file(&tls.ca_file)
            .connect()
            .unwrap()
            .namespace(&ns),
    );
    for host in ["127.0.0.1", "localhost"] {
        assert_eq!(
            store.get(&host.to_string()).unwrap().as_deref(),
            Some("over TLS")
        );
    }
    store.get_ref().drop_namespace().unwrap();
}

#[test]
fn an_async_store_reaches_a_tls_server_through_the_ca_it_is_given() {
    let Some(tls) = TlsServer::start(&["127.0.0.1"]) else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}", tls.tls_port);
    let ns = support::unique_ns("tls-async");
    let rt = async_runtime();
    let server = rt
        .block_on(
            RedisServer::builder(&url)
                .tls_ca_cert(tls.ca_pem.clone())
                .connect_async(),
        )
        .unwrap();
    let store = AsyncTypedRedisStore::<String>::new(server.namespace(&ns));
    rt.block_on(store.put(
        "tok".into(),
        "t".into(),
        &PutOptions::new().with_max_reads(1),
    ))
    .unwrap();
    // A sync store over TLS sees the async one's entry, and spends its one read.
    let sync = RedisServer::builder(&url)
        .tls_ca_cert_file(&tls.ca_file)
        .connect()
        .unwrap()
        .namespace(&ns);
    assert_eq!(
        sync.get(&"tok".to_string()).unwrap().as_deref(),
        Some(&b"\"t\""[..])
    );
    assert_eq!(rt.block_on(store.get(&"tok".to_string())).unwrap(), None);
    rt.block_on(store.get_ref().drop_namespace()).unwrap();
}

/// The near cache opens its own invalidation connection: over TLS it trusts the CA the store
/// was given (without it, `NearCache::new` failed the handshake against the built-in roots).
#[test]
fn a_near_cache_over_tls_is_kept_fresh_through_the_ca_it_is_given() {
    let Some(tls) = TlsServer::start(&["127.0.0.1"]) else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}", tls.tls_port);
    let ns = support::unique_ns("tls-near");
    let connect = || {
        RedisServer::builder(&url)
            .tls_ca_cert(tls.ca_pem.clone())
            .connect()
            .unwrap()
            .namespace(&ns)
    };
    let near = NearCache::new(connect(), 100).expect("tracking on over TLS");
    let writer = connect();
    let key = "flag".to_string();
    writer
        .put(key.clone(), b"on".to_vec(), &PutOptions::new())
        .unwrap();
    // The write's invalidation arrives first, so the reads below find the near tier settled.
    let start = Instant::now();
    while near.near_metrics().invalidations == 0 {
        assert!(start.elapsed() < NO_HANG, "no invalidation over TLS");
        std::thread::sleep(Duration::from_millis(1));
    }
    let read = |n: &NearCache| n.get(&key).unwrap();
    assert_eq!(read(&near).as_deref(), Some(&b"on"[..]));
    assert_eq!(read(&near).as_deref(), Some(&b"on"[..]));
    assert_eq!(
        near.near_metrics().hits,
        1,
        "the second read is answered near"
    );
    writer
        .put(key.clone(), b"off".to_vec(), &PutOptions::new())
        .unwrap();
    let start = Instant::now();
    while read(&near).as_deref() != Some(&b"off"[..]) {
        assert!(
            start.elapsed() < NO_HANG,
            "the write's invalidation never came"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.drop_namespace().unwrap();
}

#[test]
fn a_server_certificate_from_an_untrusted_ca_is_refused_with_a_tls_error() {
    let Some(tls) = TlsServer::start(&["127.0.0.1"]) else {
        return;
    };
    let other = ca("another CA");
    let rt = async_runtime();
    // Given another CA, and given none (the public CAs built in): refused either way, with the
    // same clear error, sync and async, and without waiting for a timeout.
    for ca in [Some(other.pem()), None] {
        let builder = || {
            let b = RedisServer::builder(&tls.url());
            match &ca {
                Some(pem) => b.tls_ca_cert(pem.clone()),
                None => b,
            }
        };
        let says = ["not signed by a CA this client trusts", "UnknownIssuer"];
        let start = Instant::now();
        assert_tls_error(builder().connect().unwrap_err(), &says);
        assert_tls_error(rt.block_on(builder().connect_async()).unwrap_err(), &says);
        assert!(start.elapsed() < NO_HANG, "took {:?}", start.elapsed());
    }
}

#[test]
fn a_server_certificate_for_another_host_is_refused_with_a_tls_error() {
    let Some(tls) = TlsServer::start(&["redis.example"]) else {
        return;
    };
    let builder = || RedisServer::builder(&tls.url()).tls_ca_cert(tls.ca_pem.clone());
    let says = ["does not name the host", "not valid for name \"127.0.0.1\""];
    assert_tls_error(builder().connect().unwrap_err(), &says);
    let rt = async_runtime();
    assert_tls_error(rt.block_on(builder().connect_async()).unwrap_err(), &says);
}

#[test]
fn a_ca_that_cannot_be_used_is_an_error_that_says_why() {
    // Checked before connecting: no server needed.
    let url = "rediss://:tls-pass-K2@127.0.0.1:1";
    let pki = Pki::new();
    let missing = pki.dir.join("missing.pem");
    let cases = [
        (
            RedisServer::builder(url).tls_ca_cert("not a certificate"),
            "holds no certificate",
        ),
        (
            RedisServer::builder(url).tls_ca_cert_file(&missing),
            "cannot read the CA certificate file",
        ),
        (
            RedisServer::builder(url)
                .tls_ca_cert("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            "cannot be a CA",
        ),
    ];
    let rt = async_runtime();
    for (builder, says) in cases {
        assert_tls_error(builder.clone().connect().unwrap_err(), &[says]);
        assert_tls_error(rt.block_on(builder.connect_async()).unwrap_err(), &[says]);
    }
    let err = RedisServer::builder("redis://127.0.0.1:1")
        .tls_ca_cert(ca("a CA").pem())
        .connect()
        .unwrap_err();
    assert!(matches!(err, RedisStoreError::Url { .. }), "{err:?}");
    assert!(err.to_string().contains("not rediss://"), "{err}");
}

/// A plain port answers a TLS hello with an error line, or waits for the rest of what it takes
/// for an inline command: a TLS error or a timeout, never a hang or a panic.
#[test]
fn a_plain_port_on_a_rediss_url_is_an_error_within_the_timeout() {
    let Some(tls) = TlsServer::start(&["127.0.0.1"]) else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}", tls.server.port);
    let builder = || {
        RedisServer::builder(&url)
            .tls_ca_cert(tls.ca_pem.clone())
            .timeout(Duration::from_secs(1))
    };
    let rt = async_runtime();
    let start = Instant::now();
    for err in [
        builder().connect().unwrap_err(),
        rt.block_on(builder().connect_async()).unwrap_err(),
    ] {
        match &err {
            RedisStoreError::Tls { reason, .. } => {
                assert!(reason.contains("does not speak TLS"), "{err}")
            }
            RedisStoreError::Unavailable { .. } => {}
            _ => panic!("{err:?}"),
        }
    }
    assert!(start.elapsed() < NO_HANG, "took {:?}", start.elapsed());
}

/// Three masters with `tls-cluster yes` (the cluster bus and the addresses `CLUSTER SLOTS` hands
/// out are TLS too), reached by the sync and the async cluster clients through the CA, and
/// refused without it.
#[test]
fn a_cluster_over_tls_is_reached_through_the_ca_and_refused_without_it() {
    if Command::new("redis-cli").arg("--version").output().is_err() {
        return;
    }
    let certs = Certs::new(&["127.0.0.1"]);
    let mut nodes = Vec::new();
    let mut tls_ports = Vec::new();
    for _ in 0..3 {
        let mut tls_port = 0;
        let Some(node) = OwnServer::start_with(|| {
            tls_port = support::free_port();
            let mut args = certs.server_args(tls_port);
            for arg in ["--tls-cluster", "yes", "--cluster-enabled", "yes"] {
                args.push(arg.into());
            }
            args.extend(["--cluster-config-file".into(), "nodes.conf".into()]);
            args
        }) else {
            return;
        };
        nodes.push(node);
        tls_ports.push(tls_port);
    }
    let addrs: Vec<String> = tls_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let out = Command::new("redis-cli")
        .arg("--tls")
        .arg("--cacert")
        .arg(&certs.ca_file)
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli runs");
    assert!(
        out.status.success(),
        "redis-cli --cluster create: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ready = Instant::now();
    while !nodes.iter().all(|n| {
        support::query(n.port, "CLUSTER INFO").is_some_and(|s| s.contains("cluster_state:ok"))
    }) {
        assert!(ready.elapsed() < NO_HANG, "the TLS cluster is not ok");
        std::thread::sleep(Duration::from_millis(100));
    }

    let url = format!("rediss+cluster://:tls-pass-K2@{}", addrs.join(","));
    // No password on these servers: the URL with one is only for the refusals below.
    let trusted = format!("rediss+cluster://{}", addrs.join(","));
    let ns = support::unique_ns("tls-cluster");
    let sync = TypedRedisStore::<String>::new(
        RedisServer::builder(&trusted)
            .tls_ca_cert(certs.ca_pem.clone())
            .connect()
            .unwrap()
            .namespace(&ns),
    );
    sync.put("k".into(), "over TLS".into(), &PutOptions::new())
        .unwrap();
    let rt = async_runtime();
    let server = rt
        .block_on(
            RedisServer::builder(&trusted)
                .tls_ca_cert_file(&certs.ca_file)
                .connect_async(),
        )
        .unwrap();
    let asy = AsyncTypedRedisStore::<String>::new(server.namespace(&ns));
    assert_eq!(
        rt.block_on(asy.get(&"k".to_string())).unwrap().as_deref(),
        Some("over TLS")
    );

    let says = ["not signed by a CA this client trusts", "UnknownIssuer"];
    let other = ca("another CA").pem();
    let start = Instant::now();
    assert_tls_error(
        RedisServer::builder(&url)
            .tls_ca_cert(other.clone())
            .connect()
            .unwrap_err(),
        &says,
    );
    assert_tls_error(
        rt.block_on(
            RedisServer::builder(&url)
                .tls_ca_cert(other)
                .connect_async(),
        )
        .unwrap_err(),
        &says,
    );
    assert!(start.elapsed() < NO_HANG, "took {:?}", start.elapsed());
    sync.get_ref().drop_namespace().unwrap();
}
