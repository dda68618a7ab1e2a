//! The `prometheus` example in process: its `answer` serves a listener on a free port, with a
//! Prometheus recorder local to the server thread, and the test scrapes `/metrics` over HTTP with
//! a plain `TcpStream`, reading the text a Prometheus server would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;

use metrics_exporter_prometheus::PrometheusBuilder;

#[allow(
    dead_code,
    reason = "the example's `main` serves for ever on a fixed address; the test drives `answer`"
)]
#[path = "../../../examples/prometheus.rs"]
mod example;

/// Serves `requests` requests with the example's `answer`, then stops.
fn serve(requests: usize) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            kvstore::describe_metrics();
            for stream in listener.incoming().take(requests) {
                example::answer(stream.unwrap(), &handle).unwrap();
            }
        });
    });
    (addr, server)
}

/// The status line and the body of `GET path`.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap().to_owned();
    (status, body.to_owned())
}

/// The value of the sample `name{ns="ns"}` in the scraped text, if it is there.
fn sample(text: &str, name: &str, ns: &str) -> Option<f64> {
    let prefix = format!("{name}{{ns=\"{ns}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.parse().unwrap())
}

#[test]
fn prometheus_example_serves_counters_that_keep_rising_and_zero_gauges_for_forgotten_namespaces() {
    let _global = crate::global_stores();
    let (live, gone) = ("prom-test/live", "prom-test/gone");
    let (addr, server) = serve(4);
    let store = kvstore::namespace(live);
    store.set_capacity(10);
    store.put("a", 1_u8);
    let _ = store.get::<u8>("a");
    kvstore::namespace(gone).put("x", 1_u8);

    let (status, text) = get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    for (name, kind) in [
        ("kv_hits_total", "counter"),
        ("kv_misses_total", "counter"),
        ("kv_expirations_total", "counter"),
        ("kv_evictions_total", "counter"),
        ("kv_current_size", "gauge"),
        ("kv_capacity", "gauge"),
        ("kv_loads_started_total", "counter"),
        ("kv_loads_total", "counter"),
        ("kv_load_seconds_total", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} described: {text}"
        );
    }
    assert_eq!(sample(&text, "kv_hits_total", live), Some(1.0), "{text}");
    assert_eq!(sample(&text, "kv_current_size", live), Some(1.0));
    assert_eq!(sample(&text, "kv_capacity", live), Some(10.0));
    assert_eq!(sample(&text, "kv_current_size", gone), Some(1.0));

    let _ = store.get::<u8>("a");
    let (_, text) = get(addr, "/metrics");
    assert_eq!(sample(&text, "kv_hits_total", live), Some(2.0), "{text}");

    // A reset replaces the stores: the fresh store's hit shows at once on top of the old ones,
    // and the forgotten namespace reads 0 entries.
    drop(store);
    kvstore::reset_namespaces();
    let fresh = kvstore::namespace(live);
    fresh.put("a", 1_u8);
    let _ = fresh.get::<u8>("a");
    let (_, text) = get(addr, "/metrics");
    assert_eq!(sample(&text, "kv_hits_total", live), Some(3.0), "{text}");
    assert_eq!(sample(&text, "kv_current_size", live), Some(1.0));
    assert_eq!(sample(&text, "kv_current_size", gone), Some(0.0), "{text}");

    assert_eq!(get(addr, "/").0, "HTTP/1.1 404 Not Found");
    server.join().unwrap();
}
