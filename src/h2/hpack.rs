//! HPACK (RFC 7541): the decoder of a connection's header blocks, with its dynamic table,
//! and the server's stateless encoder of response fields.

use std::collections::VecDeque;
use std::sync::Arc;

use super::huffman;

/// SETTINGS_HEADER_TABLE_SIZE's default and what the server keeps for a peer's fields.
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// A header block the decoder cannot make sense of: a COMPRESSION_ERROR, which ends the connection (RFC 9113 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionError;

/// What an entry costs in the table's accounting beyond its name and value (§4.1).
const ENTRY_OVERHEAD: usize = 32;

/// The largest integer a block may carry. Every integer is an index, a length bounded
/// by the block or a table size bounded by ours, so anything bigger is an error (§5.1
/// lets a decoder set such a limit), and so is an encoding longer than it needs.
const MAX_INTEGER: usize = 1 << 28;

/// RFC 7541 Appendix A: index 1 is `STATIC_TABLE[0]`.
#[rustfmt::skip]
const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""), // 1
    (b":method", b"GET"), // 2
    (b":method", b"POST"), // 3
    (b":path", b"/"), // 4
    (b":path", b"/index.html"), // 5
    (b":scheme", b"http"), // 6
    (b":scheme", b"https"), // 7
    (b":status", b"200"), // 8
    (b":status", b"204"), // 9
    (b":status", b"206"), // 10
    (b":status", b"304"), // 11
    (b":status", b"400"), // 12
    (b":status", b"404"), // 13
    (b":status", b"500"), // 14
    (b"accept-charset", b""), // 15
    (b"accept-encoding", b"gzip, deflate"), // 16
    (b"accept-language", b""), // 17
    (b"accept-ranges", b""), // 18
    (b"accept", b""), // 19
    (b"access-control-allow-origin", b""), // 20
    (b"age", b""), // 21
    (b"allow", b""), // 22
    (b"authorization", b""), // 23
    (b"cache-control", b""), // 24
    (b"content-disposition", b""), // 25
    (b"content-encoding", b""), // 26
    (b"content-language", b""), // 27
    (b"content-length", b""), // 28
    (b"content-location", b""), // 29
    (b"content-range", b""), // 30
    (b"content-type", b""), // 31
    (b"cookie", b""), // 32
    (b"date", b""), // 33
    (b"etag", b""), // 34
    (b"expect", b""), // 35
    (b"expires", b""), // 36
    (b"from", b""), // 37
    (b"host", b""), // 38
    (b"if-match", b""), // 39
    (b"if-modified-since", b""), // 40
    (b"if-none-match", b""), // 41
    (b"if-range", b""), // 42
    (b"if-unmodified-since", b""), // 43
    (b"last-modified", b""), // 44
    (b"link", b""), // 45
    (b"location", b""), // 46
    (b"max-forwards", b""), // 47
    (b"proxy-authenticate", b""), // 48
    (b"proxy-authorization", b""), // 49
    (b"range", b""), // 50
    (b"referer", b""), // 51
    (b"refresh", b""), // 52
    (b"retry-after", b""), // 53
    (b"server", b""), // 54
    (b"set-cookie", b""), // 55
    (b"strict-transport-security", b""), // 56
    (b"transfer-encoding", b""), // 57
    (b"user-agent", b""), // 58
    (b"vary", b""), // 59
    (b"via", b""), // 60
    (b"www-authenticate", b""), // 61
];

/// Where the dynamic table numbering starts (§2.3.3).
const FIRST_DYNAMIC: usize = STATIC_TABLE.len() + 1;

/// A name in the dynamic table. Shared, so an entry added with the indexed name of
/// another costs no copy: a block repeating that two-byte instruction costs its bytes,
/// not the name's length each time.
#[derive(Clone)]
enum Name {
    Static(&'static [u8]),
    Shared(Arc<[u8]>),
}

impl Name {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Static(name) => name,
            Name::Shared(name) => name,
        }
    }
}

struct Entry {
    name: Name,
    value: Box<[u8]>,
}

impl Entry {
    fn size(&self) -> usize {
        self.name.as_bytes().len() + self.value.len() + ENTRY_OVERHEAD
    }
}

/// The dynamic table (§2.3.2, §4): newest entry first, its size by the §4.1 accounting
/// never above `capacity`, the size the peer's encoder last chose.
struct Table {
    entries: VecDeque<Entry>,
    size: usize,
    capacity: usize,
}

