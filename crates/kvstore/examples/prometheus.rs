//! Serves the stores' metrics to Prometheus at `http://ADDR/metrics`, publishing them afresh
//! before each scrape.
//!
//! ```text
//! cargo run -p kvstore --features metrics --example prometheus -- 127.0.0.1:9898
//! curl -s http://127.0.0.1:9898/metrics
//! ```
//!
//! The address is the first argument, else `KV_METRICS_ADDR`, else `127.0.0.1:9898` (port 0
//! picks a free port, printed at start). `metrics-exporter-prometheus` keeps the values and
//! renders the text; a std `TcpListener` serves it, so the example needs no async runtime.

use std::error::Error;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

fn main() -> Result<(), Box<dyn Error>> {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("KV_METRICS_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:9898".to_owned());
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)?;
    kvstore::describe_metrics();

    // Something to see: a namespace with a capacity, read once a second.
    std::thread::spawn(|| {
        let jobs = kvstore::namespace("jobs");
        jobs.set_capacity(100);
        for n in 0_u64.. {
            jobs.put(format!("job-{}", n % 150), n);
            let _ = jobs.get::<u64>(&format!("job-{}", n % 7));
            std::thread::sleep(Duration::from_secs(1));
        }
    });

    let listener = TcpListener::bind(&addr)?;
    println!("serving http://{}/metrics", listener.local_addr()?);
    for stream in listener.incoming() {
        // One bad client must not stop the server: say what went wrong and serve the next.
        if let Err(e) = stream.and_then(|stream| answer(stream, &handle)) {
            eprintln!("prometheus example: {e}");
        }
    }
    Ok(())
}

/// Answers one HTTP request: `GET /metrics` gets the stores' metrics, published just now; any
/// other path gets 404. A request is read up to 8 KiB and for at most 5 seconds a line.
pub fn answer(stream: TcpStream, handle: &PrometheusHandle) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = BufReader::new((&stream).take(8 * 1024));
    let mut line = String::new();
    request.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("");
    // The headers tell this server nothing: read them up to the blank line, then answer.
    let mut header = String::new();
    while request.read_line(&mut header)? > 2 {
        header.clear();
    }
    let (status, body) = if path == "/metrics" {
        kvstore::publish_metrics();
        ("200 OK", handle.render())
    } else {
        ("404 Not Found", "try /metrics\n".to_owned())
    };
    let mut stream = &stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
