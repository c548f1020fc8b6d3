//! HTTP/2 frames (RFC 9113 §4, §6): the 9-byte header read and written, the frame
//! types and flags, error codes, and the writers for each frame the server sends.

/// The connection preface a client starts with (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The size of every frame's header.
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE's default and smallest value: the largest payload the server
/// accepts (it never advertises more) and sends until the peer allows more.
pub const DEFAULT_MAX_FRAME: usize = 16_384;
/// SETTINGS_MAX_FRAME_SIZE's largest legal value.
pub const MAX_MAX_FRAME: u32 = (1 << 24) - 1;
/// The largest flow-control window (RFC 9113 §6.9.1).
pub const MAX_WINDOW: i64 = (1 << 31) - 1;
/// The window every stream and the connection start with (RFC 9113 §6.9.2).
pub const DEFAULT_WINDOW: i64 = 65_535;

pub mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const PRIORITY: u8 = 0x2;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PUSH_PROMISE: u8 = 0x5;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const CONTINUATION: u8 = 0x9;
}

pub mod flag {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS parameters (RFC 9113 §6.5.2).
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const ENABLE_PUSH: u16 = 0x2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// Error codes (RFC 9113 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    NoError = 0x0,
    Protocol = 0x1,
    Internal = 0x2,
    FlowControl = 0x3,
    StreamClosed = 0x5,
    FrameSize = 0x6,
    RefusedStream = 0x7,
    Cancel = 0x8,
    Compression = 0x9,
    EnhanceYourCalm = 0xb,
}

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    /// The stream identifier, its reserved bit cleared.
    pub stream: u32,
}

impl Header {
    /// The header at the start of `buf`, if all nine bytes are there.
    pub fn parse(buf: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Appends a frame header.
pub fn write_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    debug_assert!(len <= MAX_MAX_FRAME as usize);
    let l = (len as u32).to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
}

/// Appends a SETTINGS frame with these parameters.
pub fn write_settings(out: &mut Vec<u8>, params: &[(u16, u32)]) {
    write_header(out, params.len() * 6, kind::SETTINGS, 0, 0);
    for &(id, value) in params {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub fn write_settings_ack(out: &mut Vec<u8>) {
    write_header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

pub fn write_ping_ack(out: &mut Vec<u8>, opaque: &[u8; 8]) {
    write_header(out, 8, kind::PING, flag::ACK, 0);
    out.extend_from_slice(opaque);
}

pub fn write_rst_stream(out: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    write_header(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

pub fn write_goaway(out: &mut Vec<u8>, last_stream: u32, code: ErrorCode) {
    write_header(out, 8, kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

pub fn write_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    write_header(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & 0x7fff_ffff).to_be_bytes());
}

/// A header block as HEADERS and as many CONTINUATION frames as `max_frame` needs.
pub fn write_headers(
    out: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame: usize,
) {
    let mut pieces = block.chunks(max_frame.max(1)).peekable();
    let mut kind = kind::HEADERS;
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if block.is_empty() {
        write_header(out, 0, kind, flags | flag::END_HEADERS, stream);
        return;
    }
    while let Some(piece) = pieces.next() {
        if pieces.peek().is_none() {
            flags |= flag::END_HEADERS;
        }
        write_header(out, piece.len(), kind, flags, stream);
        out.extend_from_slice(piece);
        kind = kind::CONTINUATION;
        flags = 0;
    }
}

/// The payload of a padded frame (DATA, HEADERS) without its pad-length byte and
/// padding; None if the padding is longer than the payload (a PROTOCOL_ERROR).
pub fn unpad<'a>(h: &Header, payload: &'a [u8]) -> Option<&'a [u8]> {
    if !h.has(flag::PADDED) {
        return Some(payload);
    }
    let (&pad, rest) = payload.split_first()?;
    rest.len().checked_sub(usize::from(pad)).map(|n| &rest[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_drops_the_reserved_bit() {
        let mut out = Vec::new();
        write_header(&mut out, 0x12345, kind::HEADERS, 0x25, 7);
        assert_eq!(
            Header::parse(&out),
            Some(Header {
                len: 0x12345,
                kind: kind::HEADERS,
                flags: 0x25,
                stream: 7
            })
        );
        out[5] |= 0x80;
        assert_eq!(Header::parse(&out).unwrap().stream, 7);
        assert_eq!(Header::parse(&out[..8]), None);
    }

    #[test]
    fn a_long_header_block_is_cut_into_continuations() {
        let block = vec![7u8; 40_000];
        let mut out = Vec::new();
        write_headers(&mut out, 3, &block, true, DEFAULT_MAX_FRAME);
        let first = Header::parse(&out).unwrap();
        assert_eq!((first.kind, first.len), (kind::HEADERS, 16_384));
        assert_eq!(first.flags, flag::END_STREAM);
        let second = Header::parse(&out[9 + 16_384..]).unwrap();
        assert_eq!((second.kind, second.flags), (kind::CONTINUATION, 0));
        let third = Header::parse(&out[2 * (9 + 16_384)..]).unwrap();
        assert_eq!(
            (third.kind, third.flags, third.len),
            (kind::CONTINUATION, flag::END_HEADERS, 40_000 - 32_768)
        );
        assert_eq!(out.len(), 3 * 9 + 40_000);
    }

    #[test]
    fn padding_is_removed_or_refused() {
        let h = |flags| Header {
            len: 0,
            kind: kind::DATA,
            flags,
            stream: 1,
        };
        assert_eq!(unpad(&h(0), b"abc"), Some(&b"abc"[..]));
        assert_eq!(unpad(&h(flag::PADDED), b"\x02abcxx"), Some(&b"abc"[..]));
        assert_eq!(unpad(&h(flag::PADDED), b"\x05ab"), None);
        assert_eq!(unpad(&h(flag::PADDED), b""), None);
    }
}