impl Table {
    /// The field at `index` in the static and dynamic tables together (§2.3.3).
    fn get(&self, index: usize) -> Result<(&[u8], &[u8]), CompressionError> {
        match index {
            0 => Err(CompressionError),
            1..FIRST_DYNAMIC => Ok(STATIC_TABLE[index - 1]),
            _ => self
                .entries
                .get(index - FIRST_DYNAMIC)
                .map(|e| (e.name.as_bytes(), &e.value[..]))
                .ok_or(CompressionError),
        }
    }

    /// The name at `index`, to be kept in a new entry.
    fn name(&self, index: usize) -> Result<Name, CompressionError> {
        match index {
            0 => Err(CompressionError),
            1..FIRST_DYNAMIC => Ok(Name::Static(STATIC_TABLE[index - 1].0)),
            _ => self
                .entries
                .get(index - FIRST_DYNAMIC)
                .map(|e| e.name.clone())
                .ok_or(CompressionError),
        }
    }

    /// Adds an entry, evicting the oldest to make room; one larger than the whole table
    /// empties it and is not added (§4.4).
    fn insert(&mut self, name: Name, value: &[u8]) {
        let size = name.as_bytes().len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.capacity - size);
        self.entries.push_front(Entry {
            name,
            value: value.into(),
        });
        self.size += size;
    }

    fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    fn evict_to(&mut self, size: usize) {
        while self.size > size {
            let oldest = self.entries.pop_back().expect("a nonzero size has entries");
            self.size -= oldest.size();
        }
    }
}

/// One connection's decoding state: the dynamic table the peer's encoder fills.
pub struct Decoder {
    table: Table,
    /// The SETTINGS_HEADER_TABLE_SIZE we advertise: the most a size update may ask for.
    max_table_size: usize,
    /// The current Huffman-decoded name and value, kept to reuse their allocations.
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl Decoder {
    /// `max_table_size`: the SETTINGS_HEADER_TABLE_SIZE we advertise (the most a table-size update may ask for).
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: Table {
                entries: VecDeque::new(),
                size: 0,
                capacity: max_table_size,
            },
            max_table_size,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Decodes one whole header block (the fragments of HEADERS and its CONTINUATIONs joined), passing each field to `field(name, value)` in order.
    /// Once the fields' total size (name + value + 32 each, RFC 9113 §6.5.2 / RFC 7541 §4.1) passes `max_list`, fields are no longer passed on but the block is still decoded to its end, so the dynamic table stays in step with the peer's; then it returns Ok(false). Ok(true): every field was passed.
    /// The cost is linear in `block.len()` whatever it holds (an HPACK bomb, one big entry referenced thousands of times, costs no more than its bytes: references are not copied beyond `max_list`).
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list: usize,
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<bool, CompressionError> {
        // Fields reach `field` as borrowed slices of the block, the tables or the
        // scratch buffers: nothing is copied for the caller.
        let (mut list_size, mut passing) = (0usize, true);
        let mut emit = |name: &[u8], value: &[u8]| {
            if passing {
                list_size = list_size.saturating_add(name.len() + value.len() + ENTRY_OVERHEAD);
                passing = list_size <= max_list;
                if passing {
                    field(name, value);
                }
            }
        };
        let mut rest = block;
        // Size updates come first in a block (§4.2): at most two (a peer that saw our
        // setting drop and rise again between two blocks sends the low and the new).
        let (mut updates, mut at_start) = (0, true);
        while let Some(&first) = rest.first() {
            if first & 0x80 != 0 {
                // §6.1: an indexed field.
                let (name, value) = self.table.get(integer(&mut rest, 7)?)?;
                emit(name, value);
            } else if first & 0x40 != 0 {
                // §6.2.1: a literal added to the table.
                let name = match integer(&mut rest, 6)? {
                    0 => Name::Shared(text(string(&mut rest)?, &mut self.name_buf)?.into()),
                    index => self.table.name(index)?,
                };
                let value = text(string(&mut rest)?, &mut self.value_buf)?;
                emit(name.as_bytes(), value);
                self.table.insert(name, value);
            } else if first & 0x20 != 0 {
                // §6.3: a dynamic table size update.
                updates += 1;
                if !at_start || updates > 2 {
                    return Err(CompressionError);
                }
                let size = integer(&mut rest, 5)?;
                if size > self.max_table_size {
                    return Err(CompressionError);
                }
                self.table.set_capacity(size);
                continue;
            } else {
                // §6.2.2 and §6.2.3: a literal without indexing or never indexed; the
                // difference matters to intermediaries only.
                let name = match integer(&mut rest, 4)? {
                    0 => text(string(&mut rest)?, &mut self.name_buf)?,
                    index => self.table.get(index)?.0,
                };
                let value = text(string(&mut rest)?, &mut self.value_buf)?;
                emit(name, value);
            }
            at_start = false;
        }
        Ok(passing)
    }

    /// The dynamic table's size now (RFC 7541 §4.1 accounting), for tests and the fuzzer's checks.
    pub fn table_size(&self) -> usize {
        self.table.size
    }
}

/// Reads an integer with an `n`-bit prefix (§5.1) off the front of `rest`.
fn integer(rest: &mut &[u8], n: u32) -> Result<usize, CompressionError> {
    let (&first, tail) = rest.split_first().ok_or(CompressionError)?;
    *rest = tail;
    let full = (1usize << n) - 1;
    let mut value = usize::from(first) & full;
    if value < full {
        return Ok(value);
    }
    for shift in (0..28).step_by(7) {
        let (&byte, tail) = rest.split_first().ok_or(CompressionError)?;
        *rest = tail;
        // A last byte of zero after the first adds nothing: an over-long encoding.
        if byte == 0 && shift > 0 {
            return Err(CompressionError);
        }
        value += usize::from(byte & 0x7f) << shift;
        if value > MAX_INTEGER {
            return Err(CompressionError);
        }
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(CompressionError)
}

/// Reads a string literal's header and bytes (§5.2) off the front of `rest`: whether it
/// is Huffman-coded, and its bytes as sent.
fn string<'a>(rest: &mut &'a [u8]) -> Result<(bool, &'a [u8]), CompressionError> {
    let huffman = rest.first().ok_or(CompressionError)? & 0x80 != 0;
    let len = integer(rest, 7)?;
    if len > rest.len() {
        return Err(CompressionError);
    }
    let (bytes, tail) = rest.split_at(len);
    *rest = tail;
    Ok((huffman, bytes))
}

/// A string literal's text: its bytes, or their Huffman decoding in `buf`.
fn text<'a>(
    (huffman, bytes): (bool, &'a [u8]),
    buf: &'a mut Vec<u8>,
) -> Result<&'a [u8], CompressionError> {
    if !huffman {
        return Ok(bytes);
    }
    buf.clear();
    huffman::decode(bytes, buf).map_err(|_| CompressionError)?;
    Ok(buf)
}

