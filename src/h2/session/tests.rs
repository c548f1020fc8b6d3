//! The session against frames written by hand: the exchange, the limits and the attacks.

use super::*;
use crate::h2::hpack::encode_field;

/// What a client sends, built up frame by frame.
#[derive(Default)]
struct Wire(Vec<u8>);

impl Wire {
    fn preface() -> Wire {
        let mut w = Wire(PREFACE.to_vec());
        w.frame(kind::SETTINGS, 0, 0, &[]);
        w
    }
    fn frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) -> &mut Wire {
        frame::write_header(&mut self.0, payload.len(), kind, flags, stream);
        self.0.extend_from_slice(payload);
        self
    }
    fn get(&mut self, stream: u32, path: &str) -> &mut Wire {
        let block = request_block(path);
        self.frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            stream,
            &block,
        )
    }
}

fn request_block(path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "a"),
    ] {
        encode_field(n.as_bytes(), v.as_bytes(), &mut b);
    }
    b
}

/// The frames in `out`: (kind, flags, stream, payload).
fn frames(mut out: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut v = Vec::new();
    while let Some(h) = Header::parse(out) {
        v.push((h.kind, h.flags, h.stream, out[9..9 + h.len].to_vec()));
        out = &out[9 + h.len..];
    }
    v
}

fn goaway_code(out: &[u8]) -> Option<u32> {
    frames(out)
        .iter()
        .find(|f| f.0 == kind::GOAWAY)
        .map(|f| u32::from_be_bytes(f.3[4..8].try_into().unwrap()))
}

fn session() -> (Session, Vec<u8>) {
    let mut out = Vec::new();
    let s = Session::new(&mut out);
    (s, out)
}

#[test]
fn a_request_is_answered_and_its_stream_ends() {
    let (mut s, mut out) = session();
    let f = frames(&out);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].0, kind::SETTINGS);
    let mut w = Wire::preface();
    w.get(1, "/a.html");
    let input = w.0.clone();
    // In pieces: nothing is taken before a frame is whole.
    assert_eq!(s.receive(&input[..10], &mut out), Ok(0));
    assert_eq!(s.receive(&input, &mut out), Ok(input.len()));
    let (id, head) = s.next_request().unwrap();
    assert_eq!(id, 1);
    assert_eq!(
        head,
        Head::Complete(b"GET /a.html HTTP/1.1\r\nhost: a\r\n\r\n".to_vec())
    );
    assert!(s.next_request().is_none());
    assert_eq!(s.open_streams(), 1);
    assert_eq!(s.send_capacity(1), Some(DEFAULT_MAX_FRAME));
    out.clear();
    s.write_headers(1, b"\x88", false, &mut out);
    s.write_data(1, 3, true, &mut out, |o| {
        o.extend_from_slice(b"abc");
        Ok::<_, ()>(())
    })
    .unwrap();
    let f = frames(&out);
    assert_eq!((f[0].0, f[0].1), (kind::HEADERS, flag::END_HEADERS));
    assert_eq!(
        (f[1].0, f[1].1, &f[1].3[..]),
        (kind::DATA, flag::END_STREAM, &b"abc"[..])
    );
    assert_eq!(s.open_streams(), 0);
    assert_eq!(s.send_capacity(1), None);
    assert!(!s.finished());
    s.go_away(&mut out);
    assert!(s.finished());
}

#[test]
fn settings_and_pings_are_acknowledged() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.frame(kind::PING, 0, 0, b"12345678");
    out.clear();
    s.receive(&w.0, &mut out).unwrap();
    let f = frames(&out);
    assert_eq!((f[0].0, f[0].1), (kind::SETTINGS, flag::ACK));
    assert_eq!(
        (f[1].0, f[1].1, &f[1].3[..]),
        (kind::PING, flag::ACK, &b"12345678"[..])
    );
}

#[test]
fn a_bad_preface_or_a_first_frame_not_settings_fails() {
    let (mut s, mut out) = session();
    assert_eq!(
        s.receive(b"GET / HTTP/1.1\r\n\r\n", &mut out),
        Err(Fatal(ErrorCode::Protocol))
    );
    assert_eq!(goaway_code(&out), Some(1));
    let (mut s, mut out) = session();
    let mut w = Wire(PREFACE.to_vec());
    w.frame(kind::PING, 0, 0, b"12345678");
    assert_eq!(s.receive(&w.0, &mut out), Err(Fatal(ErrorCode::Protocol)));
}

fn fails_with(build: impl FnOnce(&mut Wire), code: ErrorCode) {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    build(&mut w);
    assert_eq!(s.receive(&w.0, &mut out), Err(Fatal(code)));
    assert_eq!(goaway_code(&out), Some(code as u32));
}

