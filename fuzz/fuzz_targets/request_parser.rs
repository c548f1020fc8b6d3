//! The request parser must never panic, and what it accepts must be self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use preforkd::http::request::{MAX_HEAD, ParseError, Parsed, parse};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Parsed::Complete { request, len }) => {
            assert!(len <= data.len());
            assert!(
                len <= MAX_HEAD
                    + data
                        .iter()
                        .take_while(|&&b| b == b'\r' || b == b'\n')
                        .count()
            );
            assert!(!request.target.is_empty());
            let path = request.path();
            assert!(path.len() <= request.target.len());
            for name in ["host", "range", "if-none-match", "accept-encoding", "x"] {
                if let Some(v) = request.header(name) {
                    assert!(!v.contains(&b'\n') && !v.contains(&b'\0'));
                }
            }
            // The parsed head stays stable when more bytes follow it (pipelining).
            let mut more = data[..len].to_vec();
            more.extend_from_slice(b"GET / HTTP/1.1\r\n");
            match parse(&more) {
                Ok(Parsed::Complete { len: again, .. }) => assert_eq!(again, len),
                other => panic!("prefix re-parse changed: {other:?}"),
            }
            let mut scratch = Vec::new();
            let _ = preforkd::site::path::normalize(path, &mut scratch);
        }
        Ok(Parsed::Partial) => {}
        Err(ParseError(status)) => assert!(status.code() >= 400),
    }
});