/// `:status` as an indexed field when the static table has the code (200, 204, 206, 304, 400, 404, 500), else a literal without indexing with the indexed name `:status`.
pub fn encode_status(code: u16, out: &mut Vec<u8>) {
    let index = match code {
        200 => 8,
        204 => 9,
        206 => 10,
        304 => 11,
        400 => 12,
        404 => 13,
        500 => 14,
        _ => {
            // Index 8's name, `:status`, then the code in decimal.
            integer_to(out, 0x00, 4, 8);
            let mut digits = [0u8; 5];
            let mut at = digits.len();
            let mut rest = code;
            loop {
                at -= 1;
                digits[at] = b'0' + (rest % 10) as u8;
                rest /= 10;
                if rest == 0 {
                    break;
                }
            }
            string_to(out, &digits[at..]);
            return;
        }
    };
    integer_to(out, 0x80, 7, index);
}

/// One field as a literal without indexing (RFC 7541 §6.2.2), the name by static-table index when the static table has it (lowercase names; a fast `match`, no linear scan), else a literal name; values are Huffman-coded when that is shorter, else raw. The server's encoder is stateless: it never adds to the peer's dynamic table, so it never needs to follow the peer's SETTINGS_HEADER_TABLE_SIZE.
pub fn encode_field(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    match static_name(name) {
        Some(index) => integer_to(out, 0x00, 4, index),
        None => {
            out.push(0x00);
            string_to(out, name);
        }
    }
    string_to(out, value);
}