#[test]
fn broken_frames_end_the_connection_with_the_right_code() {
    fails_with(
        |w| {
            w.frame(kind::DATA, 0, 0, b"x");
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::HEADERS, flag::END_HEADERS, 0, &request_block("/"));
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::HEADERS, flag::END_HEADERS, 2, &request_block("/"));
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::SETTINGS, 0, 0, &[0; 5]);
        },
        ErrorCode::FrameSize,
    );
    fails_with(
        |w| {
            w.frame(kind::WINDOW_UPDATE, 0, 0, &[0; 4]);
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::PING, 0, 0, b"1234567");
        },
        ErrorCode::FrameSize,
    );
    fails_with(
        |w| {
            w.frame(kind::DATA, 0, 1, &vec![0; DEFAULT_MAX_FRAME + 1]);
        },
        ErrorCode::FrameSize,
    );
    fails_with(
        |w| {
            w.frame(kind::PUSH_PROMISE, 0, 1, &[0; 4]);
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::RST_STREAM, 0, 5, &[0; 4]);
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::HEADERS, 0, 1, &[])
                .frame(kind::PING, 0, 0, b"12345678");
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::CONTINUATION, flag::END_HEADERS, 1, &[]);
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::HEADERS, flag::END_HEADERS, 1, b"\x80");
        },
        ErrorCode::Compression,
    );
    fails_with(
        |w| {
            w.frame(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]);
        },
        ErrorCode::FlowControl,
    );
    fails_with(
        |w| {
            w.frame(kind::SETTINGS, 0, 0, &[0, 5, 0, 0, 0x10, 0]);
        },
        ErrorCode::Protocol,
    );
    fails_with(
        |w| {
            w.frame(kind::WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes());
        },
        ErrorCode::FlowControl,
    );
}

#[test]
fn unknown_frames_and_priorities_are_ignored() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.frame(0x42, 0xff, 0, b"whatever")
        .frame(kind::PRIORITY, 0, 3, &[0, 0, 0, 1, 16])
        .get(1, "/");
    s.receive(&w.0, &mut out).unwrap();
    assert!(s.next_request().is_some());
}

#[test]
fn streams_beyond_the_limit_are_refused() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    for i in 0..=MAX_CONCURRENT_STREAMS {
        w.get(2 * i + 1, "/");
    }
    out.clear();
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(s.open_streams(), MAX_CONCURRENT_STREAMS as usize);
    let f = frames(&out);
    let rst: Vec<_> = f.iter().filter(|f| f.0 == kind::RST_STREAM).collect();
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].2, 2 * MAX_CONCURRENT_STREAMS + 1);
    assert_eq!(rst[0].3, (ErrorCode::RefusedStream as u32).to_be_bytes());
}

#[test]
fn rapid_reset_is_cut_off() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    for i in 0..1000 {
        w.get(2 * i + 1, "/")
            .frame(kind::RST_STREAM, 0, 2 * i + 1, &8u32.to_be_bytes());
    }
    assert_eq!(
        s.receive(&w.0, &mut out),
        Err(Fatal(ErrorCode::EnhanceYourCalm))
    );
    // Reset before they were taken: none is left to answer.
    assert!(s.next_request().is_none());
}

#[test]
fn resets_are_forgiven_as_answers_finish() {
    let (mut s, mut out) = session();
    s.receive(&Wire::preface().0, &mut out).unwrap();
    for i in 0..10 * RESET_CREDIT {
        let mut w = Wire::default();
        w.get(4 * i + 1, "/");
        w.get(4 * i + 3, "/")
            .frame(kind::RST_STREAM, 0, 4 * i + 3, &8u32.to_be_bytes());
        s.receive(&w.0, &mut out).unwrap();
        let (id, _) = s.next_request().unwrap();
        s.write_headers(id, b"\x88", true, &mut out);
    }
}

#[test]
fn a_continuation_flood_is_cut_off() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.frame(kind::HEADERS, 0, 1, &request_block("/"));
    s.receive(&w.0, &mut out).unwrap();
    let mut result = Ok(0);
    for _ in 0..MAX_HEADER_BLOCK / 1000 + 2 {
        let mut w = Wire::default();
        w.frame(kind::CONTINUATION, 0, 1, &[0x40; 1000]);
        result = s.receive(&w.0, &mut out);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(Fatal(ErrorCode::EnhanceYourCalm)));
    // Empty ones cost a credit each.
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.frame(kind::HEADERS, 0, 1, &request_block("/"));
    for _ in 0..FLOOD_CREDIT {
        w.frame(kind::CONTINUATION, 0, 1, &[]);
    }
    assert_eq!(
        s.receive(&w.0, &mut out),
        Err(Fatal(ErrorCode::EnhanceYourCalm))
    );
}

