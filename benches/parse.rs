//! Request-parser micro-benchmark, with the `httparse` crate as a yardstick.
//! Run: `cargo bench --bench parse`. Prints ns per parse for each input and the ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

use preforkd::http::request::{HeadScan, Parsed, parse};

const INPUTS: [(&str, &[u8]); 3] = [
    ("wrk (2 fields)", b"GET /1k.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"),
    (
        "curl (3 fields)",
        b"GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    ),
    (
        "browser (10 fields)",
        b"GET /static/css/site.css?v=3 HTTP/1.1\r\nHost: www.example.com\r\nConnection: keep-alive\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Accept: text/css,*/*;q=0.1\r\nReferer: https://www.example.com/\r\nAccept-Encoding: gzip, deflate, br\r\n\
Accept-Language: en-US,en;q=0.9\r\nIf-None-Match: \"5d8-5f1c2b3a.0-1a2b\"\r\n\
If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nCookie: session=abcdef0123456789\r\n\r\n",
    ),
];

/// Runs `f` repeatedly for about `budget`; returns nanoseconds per call (best of 5 rounds).
fn time_per_call(budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut n = 0u64;
        let start = Instant::now();
        while start.elapsed() < budget / 5 {
            for _ in 0..1000 {
                black_box(f());
            }
            n += 1000;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

fn ours(input: &[u8]) -> usize {
    match parse(black_box(input)) {
        // A server also needs the path and the connection decision; touch them.
        Ok(Parsed::Complete { request, len }) => {
            len + request.path().len() + usize::from(request.keep_alive)
        }
        _ => 0,
    }
}

/// As a connection does it: the scanner looks at the bytes first, then the parser runs.
fn ours_scanned(input: &[u8]) -> usize {
    let mut scan = HeadScan::default();
    if scan.worth_parsing(black_box(input)) {
        ours(input)
    } else {
        0
    }
}

fn theirs(input: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(black_box(input)) {
        Ok(httparse::Status::Complete(len)) => {
            // httparse leaves Host, Connection and Content-Length to the caller: do what
            // our parser does with them, so both sides do the same work.
            let mut n = len + req.path.map_or(0, str::len);
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("connection")
                    || h.name.eq_ignore_ascii_case("host")
                    || h.name.eq_ignore_ascii_case("content-length")
                {
                    n += h.value.len();
                }
            }
            n
        }
        _ => 0,
    }
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );
    println!(
        "{:<22} {:>12} {:>14} {:>12} {:>8}",
        "input", "preforkd ns", "+HeadScan ns", "httparse ns", "ratio"
    );
    for (name, input) in INPUTS {
        assert!(
            ours_scanned(input) > 0 && theirs(input) > 0,
            "{name} must parse"
        );
        let a = time_per_call(budget, || ours(input));
        let s = time_per_call(budget, || ours_scanned(input));
        let b = time_per_call(budget, || theirs(input));
        println!("{name:<22} {a:>12.1} {s:>14.1} {b:>12.1} {:>7.2}x", s / b);
    }
}
