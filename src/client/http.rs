//! One HTTP/1.1 GET over plain TCP for the client commands: the request with
//! `Connection: close`, the response read under one deadline and taken apart (status,
//! `Content-Type`, the body by `Content-Length`, chunks, or the close).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The most a response may hold: the JSON of the largest pool (4096 entries of about
/// 400 bytes) fits many times over, and a stream that goes on is not a status page.
pub const MAX_RESPONSE: usize = 16 << 20;

/// A response, whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub reason: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// `GET path` from `host:port`, with `authority` as the Host header; everything (the
/// name lookup aside) within `timeout`. The error is one line saying which step failed;
/// the caller names the URL.
pub fn get(
    host: &str,
    port: u16,
    authority: &str,
    path: &str,
    timeout: Duration,
) -> Result<Reply, String> {
    let deadline = Instant::now() + timeout;
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut stream = None;
    let mut last = format!("{host} has no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let late = || format!("no complete answer within {}s", timeout.as_secs_f64());
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: preforkd/{}\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|()| stream.write_all(request.as_bytes()))
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(reply) = parse(&bytes, false)? {
            return Ok(reply);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| format!("reading: {e}"))?;
        match stream.read(&mut chunk) {
            Ok(0) => {
                return parse(&bytes, true)?.ok_or_else(|| match bytes.len() {
                    0 => "the connection closed without an answer".to_owned(),
                    n => format!("the connection closed after {n} bytes of an answer"),
                });
            }
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(late());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading: {e}")),
        }
        if bytes.len() > MAX_RESPONSE {
            return Err(format!(
                "the answer is over {} MiB: not a status page",
                MAX_RESPONSE >> 20
            ));
        }
    }
}

/// The response in `bytes`, if they hold all of it (`eof`: no more will come, so a body
/// without a length ends here); `Ok(None)` while more is needed.
pub fn parse(bytes: &[u8], eof: bool) -> Result<Option<Reply>, String> {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        if eof && !bytes.is_empty() && !bytes.starts_with(b"HTTP/") {
            return Err("the answer is not HTTP".into());
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| "the answer is not HTTP")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (words.next(), words.next()) else {
        return Err("the answer is not HTTP".into());
    };
    let status = match code.parse::<u16>() {
        Ok(code) if version.starts_with("HTTP/1.") && (100..600).contains(&code) => code,
        _ => return Err("the answer is not HTTP".into()),
    };
    let reason = words.next().unwrap_or_default().to_owned();
    let (mut length, mut chunked, mut content_type) = (None, false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("a malformed header line in the answer: {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("a malformed Content-Length: {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().ends_with("chunked");
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        }
    }
    let rest = &bytes[end + 4..];
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None if eof => return Err("the answer ended inside a chunk".into()),
            None => return Ok(None),
        }
    } else if let Some(length) = length {
        match rest.get(..length) {
            Some(body) => body.to_vec(),
            None if eof => {
                return Err(format!(
                    "the answer ended after {} of its {length} bytes",
                    rest.len()
                ));
            }
            None => return Ok(None),
        }
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Reply {
        status,
        reason,
        content_type,
        body,
    }))
}

/// A chunked body put back together; `Ok(None)` while its last chunk has not come.
fn dechunk(mut bytes: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = bytes.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&bytes[..eol]).unwrap_or("?");
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| format!("a malformed chunk size: {line:?}"))?;
        bytes = &bytes[eol + 2..];
        if size == 0 {
            // Trailer fields, if any, end with an empty line; none are needed here.
            return Ok(Some(body));
        }
        if bytes.len() < size.saturating_add(2) {
            return Ok(None);
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_response_by_length_waits_for_its_whole_body() {
        let raw =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"a\"";
        assert!(parse(raw, false).unwrap().is_none());
        let e = parse(raw, true).unwrap_err();
        assert_eq!(e, "the answer ended after 4 of its 5 bytes");
        let mut whole = raw.to_vec();
        whole.push(b'}');
        let r = parse(&whole, false).unwrap().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert_eq!(r.body, b"{\"a\"}");
    }

    #[test]
    fn chunked_and_until_close() {
        let raw =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n";
        assert!(parse(raw, false).unwrap().is_none());
        assert!(parse(raw, true).is_err());
        let mut whole = raw.to_vec();
        whole.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(parse(&whole, false).unwrap().unwrap().body, b"abcde");
        let raw = b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy";
        assert!(parse(raw, false).unwrap().is_none());
        let r = parse(raw, true).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, &b"busy"[..]));
    }

    #[test]
    fn what_is_not_http_says_so() {
        assert!(parse(b"SSH-2.0-OpenSSH_9.2\r\n", true).is_err());
        assert!(parse(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", false).is_err());
        assert!(parse(b"HTTP/1.1 abc OK\r\n\r\n", false).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n", false).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(parse(b"", true).unwrap().is_none());
    }

    /// A one-shot server answering `answer`, and what it was sent.
    fn serve_once(answer: &'static [u8]) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            s.write_all(answer).unwrap();
            String::from_utf8(head).unwrap()
        });
        (port, thread)
    }

    #[test]
    fn get_sends_one_closing_request_and_reads_the_answer() {
        let (port, server) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let authority = format!("127.0.0.1:{port}");
        let r = get(
            "127.0.0.1",
            port,
            &authority,
            "/status.json",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        let head = server.join().unwrap();
        assert!(head.starts_with("GET /status.json HTTP/1.1\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\nHost: {authority}\r\n")),
            "{head}"
        );
        assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
    }

    #[test]
    fn a_silent_server_times_out_and_a_closed_port_is_refused() {
        // Accepted by the kernel's backlog, never answered.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let started = Instant::now();
        let e = get("127.0.0.1", port, "x", "/", Duration::from_millis(300)).unwrap_err();
        assert_eq!(e, "no complete answer within 0.3s");
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(silent);
        let e = get("127.0.0.1", port, "x", "/", Duration::from_secs(2)).unwrap_err();
        assert!(e.starts_with("cannot connect: "), "{e}");
    }
}