#[test]
fn ping_and_settings_floods_are_cut_off() {
    for (kind, payload) in [(kind::PING, &b"12345678"[..]), (kind::SETTINGS, &[][..])] {
        let (mut s, mut out) = session();
        let mut w = Wire::preface();
        for _ in 0..FLOOD_CREDIT {
            w.frame(kind, 0, 0, payload);
        }
        assert_eq!(
            s.receive(&w.0, &mut out),
            Err(Fatal(ErrorCode::EnhanceYourCalm))
        );
    }
}

#[test]
fn an_hpack_bomb_gets_431_not_memory() {
    let (mut s, mut out) = session();
    let mut block = request_block("/");
    // One 4000-byte field into the table, then referenced until far past the limit.
    block.push(0x40);
    block.push(1);
    block.push(b'x');
    block.extend_from_slice(&[0x7f, 0xa1, 0x1e]); // 127 + 3873 = 4000
    block.extend(std::iter::repeat_n(b'v', 4000));
    block.extend(std::iter::repeat_n(0x80 | 62, 8000));
    let mut w = Wire::preface();
    let (first, rest) = block.split_at(block.len() / 2);
    w.frame(kind::HEADERS, flag::END_STREAM, 1, first);
    w.frame(kind::CONTINUATION, flag::END_HEADERS, 1, rest);
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(s.next_request(), Some((1, Head::TooLarge)));
    assert!(s.buffered() < 4 * MAX_HEADER_BLOCK);
}

#[test]
fn malformed_requests_are_reset_and_the_connection_goes_on() {
    let (mut s, mut out) = session();
    let mut block = request_block("/");
    encode_field(b"connection", b"close", &mut block);
    let mut w = Wire::preface();
    w.frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        &block,
    );
    w.get(3, "/");
    out.clear();
    s.receive(&w.0, &mut out).unwrap();
    let f = frames(&out);
    assert!(
        f.iter()
            .any(|f| f.0 == kind::RST_STREAM && f.2 == 1 && f.3 == [0, 0, 0, 1])
    );
    assert_eq!(s.next_request().map(|r| r.0), Some(3));
}

#[test]
fn flow_control_windows_bound_what_may_be_sent() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    // INITIAL_WINDOW_SIZE 10, MAX_FRAME_SIZE 20000.
    w.frame(
        kind::SETTINGS,
        0,
        0,
        &[0, 4, 0, 0, 0, 10, 0, 5, 0, 0, 0x4e, 0x20],
    );
    w.get(1, "/");
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(s.send_capacity(1), Some(10));
    s.write_data(1, 10, false, &mut out, |o| {
        o.extend_from_slice(&[0; 10]);
        Ok::<_, ()>(())
    })
    .unwrap();
    assert_eq!(s.send_capacity(1), Some(0));
    let mut w = Wire::default();
    w.frame(kind::WINDOW_UPDATE, 0, 1, &100_000u32.to_be_bytes());
    s.receive(&w.0, &mut out).unwrap();
    // Now the connection's window (65535 - 10) and the frame size bound it; however
    // large the peer allows frames to be, DATA frames stay at MAX_DATA_FRAME.
    assert_eq!(s.send_capacity(1), Some(MAX_DATA_FRAME));
    // Shrinking the initial window takes from open streams too.
    let mut w = Wire::default();
    w.frame(kind::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]);
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(s.send_capacity(1), Some(MAX_DATA_FRAME));
    let mut w = Wire::default();
    w.frame(kind::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]);
    w.frame(kind::SETTINGS, 0, 0, &[0, 4, 0, 1, 0x86, 0xa0]);
    s.receive(&w.0, &mut out).unwrap();
    assert!(s.send_capacity(1).unwrap() > 0);
}