/// The first static-table index with this name, matched by length first so a miss
/// costs one or two comparisons.
fn static_name(name: &[u8]) -> Option<usize> {
    Some(match name.len() {
        3 => match name {
            b"age" => 21,
            b"via" => 60,
            _ => return None,
        },
        4 => match name {
            b"date" => 33,
            b"etag" => 34,
            b"from" => 37,
            b"host" => 38,
            b"link" => 45,
            b"vary" => 59,
            _ => return None,
        },
        5 => match name {
            b":path" => 4,
            b"allow" => 22,
            b"range" => 50,
            _ => return None,
        },
        6 => match name {
            b"accept" => 19,
            b"cookie" => 32,
            b"expect" => 35,
            b"server" => 54,
            _ => return None,
        },
        7 => match name {
            b":method" => 2,
            b":scheme" => 6,
            b":status" => 8,
            b"expires" => 36,
            b"referer" => 51,
            b"refresh" => 52,
            _ => return None,
        },
        8 => match name {
            b"if-match" => 39,
            b"if-range" => 42,
            b"location" => 46,
            _ => return None,
        },
        10 => match name {
            b":authority" => 1,
            b"set-cookie" => 55,
            b"user-agent" => 58,
            _ => return None,
        },
        11 => match name {
            b"retry-after" => 53,
            _ => return None,
        },
        12 => match name {
            b"content-type" => 31,
            b"max-forwards" => 47,
            _ => return None,
        },
        13 => match name {
            b"accept-ranges" => 18,
            b"authorization" => 23,
            b"cache-control" => 24,
            b"content-range" => 30,
            b"if-none-match" => 41,
            b"last-modified" => 44,
            _ => return None,
        },
        14 => match name {
            b"accept-charset" => 15,
            b"content-length" => 28,
            _ => return None,
        },
        15 => match name {
            b"accept-encoding" => 16,
            b"accept-language" => 17,
            _ => return None,
        },
        16 => match name {
            b"content-encoding" => 26,
            b"content-language" => 27,
            b"content-location" => 29,
            b"www-authenticate" => 61,
            _ => return None,
        },
        17 => match name {
            b"if-modified-since" => 40,
            b"transfer-encoding" => 57,
            _ => return None,
        },
        18 => match name {
            b"proxy-authenticate" => 48,
            _ => return None,
        },
        19 => match name {
            b"content-disposition" => 25,
            b"if-unmodified-since" => 43,
            b"proxy-authorization" => 49,
            _ => return None,
        },
        25 => match name {
            b"strict-transport-security" => 56,
            _ => return None,
        },
        27 => match name {
            b"access-control-allow-origin" => 20,
            _ => return None,
        },
        _ => return None,
    })
}

