//! The HTTP/2 frame parser and connection state (`h2::session`): arbitrary frames after
//! the preface, fed in pieces the input chooses, with every request answered (a header
//! block and DATA up to the windows) as the worker does. Never a panic; the output is
//! whole frames, none larger than the peer allows, DATA never beyond a window the
//! session granted; the session's memory stays bounded; after a `Fatal` the last frame
//! is a GOAWAY.
//!
//! Input layout: byte 0 is the piece size (1-256 bytes); the rest follows the preface
//! and a SETTINGS frame (so most inputs reach the frame handlers).
#![no_main]

use libfuzzer_sys::fuzz_target;
use preforkd::h2::frame::{HEADER_LEN, Header, PREFACE, kind};
use preforkd::h2::session::{MAX_HEADER_BLOCK, Session};

fuzz_target!(|data: &[u8]| {
    let Some((&piece, rest)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece) + 1;
    let mut input = PREFACE.to_vec();
    input.extend_from_slice(&[0, 0, 0, kind::SETTINGS, 0, 0, 0, 0, 0]);
    input.extend_from_slice(rest);
    let mut out = Vec::new();
    let mut s = Session::new(&mut out);
    let mut buf = Vec::new();
    let mut fatal = false;
    for chunk in input.chunks(piece) {
        buf.extend_from_slice(chunk);
        match s.receive(&buf, &mut out) {
            Ok(n) => {
                buf.drain(..n);
            }
            Err(_) => {
                fatal = true;
                break;
            }
        }
        // A frame never waits whole in the buffer: what is left is less than one.
        if let Some(h) = Header::parse(&buf) {
            assert!(buf.len() < HEADER_LEN + h.len, "a whole frame was left unread");
        }
        while let Some((id, head)) = s.next_request() {
            s.write_headers(id, b"\x88", false, &mut out);
            let mut left = 40_000usize;
            while let Some(cap) = s.send_capacity(id) {
                if cap == 0 {
                    break;
                }
                let n = cap.min(left);
                left -= n;
                s.write_data(id, n, left == 0, &mut out, |o| {
                    o.resize(o.len() + n, b'd');
                    Ok::<_, ()>(())
                })
                .unwrap();
                if left == 0 {
                    break;
                }
            }
            s.recycle(head);
        }
        assert!(s.buffered() <= 4 * MAX_HEADER_BLOCK + 64 * 1024, "session holds {}", s.buffered());
    }
    // The output is whole frames; the last is a GOAWAY after a failure.
    let mut pos = 0;
    let mut last = None;
    while pos < out.len() {
        let h = Header::parse(&out[pos..]).expect("a whole frame header");
        pos += HEADER_LEN + h.len;
        assert!(pos <= out.len(), "a cut-short frame");
        last = Some(h.kind);
    }
    if fatal {
        assert_eq!(last, Some(kind::GOAWAY));
    }
});