#[test]
fn request_bodies_are_dropped_and_their_window_given_back() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.frame(kind::HEADERS, flag::END_HEADERS, 1, &request_block("/"));
    for _ in 0..5 {
        w.frame(kind::DATA, 0, 1, &[7; 16_000]);
    }
    out.clear();
    s.receive(&w.0, &mut out).unwrap();
    // More than a window's worth came: both windows were given back as it came.
    let f = frames(&out);
    assert!(f.iter().any(|f| f.0 == kind::WINDOW_UPDATE && f.2 == 0));
    assert!(f.iter().any(|f| f.0 == kind::WINDOW_UPDATE && f.2 == 1));
    // The answer waits for the body's end.
    assert!(s.next_request().is_none());
    assert!(s.awaiting_bodies());
    let mut w = Wire::default();
    w.frame(kind::DATA, flag::END_STREAM, 1, b"end");
    s.receive(&w.0, &mut out).unwrap();
    let (id, _) = s.next_request().unwrap();
    out.clear();
    s.write_headers(id, b"\x88", true, &mut out);
    assert!(frames(&out).iter().all(|f| f.0 != kind::RST_STREAM));
    // Late data on it is a stream error.
    let mut w = Wire::default();
    w.frame(kind::DATA, flag::END_STREAM, 1, b"late");
    assert!(s.receive(&w.0, &mut out).is_ok());
}

#[test]
fn after_goaway_new_streams_are_not_processed() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.get(1, "/");
    s.receive(&w.0, &mut out).unwrap();
    out.clear();
    s.go_away(&mut out);
    let f = frames(&out);
    assert_eq!(f[0].0, kind::GOAWAY);
    assert_eq!(&f[0].3[..4], &1u32.to_be_bytes());
    let mut w = Wire::default();
    w.get(3, "/");
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(s.next_request().map(|r| r.0), Some(1));
    assert!(s.next_request().is_none());
    assert!(!s.finished());
    s.write_headers(1, b"\x88", true, &mut out);
    assert!(s.finished());
}

#[test]
fn heads_waiting_to_be_taken_are_bounded() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    // A 4000-byte entry into the table, then streams whose few bytes reference it 15
    // times: a 60 KiB head each.
    let mut first = request_block("/");
    first.extend_from_slice(&[0x40, 1, b'x', 0x7f, 0xa1, 0x1e]);
    first.extend(std::iter::repeat_n(b'v', 4000));
    w.frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        &first,
    );
    for i in 1..MAX_CONCURRENT_STREAMS {
        let mut block = request_block("/");
        block.extend(std::iter::repeat_n(0x80 | 62, 15));
        w.frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            2 * i + 1,
            &block,
        );
    }
    let mut input = &w.0[..];
    let mut answered = 0;
    loop {
        let used = s.receive(input, &mut out).unwrap();
        assert!(
            s.buffered() < MAX_QUEUED + 2 * MAX_HEADER_LIST,
            "{}",
            s.buffered()
        );
        input = &input[used..];
        while let Some((id, head)) = s.next_request() {
            s.write_headers(id, b"\x88", true, &mut out);
            s.recycle(head);
            answered += 1;
        }
        if input.is_empty() {
            break;
        }
        assert!(used > 0 && s.wants_input());
    }
    assert_eq!(answered, MAX_CONCURRENT_STREAMS);
}

#[test]
fn the_last_data_frame_comes_whole_before_a_reset_that_ends_the_request() {
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    // The request's body has not ended when its answer does: a declared length over
    // the body limit is answered (413) at once, and the rest declined after it.
    let mut block = request_block("/");
    encode_field(b"content-length", b"2000000", &mut block);
    w.frame(kind::HEADERS, flag::END_HEADERS, 1, &block);
    s.receive(&w.0, &mut out).unwrap();
    let (id, _) = s.next_request().unwrap();
    out.clear();
    s.write_headers(id, b"\x88", false, &mut out);
    s.write_data(id, 3, true, &mut out, |o| {
        o.extend_from_slice(b"abc");
        Ok::<_, ()>(())
    })
    .unwrap();
    let f = frames(&out);
    assert_eq!((f[1].0, &f[1].3[..]), (kind::DATA, &b"abc"[..]));
    assert_eq!((f[2].0, f[2].2), (kind::RST_STREAM, 1));
    // A payload that fails leaves nothing behind.
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.get(1, "/");
    s.receive(&w.0, &mut out).unwrap();
    let before = out.len();
    assert_eq!(s.write_data(1, 3, true, &mut out, |_| Err(())), Err(()));
    assert_eq!(out.len(), before);
    assert_eq!(s.send_capacity(1), Some(DEFAULT_MAX_FRAME));
}