/// Appends `value` as an integer with an `n`-bit prefix (§5.1), the prefix's byte
/// starting with the bits `flags`.
fn integer_to(out: &mut Vec<u8>, flags: u8, n: u32, value: usize) {
    let full = (1usize << n) - 1;
    if value < full {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | full as u8);
    let mut rest = value - full;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Appends a string literal (§5.2): Huffman-coded when that is shorter, else raw.
fn string_to(out: &mut Vec<u8>, text: &[u8]) {
    let coded = huffman::encoded_len(text);
    if coded < text.len() {
        integer_to(out, 0x80, 7, coded);
        huffman::encode(text, out);
    } else {
        integer_to(out, 0x00, 7, text.len());
        out.extend_from_slice(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    fn decode(decoder: &mut Decoder, block: &[u8]) -> Result<Fields, CompressionError> {
        let mut fields = Vec::new();
        let all = decoder.decode(block, usize::MAX, |n, v| {
            fields.push((n.to_vec(), v.to_vec()))
        })?;
        assert!(all);
        Ok(fields)
    }

    fn owned(fields: &[(&str, &str)]) -> Fields {
        fields
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    /// The dynamic table, newest first, as the RFC lists it.
    fn table(decoder: &Decoder) -> Fields {
        decoder
            .table
            .entries
            .iter()
            .map(|e| (e.name.as_bytes().to_vec(), e.value.to_vec()))
            .collect()
    }

    /// One example of Appendix C: the block, the fields, the table after it and its size.
    struct Example {
        block: &'static str,
        fields: &'static [(&'static str, &'static str)],
        table: &'static [(&'static str, &'static str)],
        size: usize,
    }

    /// Decodes the examples in order on one decoder, checking each step as the RFC does.
    fn check(table_size: usize, examples: &[Example]) {
        let mut decoder = Decoder::new(table_size);
        for (i, e) in examples.iter().enumerate() {
            let fields = decode(&mut decoder, &hex(e.block)).unwrap();
            assert_eq!(fields, owned(e.fields), "example {i}");
            assert_eq!(table(&decoder), owned(e.table), "example {i}");
            assert_eq!(decoder.table_size(), e.size, "example {i}");
        }
    }

    #[test]
    fn rfc_c1_integers() {
        for (value, n, coded) in [
            (10, 5, &[0x0a][..]),
            (1337, 5, &[0x1f, 0x9a, 0x0a][..]),
            (42, 8, &[0x2a][..]),
            (31, 5, &[0x1f, 0x00][..]),
            (MAX_INTEGER, 5, &[0x1f, 0xe1, 0xff, 0xff, 0x7f][..]),
        ] {
            let mut out = Vec::new();
            integer_to(&mut out, 0, n, value);
            assert_eq!(out, coded, "{value}");
            let mut rest = coded;
            assert_eq!(integer(&mut rest, n), Ok(value));
            assert!(rest.is_empty());
        }
        // The prefix's other bits are not part of the number.
        assert_eq!(integer(&mut &[0xea][..], 5), Ok(10));
        for bad in [
            &[][..],                               // nothing
            &[0x1f],                               // continuation missing
            &[0x1f, 0x80],                         // cut after a continuation bit
            &[0x1f, 0x8a, 0x00],                   // over-long: a last byte of zero
            &[0x1f, 0xe2, 0xff, 0xff, 0x7f],       // MAX_INTEGER + 1
            &[0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f], // past 2^28, and five bytes
            &[0x1f, 0x80, 0x80, 0x80, 0x80, 0x01], // five continuation bytes
        ] {
            assert_eq!(integer(&mut { bad }, 5), Err(CompressionError), "{bad:x?}");
        }
    }

    #[test]
    fn rfc_c2_representations() {
        // C.2.1: literal with indexing, C.2.2: without, C.2.3: never indexed, C.2.4: indexed.
        check(
            4096,
            &[Example {
                block: "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
                fields: &[("custom-key", "custom-header")],
                table: &[("custom-key", "custom-header")],
                size: 55,
            }],
        );
        check(
            4096,
            &[Example {
                block: "040c2f73616d706c652f70617468",
                fields: &[(":path", "/sample/path")],
                table: &[],
                size: 0,
            }],
        );
        check(
            4096,
            &[Example {
                block: "100870617373776f726406736563726574",
                fields: &[("password", "secret")],
                table: &[],
                size: 0,
            }],
        );
        check(
            4096,
            &[Example {
                block: "82",
                fields: &[(":method", "GET")],
                table: &[],
                size: 0,
            }],
        );
    }

    const REQUEST_1: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    const REQUEST_2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQUEST_3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    const REQUEST_TABLES: [&[(&str, &str)]; 3] = [
        &[(":authority", "www.example.com")],
        &[
            ("cache-control", "no-cache"),
            (":authority", "www.example.com"),
        ],
        &[
            ("custom-key", "custom-value"),
            ("cache-control", "no-cache"),
            (":authority", "www.example.com"),
        ],
    ];

    fn requests(blocks: [&'static str; 3]) -> [Example; 3] {
        [
            Example {
                block: blocks[0],
                fields: REQUEST_1,
                table: REQUEST_TABLES[0],
                size: 57,
            },
            Example {
                block: blocks[1],
                fields: REQUEST_2,
                table: REQUEST_TABLES[1],
                size: 110,
            },
            Example {
                block: blocks[2],
                fields: REQUEST_3,
                table: REQUEST_TABLES[2],
                size: 164,
            },
        ]
    }

    #[test]
    fn rfc_c3_requests() {
        check(
            4096,
            &requests([
                "828684410f7777772e6578616d706c652e636f6d",
                "828684be58086e6f2d6361636865",
                "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
            ]),
        );
    }

    #[test]
    fn rfc_c4_requests_huffman() {
        check(
            4096,
            &requests([
                "828684418cf1e3c2e5f23a6ba0ab90f4ff",
                "828684be5886a8eb10649cbf",
                "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
            ]),
        );
    }

    const DATE_1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
    const DATE_2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
    const LOCATION: &str = "https://www.example.com";
    const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

    /// C.5 and C.6 with a 256-byte table: evictions in the second and third response.
    fn responses(blocks: [&'static str; 3]) -> [Example; 3] {
        [
            Example {
                block: blocks[0],
                fields: &[
                    (":status", "302"),
                    ("cache-control", "private"),
                    ("date", DATE_1),
                    ("location", LOCATION),
                ],
                table: &[
                    ("location", LOCATION),
                    ("date", DATE_1),
                    ("cache-control", "private"),
                    (":status", "302"),
                ],
                size: 222,
            },
            Example {
                block: blocks[1],
                fields: &[
                    (":status", "307"),
                    ("cache-control", "private"),
                    ("date", DATE_1),
                    ("location", LOCATION),
                ],
                table: &[
                    (":status", "307"),
                    ("location", LOCATION),
                    ("date", DATE_1),
                    ("cache-control", "private"),
                ],
                size: 222,
            },
            Example {
                block: blocks[2],
                fields: &[
                    (":status", "200"),
                    ("cache-control", "private"),
                    ("date", DATE_2),
                    ("location", LOCATION),
                    ("content-encoding", "gzip"),
                    ("set-cookie", COOKIE),
                ],
                table: &[
                    ("set-cookie", COOKIE),
                    ("content-encoding", "gzip"),
                    ("date", DATE_2),
                ],
                size: 215,
            },
        ]
    }

    #[test]
    fn rfc_c5_responses() {
        check(
            256,
            &responses([
                "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
                "4803333037c1c0bf",
                "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
            ]),
        );
    }

    #[test]
    fn rfc_c6_responses_huffman() {
        check(
            256,
            &responses([
                "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
                "4883640effc1c0bf",
                "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
            ]),
        );
    }

    #[test]
    fn malformed_blocks() {
        for (what, block) in [
            ("index 0", &[0x80][..]),
            ("index past the static table, none dynamic", &[0xbe]),
            ("index far past", &[0xff, 0x80, 0x01]),
            ("literal name index past the tables", &[0x7e, 0x00]),
            ("literal without its name", &[0x40]),
            ("literal without its value", &[0x04]),
            ("string longer than the block", &[0x40, 0x05, b'a']),
            ("value longer than the block", &[0x04, 0x02, b'a']),
            ("integer cut short", &[0xff]),
            ("Huffman EOS", &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]),
            ("Huffman padding of zeros", &[0x04, 0x81, 0x00]),
            ("Huffman padding too long", &[0x04, 0x81, 0xff]),
            ("Huffman name padding", &[0x00, 0x81, 0x00, 0x00]),
        ] {
            let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
            assert_eq!(
                decoder.decode(block, usize::MAX, |_, _| ()),
                Err(CompressionError),
                "{what}"
            );
        }
    }

    #[test]
    fn table_size_updates() {
        let decode = |d: &mut Decoder, block: &[u8]| d.decode(block, usize::MAX, |_, _| ());
        // C.3.1's block fills 57 bytes; an update to 0 at the start of the next empties
        // the table, and one back up lets it fill again.
        let c31 = hex("828684410f7777772e6578616d706c652e636f6d");
        let mut d = Decoder::new(4096);
        decode(&mut d, &c31).unwrap();
        assert_eq!(d.table_size(), 57);
        assert_eq!(
            decode(&mut d, &[0x20, 0x3f, 0xe1, 0x1f, 0xbe]),
            Err(CompressionError)
        );
        let mut d = Decoder::new(4096);
        decode(&mut d, &c31).unwrap();
        assert_eq!(decode(&mut d, &[0x20, 0x3f, 0xe1, 0x1f]), Ok(true));
        assert_eq!(d.table_size(), 0);
        decode(&mut d, &c31).unwrap();
        assert_eq!(d.table_size(), 57);
        // An update to a size that still holds the entries keeps them; one below evicts.
        assert_eq!(decode(&mut d, &[0x3f, 0x1b, 0xbe]), Ok(true)); // 58
        assert_eq!(d.table_size(), 57);
        assert_eq!(decode(&mut d, &[0x3f, 0x19]), Ok(true)); // 56
        assert_eq!(d.table_size(), 0);
        // Up to our setting and no further.
        let mut d = Decoder::new(256);
        assert_eq!(decode(&mut d, &[0x3f, 0xe1, 0x01]), Ok(true)); // 256
        assert_eq!(decode(&mut d, &[0x3f, 0xe2, 0x01]), Err(CompressionError)); // 257
        // Two at the start are fine, a third or one after a field is not.
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, &[0x20, 0x3f, 0xe1, 0x1f, 0x82]), Ok(true));
        assert_eq!(
            decode(&mut d, &[0x20, 0x20, 0x20, 0x82]),
            Err(CompressionError)
        );
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, &[0x82, 0x20]), Err(CompressionError));
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, &[0x82, 0x20, 0x82]), Err(CompressionError));
        // After an update to 0, entries are not kept, but their fields still pass.
        let mut d = Decoder::new(4096);
        let mut block = vec![0x20];
        block.extend(hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"));
        let mut seen = Vec::new();
        let ok = d.decode(&block, usize::MAX, |n, v| {
            seen.push((n.to_vec(), v.to_vec()))
        });
        assert_eq!(ok, Ok(true));
        assert_eq!(seen, owned(&[("custom-key", "custom-header")]));
        assert_eq!(d.table_size(), 0);
        assert_eq!(decode(&mut d, &[0xbe]), Err(CompressionError));
    }

    /// A block adding a literal entry `name: value` with a literal name, raw.
    fn add_literal(block: &mut Vec<u8>, name: &[u8], value: &[u8]) {
        block.push(0x40);
        integer_to(block, 0, 7, name.len());
        block.extend_from_slice(name);
        integer_to(block, 0, 7, value.len());
        block.extend_from_slice(value);
    }

    #[test]
    fn eviction_and_oversized_entries() {
        let mut d = Decoder::new(100);
        let mut block = Vec::new();
        add_literal(&mut block, b"a", &[b'x'; 33]); // 66
        add_literal(&mut block, b"b", &[b'y'; 2]); // 35: the first is evicted
        d.decode(&block, usize::MAX, |_, _| ()).unwrap();
        assert_eq!(table(&d), owned(&[("b", "yy")]));
        assert_eq!(d.table_size(), 35);
        // An entry larger than the table empties it, and its field still passes.
        let mut block = Vec::new();
        add_literal(&mut block, b"c", &[b'z'; 68]); // 101
        let mut seen = 0;
        assert_eq!(d.decode(&block, usize::MAX, |_, _| seen += 1), Ok(true));
        assert_eq!((seen, d.table_size()), (1, 0));
        // A new entry may take its name from the entry it evicts.
        let mut block = Vec::new();
        add_literal(&mut block, b"name", &[b'v'; 40]); // 76
        block.extend([0x7e, 0x01, b'w']); // name of 62, value "w": 37
        let mut seen = Vec::new();
        d.decode(&block, usize::MAX, |n, v| {
            seen.push((n.to_vec(), v.to_vec()))
        })
        .unwrap();
        assert_eq!(seen[1], (b"name".to_vec(), b"w".to_vec()));
        assert_eq!(table(&d), owned(&[("name", "w")]));
        assert_eq!(d.table_size(), 37);
    }

    /// A bomb: one 4000-byte entry, then 10 000 one-byte references to it. The list
    /// stops at `max_list`, the rest is decoded without copying, and the table is right.
    #[test]
    fn bomb_stops_at_max_list() {
        let mut block = Vec::new();
        add_literal(&mut block, b"bomb", &vec![b'x'; 4000 - 32 - 4]);
        block.extend(std::iter::repeat_n(0xbe, 10_000));
        let max_list = 16 * 1024;
        let mut d = Decoder::new(DEFAULT_TABLE_SIZE);
        let (mut fields, mut bytes) = (0, 0);
        let start = Instant::now();
        let all = d.decode(&block, max_list, |n, v| {
            fields += 1;
            bytes += n.len() + v.len() + 32;
        });
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(all, Ok(false));
        assert_eq!(fields, 4);
        assert!(bytes <= max_list);
        assert_eq!(d.table_size(), 4000);
        // Once past the limit, later fields are not passed even if small.
        let mut block = Vec::new();
        add_literal(&mut block, b"big", &[b'x'; 100]);
        block.push(0x82);
        let mut seen = 0;
        assert_eq!(d.decode(&block, 50, |_, _| seen += 1), Ok(false));
        assert_eq!(seen, 0);
        // Exactly at the limit is within it.
        let mut seen = 0;
        assert_eq!(
            d.decode(&[0x82, 0x82], 2 * (7 + 3 + 32), |_, _| seen += 1),
            Ok(true)
        );
        assert_eq!(seen, 2);
    }

    /// Re-adding the entry's own name thousands of times (two bytes each) shares the
    /// name: the table's accounting stays exact and no copy grows with the name.
    #[test]
    fn repeated_name_references() {
        let mut block = Vec::new();
        add_literal(&mut block, &[b'n'; 3000], b"");
        block.extend([0x7e, 0x00].repeat(20_000));
        let mut d = Decoder::new(DEFAULT_TABLE_SIZE);
        let start = Instant::now();
        assert_eq!(d.decode(&block, 8192, |_, _| ()), Ok(false));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(d.table_size(), 3032);
        assert_eq!(d.table.entries.len(), 1);
    }

    #[test]
    fn status_codes() {
        for (code, index) in [
            (200, 8),
            (204, 9),
            (206, 10),
            (304, 11),
            (400, 12),
            (404, 13),
            (500, 14),
        ] {
            let mut out = Vec::new();
            encode_status(code, &mut out);
            assert_eq!(out, [0x80 | index]);
        }
        for code in [100, 201, 301, 302, 403, 412, 416, 503, 999, 0, 7, 65535] {
            let mut out = Vec::new();
            encode_status(code, &mut out);
            assert_eq!(out[0], 0x08, "{code}: literal, not indexed, name :status");
            let mut d = Decoder::new(DEFAULT_TABLE_SIZE);
            let text = code.to_string();
            assert_eq!(decode(&mut d, &out), Ok(owned(&[(":status", &text)])));
        }
        // 302 as in C.6.1, Huffman-coded: "6402".
        let mut out = Vec::new();
        encode_status(302, &mut out);
        assert_eq!(out, [0x08, 0x82, 0x64, 0x02]);
    }

    #[test]
    fn field_encoding() {
        // Every static name by its first index; values raw when Huffman is no shorter.
        for (i, (name, _)) in STATIC_TABLE.iter().enumerate() {
            let first = STATIC_TABLE.iter().position(|(n, _)| n == name).unwrap() + 1;
            assert_eq!(static_name(name), Some(first));
            let mut out = Vec::new();
            encode_field(name, b"", &mut out);
            let mut expected = Vec::new();
            integer_to(&mut expected, 0, 4, first);
            expected.push(0);
            assert_eq!(out, expected, "{i}");
        }
        for name in [
            &b"Content-Type"[..],
            b"x-custom",
            b"",
            b"content-typ",
            b"content-types",
        ] {
            assert_eq!(static_name(name), None);
        }
        let mut out = Vec::new();
        encode_field(b"custom-key", b"custom-value", &mut out);
        assert_eq!(out, hex("008825a849e95ba97d7f8925a849e95bb8e8b4bf"));
        let mut out = Vec::new();
        encode_field(b"content-length", b"\x00\x01", &mut out);
        assert_eq!(out, [0x0f, 0x0d, 0x02, 0x00, 0x01]);
    }

    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::sample::select(
                STATIC_TABLE
                    .iter()
                    .map(|(n, _)| n.to_vec())
                    .collect::<Vec<_>>()
            ),
            "[a-z0-9-]{0,20}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..200),
        ]
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            "[ -~]{0,80}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..300),
        ]
    }

    proptest! {
        /// What the server encodes, a decoder reads back exactly, adding nothing to its table.
        #[test]
        fn encoder_round_trip(
            status in any::<u16>(),
            fields in proptest::collection::vec((name(), value()), 0..20),
        ) {
            let mut block = Vec::new();
            encode_status(status, &mut block);
            for (n, v) in &fields {
                encode_field(n, v, &mut block);
            }
            let mut d = Decoder::new(DEFAULT_TABLE_SIZE);
            let mut expected = vec![(b":status".to_vec(), status.to_string().into_bytes())];
            expected.extend(fields);
            prop_assert_eq!(decode(&mut d, &block), Ok(expected));
            prop_assert_eq!(d.table_size(), 0);
        }

        /// Arbitrary blocks never panic and never leave the table above its bound.
        #[test]
        fn arbitrary_blocks(
            max in 0usize..600,
            blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
        ) {
            let mut d = Decoder::new(max);
            for block in &blocks {
                let mut size = 0;
                let result = d.decode(block, 300, |n, v| size += n.len() + v.len() + 32);
                prop_assert!(d.table_size() <= max);
                prop_assert!(size <= 300);
                if result.is_err() {
                    break;
                }
            }
        }
    }
}