/// Streams closed here, a request body against its content-length, trailers, and a
/// stream that depends on itself: RFC 9113 §5.1, §5.3.1, §8.1.
#[test]
fn closed_streams_bodies_trailers_and_priorities() {
    let post = |cl: Option<&str>| {
        let mut b = Vec::new();
        for (n, v) in [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "a"),
        ] {
            encode_field(n.as_bytes(), v.as_bytes(), &mut b);
        }
        if let Some(cl) = cl {
            encode_field(b"content-length", cl.as_bytes(), &mut b);
        }
        b
    };
    let rst = |out: &[u8], id: u32| {
        frames(out)
            .iter()
            .find(|f| f.0 == kind::RST_STREAM && f.2 == id)
            .map(|f| u32::from_be_bytes(f.3[..4].try_into().unwrap()))
    };
    // A body that ends as long as its content-length says is answered at its end.
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.frame(kind::HEADERS, flag::END_HEADERS, 1, &post(Some("4")));
    w.frame(kind::DATA, 0, 1, b"ab");
    s.receive(&w.0, &mut out).unwrap();
    assert!(s.next_request().is_none());
    let mut w = Wire::default();
    w.frame(kind::DATA, flag::END_STREAM, 1, b"cd");
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(s.next_request().map(|r| r.0), Some(1));
    // Longer, or shorter at its end: the stream is reset, the connection goes on.
    for (cl, body) in [("1", &b"abcd"[..]), ("5", &b"abcd"[..])] {
        let (mut s, mut out) = session();
        let mut w = Wire::preface();
        w.frame(kind::HEADERS, flag::END_HEADERS, 1, &post(Some(cl)));
        w.frame(kind::DATA, flag::END_STREAM, 1, body);
        w.get(3, "/");
        s.receive(&w.0, &mut out).unwrap();
        assert_eq!(rst(&out, 1), Some(ErrorCode::Protocol as u32), "{cl}");
        assert_eq!(s.next_request().map(|r| r.0), Some(3));
    }
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        &post(Some("3")),
    );
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(rst(&out, 1), Some(ErrorCode::Protocol as u32));
    // Trailers end the request; with a pseudo-header field they are malformed.
    for (trailer, ok) in [(&b"x-t"[..], true), (&b":path"[..], false)] {
        let (mut s, mut out) = session();
        let mut t = Vec::new();
        encode_field(trailer, b"1", &mut t);
        let mut w = Wire::preface();
        w.frame(kind::HEADERS, flag::END_HEADERS, 1, &post(None));
        w.frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, &t);
        s.receive(&w.0, &mut out).unwrap();
        assert_eq!(s.next_request().is_some(), ok);
        assert_eq!(rst(&out, 1).is_some(), !ok);
    }
    // DATA on a stream closed by its answer: STREAM_CLOSED; HEADERS on it ends the
    // connection; a lower stream id never used is a PROTOCOL_ERROR.
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.get(3, "/");
    s.receive(&w.0, &mut out).unwrap();
    let (id, _) = s.next_request().unwrap();
    s.write_headers(id, b"\x88", true, &mut out);
    let mut w = Wire::default();
    w.frame(kind::DATA, 0, 3, b"late");
    out.clear();
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(rst(&out, 3), Some(ErrorCode::StreamClosed as u32));
    let mut w = Wire::default();
    w.get(1, "/");
    assert_eq!(s.receive(&w.0, &mut out), Err(Fatal(ErrorCode::Protocol)));
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    w.get(3, "/");
    s.receive(&w.0, &mut out).unwrap();
    let (id, _) = s.next_request().unwrap();
    s.write_headers(id, b"\x88", true, &mut out);
    let mut w = Wire::default();
    w.get(3, "/");
    assert_eq!(
        s.receive(&w.0, &mut out),
        Err(Fatal(ErrorCode::StreamClosed))
    );
    // A stream depending on itself, in HEADERS or PRIORITY, is reset.
    let (mut s, mut out) = session();
    let mut w = Wire::preface();
    let mut p = 1u32.to_be_bytes().to_vec();
    p.push(16);
    p.extend_from_slice(&request_block("/"));
    w.frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM | flag::PRIORITY,
        1,
        &p,
    );
    w.frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 1, 16]);
    s.receive(&w.0, &mut out).unwrap();
    assert_eq!(rst(&out, 1), Some(ErrorCode::Protocol as u32));
    assert!(s.next_request().is_none());
    // On a stream still idle, which may not be reset: the connection's error.
    let mut w = Wire::default();
    w.frame(kind::PRIORITY, 0, 5, &[0, 0, 0, 5, 16]);
    assert_eq!(s.receive(&w.0, &mut out), Err(Fatal(ErrorCode::Protocol)));
    let mut w = Wire::default();
    w.frame(kind::PRIORITY, 0, 7, &[0, 0, 0, 5]);
    let (mut s, mut out) = session();
    s.receive(&Wire::preface().0, &mut out).unwrap();
    assert_eq!(s.receive(&w.0, &mut out), Err(Fatal(ErrorCode::FrameSize)));
}
