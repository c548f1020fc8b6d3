//! The Huffman code of HPACK (RFC 7541 §5.2, Appendix B): decoding a string literal,
//! rejecting bad padding and EOS, and encoding one.

/// Why a Huffman-coded string is refused (RFC 7541 §5.2); all are a COMPRESSION_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// The EOS symbol appears whole in the string.
    Eos,
    /// Eight or more bits are left over at the end.
    PaddingTooLong,
    /// The bits left over are not a prefix of EOS (not all ones).
    PaddingNotOnes,
}

/// The EOS symbol: 30 ones, never sent whole.
const EOS: usize = 256;
/// The shortest and longest code lengths in the table.
const MIN_LEN: usize = 5;
const MAX_LEN: usize = 30;

/// RFC 7541 Appendix B, by symbol: the code (right-aligned) and its length in bits.
/// The code is canonical (within a length, codes ascend with the symbol), which the
/// decoding tables below rely on and `table_is_canonical_and_complete` checks.
#[rustfmt::skip]
const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), // (0)
    (0x7fffd8, 23), // (1)
    (0xfffffe2, 28), // (2)
    (0xfffffe3, 28), // (3)
    (0xfffffe4, 28), // (4)
    (0xfffffe5, 28), // (5)
    (0xfffffe6, 28), // (6)
    (0xfffffe7, 28), // (7)
    (0xfffffe8, 28), // (8)
    (0xffffea, 24), // (9)
    (0x3ffffffc, 30), // (10)
    (0xfffffe9, 28), // (11)
    (0xfffffea, 28), // (12)
    (0x3ffffffd, 30), // (13)
    (0xfffffeb, 28), // (14)
    (0xfffffec, 28), // (15)
    (0xfffffed, 28), // (16)
    (0xfffffee, 28), // (17)
    (0xfffffef, 28), // (18)
    (0xffffff0, 28), // (19)
    (0xffffff1, 28), // (20)
    (0xffffff2, 28), // (21)
    (0x3ffffffe, 30), // (22)
    (0xffffff3, 28), // (23)
    (0xffffff4, 28), // (24)
    (0xffffff5, 28), // (25)
    (0xffffff6, 28), // (26)
    (0xffffff7, 28), // (27)
    (0xffffff8, 28), // (28)
    (0xffffff9, 28), // (29)
    (0xffffffa, 28), // (30)
    (0xffffffb, 28), // (31)
    (0x14, 6), // ' '
    (0x3f8, 10), // '!'
    (0x3f9, 10), // '"'
    (0xffa, 12), // '#'
    (0x1ff9, 13), // '$'
    (0x15, 6), // '%'
    (0xf8, 8), // '&'
    (0x7fa, 11), // '\''
    (0x3fa, 10), // '('
    (0x3fb, 10), // ')'
    (0xf9, 8), // '*'
    (0x7fb, 11), // '+'
    (0xfa, 8), // ','
    (0x16, 6), // '-'
    (0x17, 6), // '.'
    (0x18, 6), // '/'
    (0x0, 5), // '0'
    (0x1, 5), // '1'
    (0x2, 5), // '2'
    (0x19, 6), // '3'
    (0x1a, 6), // '4'
    (0x1b, 6), // '5'
    (0x1c, 6), // '6'
    (0x1d, 6), // '7'
    (0x1e, 6), // '8'
    (0x1f, 6), // '9'
    (0x5c, 7), // ':'
    (0xfb, 8), // ';'
    (0x7ffc, 15), // '<'
    (0x20, 6), // '='
    (0xffb, 12), // '>'
    (0x3fc, 10), // '?'
    (0x1ffa, 13), // '@'
    (0x21, 6), // 'A'
    (0x5d, 7), // 'B'
    (0x5e, 7), // 'C'
    (0x5f, 7), // 'D'
    (0x60, 7), // 'E'
    (0x61, 7), // 'F'
    (0x62, 7), // 'G'
    (0x63, 7), // 'H'
    (0x64, 7), // 'I'
    (0x65, 7), // 'J'
    (0x66, 7), // 'K'
    (0x67, 7), // 'L'
    (0x68, 7), // 'M'
    (0x69, 7), // 'N'
    (0x6a, 7), // 'O'
    (0x6b, 7), // 'P'
    (0x6c, 7), // 'Q'
    (0x6d, 7), // 'R'
    (0x6e, 7), // 'S'
    (0x6f, 7), // 'T'
    (0x70, 7), // 'U'
    (0x71, 7), // 'V'
    (0x72, 7), // 'W'
    (0xfc, 8), // 'X'
    (0x73, 7), // 'Y'
    (0xfd, 8), // 'Z'
    (0x1ffb, 13), // '['
    (0x7fff0, 19), // '\\'
    (0x1ffc, 13), // ']'
    (0x3ffc, 14), // '^'
    (0x22, 6), // '_'
    (0x7ffd, 15), // '`'
    (0x3, 5), // 'a'
    (0x23, 6), // 'b'
    (0x4, 5), // 'c'
    (0x24, 6), // 'd'
    (0x5, 5), // 'e'
    (0x25, 6), // 'f'
    (0x26, 6), // 'g'
    (0x27, 6), // 'h'
    (0x6, 5), // 'i'
    (0x74, 7), // 'j'
    (0x75, 7), // 'k'
    (0x28, 6), // 'l'
    (0x29, 6), // 'm'
    (0x2a, 6), // 'n'
    (0x7, 5), // 'o'
    (0x2b, 6), // 'p'
    (0x76, 7), // 'q'
    (0x2c, 6), // 'r'
    (0x8, 5), // 's'
    (0x9, 5), // 't'
    (0x2d, 6), // 'u'
    (0x77, 7), // 'v'
    (0x78, 7), // 'w'
    (0x79, 7), // 'x'
    (0x7a, 7), // 'y'
    (0x7b, 7), // 'z'
    (0x7ffe, 15), // '{'
    (0x7fc, 11), // '|'
    (0x3ffd, 14), // '}'
    (0x1ffd, 13), // '~'
    (0xffffffc, 28), // (127)
    (0xfffe6, 20), // (128)
    (0x3fffd2, 22), // (129)
    (0xfffe7, 20), // (130)
    (0xfffe8, 20), // (131)
    (0x3fffd3, 22), // (132)
    (0x3fffd4, 22), // (133)
    (0x3fffd5, 22), // (134)
    (0x7fffd9, 23), // (135)
    (0x3fffd6, 22), // (136)
    (0x7fffda, 23), // (137)
    (0x7fffdb, 23), // (138)
    (0x7fffdc, 23), // (139)
    (0x7fffdd, 23), // (140)
    (0x7fffde, 23), // (141)
    (0xffffeb, 24), // (142)
    (0x7fffdf, 23), // (143)
    (0xffffec, 24), // (144)
    (0xffffed, 24), // (145)
    (0x3fffd7, 22), // (146)
    (0x7fffe0, 23), // (147)
    (0xffffee, 24), // (148)
    (0x7fffe1, 23), // (149)
    (0x7fffe2, 23), // (150)
    (0x7fffe3, 23), // (151)
    (0x7fffe4, 23), // (152)
    (0x1fffdc, 21), // (153)
    (0x3fffd8, 22), // (154)
    (0x7fffe5, 23), // (155)
    (0x3fffd9, 22), // (156)
    (0x7fffe6, 23), // (157)
    (0x7fffe7, 23), // (158)
    (0xffffef, 24), // (159)
    (0x3fffda, 22), // (160)
    (0x1fffdd, 21), // (161)
    (0xfffe9, 20), // (162)
    (0x3fffdb, 22), // (163)
    (0x3fffdc, 22), // (164)
    (0x7fffe8, 23), // (165)
    (0x7fffe9, 23), // (166)
    (0x1fffde, 21), // (167)
    (0x7fffea, 23), // (168)
    (0x3fffdd, 22), // (169)
    (0x3fffde, 22), // (170)
    (0xfffff0, 24), // (171)
    (0x1fffdf, 21), // (172)
    (0x3fffdf, 22), // (173)
    (0x7fffeb, 23), // (174)
    (0x7fffec, 23), // (175)
    (0x1fffe0, 21), // (176)
    (0x1fffe1, 21), // (177)
    (0x3fffe0, 22), // (178)
    (0x1fffe2, 21), // (179)
    (0x7fffed, 23), // (180)
    (0x3fffe1, 22), // (181)
    (0x7fffee, 23), // (182)
    (0x7fffef, 23), // (183)
    (0xfffea, 20), // (184)
    (0x3fffe2, 22), // (185)
    (0x3fffe3, 22), // (186)
    (0x3fffe4, 22), // (187)
    (0x7ffff0, 23), // (188)
    (0x3fffe5, 22), // (189)
    (0x3fffe6, 22), // (190)
    (0x7ffff1, 23), // (191)
    (0x3ffffe0, 26), // (192)
    (0x3ffffe1, 26), // (193)
    (0xfffeb, 20), // (194)
    (0x7fff1, 19), // (195)
    (0x3fffe7, 22), // (196)
    (0x7ffff2, 23), // (197)
    (0x3fffe8, 22), // (198)
    (0x1ffffec, 25), // (199)
    (0x3ffffe2, 26), // (200)
    (0x3ffffe3, 26), // (201)
    (0x3ffffe4, 26), // (202)
    (0x7ffffde, 27), // (203)
    (0x7ffffdf, 27), // (204)
    (0x3ffffe5, 26), // (205)
    (0xfffff1, 24), // (206)
    (0x1ffffed, 25), // (207)
    (0x7fff2, 19), // (208)
    (0x1fffe3, 21), // (209)
    (0x3ffffe6, 26), // (210)
    (0x7ffffe0, 27), // (211)
    (0x7ffffe1, 27), // (212)
    (0x3ffffe7, 26), // (213)
    (0x7ffffe2, 27), // (214)
    (0xfffff2, 24), // (215)
    (0x1fffe4, 21), // (216)
    (0x1fffe5, 21), // (217)
    (0x3ffffe8, 26), // (218)
    (0x3ffffe9, 26), // (219)
    (0xffffffd, 28), // (220)
    (0x7ffffe3, 27), // (221)
    (0x7ffffe4, 27), // (222)
    (0x7ffffe5, 27), // (223)
    (0xfffec, 20), // (224)
    (0xfffff3, 24), // (225)
    (0xfffed, 20), // (226)
    (0x1fffe6, 21), // (227)
    (0x3fffe9, 22), // (228)
    (0x1fffe7, 21), // (229)
    (0x1fffe8, 21), // (230)
    (0x7ffff3, 23), // (231)
    (0x3fffea, 22), // (232)
    (0x3fffeb, 22), // (233)
    (0x1ffffee, 25), // (234)
    (0x1ffffef, 25), // (235)
    (0xfffff4, 24), // (236)
    (0xfffff5, 24), // (237)
    (0x3ffffea, 26), // (238)
    (0x7ffff4, 23), // (239)
    (0x3ffffeb, 26), // (240)
    (0x7ffffe6, 27), // (241)
    (0x3ffffec, 26), // (242)
    (0x3ffffed, 26), // (243)
    (0x7ffffe7, 27), // (244)
    (0x7ffffe8, 27), // (245)
    (0x7ffffe9, 27), // (246)
    (0x7ffffea, 27), // (247)
    (0x7ffffeb, 27), // (248)
    (0xffffffe, 28), // (249)
    (0x7ffffec, 27), // (250)
    (0x7ffffed, 27), // (251)
    (0x7ffffee, 27), // (252)
    (0x7ffffef, 27), // (253)
    (0x7fffff0, 27), // (254)
    (0x3ffffee, 26), // (255)
    (0x3fffffff, 30), // EOS
];

/// The canonical code's decoding tables, derived from `CODES` at compile time, indexed
/// by code length: codes of length `len` are `first[len] .. first[len] + count`, their
/// symbols in ascending order at `symbols[offset[len]..]`, and `limit[len]` is one past
/// the last of them, left-aligned in 32 bits. A left-aligned window below `limit[len]`
/// (and not below any shorter length's limit) starts with a code of length `len`.
struct Canonical {
    first: [u32; MAX_LEN + 1],
    offset: [u16; MAX_LEN + 1],
    limit: [u64; MAX_LEN + 1],
    symbols: [u16; 257],
}

const fn canonical() -> Canonical {
    let mut count = [0u32; MAX_LEN + 1];
    let mut s = 0;
    while s < CODES.len() {
        count[CODES[s].1 as usize] += 1;
        s += 1;
    }
    let mut t = Canonical {
        first: [0; MAX_LEN + 1],
        offset: [0; MAX_LEN + 1],
        limit: [0; MAX_LEN + 1],
        symbols: [0; 257],
    };
    let (mut code, mut at) = (0u32, 0u16);
    let mut len = 1;
    while len <= MAX_LEN {
        code = (code + count[len - 1]) << 1;
        t.first[len] = code;
        t.offset[len] = at;
        t.limit[len] = ((code + count[len]) as u64) << (32 - len);
        let mut s = 0;
        while s < CODES.len() {
            if CODES[s].1 as usize == len {
                t.symbols[at as usize] = s as u16;
                at += 1;
            }
            s += 1;
        }
        len += 1;
    }
    t
}

static TABLE: Canonical = canonical();

/// The symbol the left-aligned 32-bit `window` starts with, and its length in bits.
/// Common characters have 5- to 8-bit codes, so the scan usually stops within four steps.
#[inline]
fn symbol(window: u32) -> (usize, u32) {
    let mut len = MIN_LEN;
    // limit[MAX_LEN] is 2^32 (the code is complete), so this stops by MAX_LEN.
    while u64::from(window) >= TABLE.limit[len] {
        len += 1;
    }
    let index = TABLE.offset[len] as u32 + ((window >> (32 - len)) - TABLE.first[len]);
    (TABLE.symbols[index as usize] as usize, len as u32)
}

/// Appends the decoding of `input` to `out`.
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    out.reserve(input.len() * 8 / MIN_LEN);
    // The unread bits, left-aligned; topped up a byte at a time to more than 56 while
    // input lasts, so a whole code (at most 30 bits) is always there until the end.
    let (mut bits, mut have, mut rest) = (0u64, 0u32, input);
    loop {
        while have <= 56 {
            let Some((&byte, tail)) = rest.split_first() else {
                break;
            };
            bits |= u64::from(byte) << (56 - have);
            have += 8;
            rest = tail;
        }
        if have == 0 {
            return Ok(());
        }
        // Past the end the window reads ones, so a tail of padding looks like the start
        // of EOS, longer than what is left.
        let window = ((bits | u64::MAX.checked_shr(have).unwrap_or(0)) >> 32) as u32;
        let (sym, len) = symbol(window);
        if len > have {
            // What is left is no whole code: it must be padding, under 8 bits, all ones.
            let ones = !(u64::MAX >> have);
            return if have > 7 {
                Err(HuffmanError::PaddingTooLong)
            } else if bits & ones != ones {
                Err(HuffmanError::PaddingNotOnes)
            } else {
                Ok(())
            };
        }
        if sym == EOS {
            return Err(HuffmanError::Eos);
        }
        out.push(sym as u8);
        bits <<= len;
        have -= len;
    }
}

/// Appends the Huffman coding of `bytes` to `out`, padded with ones to a whole byte.
pub fn encode(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(bytes));
    // Bits not yet written, right-aligned: fewer than 8 between symbols, so at most 37
    // after adding one; higher bits shifted out of the u64 are already written.
    let (mut bits, mut have) = (0u64, 0u32);
    for &b in bytes {
        let (code, len) = CODES[b as usize];
        bits = (bits << len) | u64::from(code);
        have += u32::from(len);
        while have >= 8 {
            have -= 8;
            out.push((bits >> have) as u8);
        }
    }
    if have > 0 {
        out.push(((bits << (8 - have)) as u8) | (0xff >> have));
    }
}

/// The length `encode` gives `bytes`.
pub fn encoded_len(bytes: &[u8]) -> usize {
    let bits: usize = bytes.iter().map(|&b| CODES[b as usize].1 as usize).sum();
    bits.div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    fn decoded(input: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(input, &mut out).map(|()| out)
    }

    #[test]
    fn table_is_canonical_and_complete() {
        // Canonical: each symbol's code is the one the derived tables give it.
        for (s, &(code, len)) in CODES.iter().enumerate() {
            let len = len as usize;
            assert!((MIN_LEN..=MAX_LEN).contains(&len));
            let at = TABLE.offset[len] as u32 + (code - TABLE.first[len]);
            assert_eq!(TABLE.symbols[at as usize] as usize, s, "symbol {s}");
        }
        // Complete: the Kraft sum is exactly 1, so every window decodes to something.
        let kraft: u64 = CODES.iter().map(|&(_, len)| 1u64 << (30 - len)).sum();
        assert_eq!(kraft, 1 << 30);
        assert_eq!(TABLE.limit[MAX_LEN], 1 << 32);
        assert_eq!(CODES[EOS], (0x3fff_ffff, 30));
    }

    #[test]
    fn every_symbol_alone_and_in_pairs() {
        for a in 0..=255u8 {
            let mut out = Vec::new();
            encode(&[a], &mut out);
            assert_eq!(out.len(), encoded_len(&[a]));
            assert_eq!(decoded(&out), Ok(vec![a]), "symbol {a}");
            for b in [0u8, b'a', b'%', 0xff] {
                let mut out = Vec::new();
                encode(&[a, b, a], &mut out);
                assert_eq!(decoded(&out), Ok(vec![a, b, a]));
            }
        }
    }

    /// The Huffman-coded strings of RFC 7541 Appendix C.4 and C.6.
    #[test]
    fn rfc_examples() {
        for (text, coded) in [
            ("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
            ("no-cache", "a8eb10649cbf"),
            ("custom-key", "25a849e95ba97d7f"),
            ("custom-value", "25a849e95bb8e8b4bf"),
            ("302", "6402"),
            ("private", "aec3771a4b"),
            (
                "Mon, 21 Oct 2013 20:13:21 GMT",
                "d07abe941054d444a8200595040b8166e082a62d1bff",
            ),
            (
                "https://www.example.com",
                "9d29ad171863c78f0b97c8e9ae82ae43d3",
            ),
            ("307", "640eff"),
            (
                "Mon, 21 Oct 2013 20:13:22 GMT",
                "d07abe941054d444a8200595040b8166e084a62d1bff",
            ),
            ("gzip", "9bd9ab"),
            (
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
            ),
        ] {
            let mut out = Vec::new();
            encode(text.as_bytes(), &mut out);
            assert_eq!(out, hex(coded), "{text}");
            assert_eq!(encoded_len(text.as_bytes()), out.len());
            assert_eq!(decoded(&hex(coded)).as_deref(), Ok(text.as_bytes()));
        }
    }

    #[test]
    fn rejections() {
        // EOS (30 ones) whole in the string, alone or after a symbol.
        assert_eq!(decoded(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
        // 'a' (00011), EOS, then 000 (padding that would be refused too).
        assert_eq!(
            decoded(&[0b0001_1111, 0xff, 0xff, 0xff, 0b1111_1000]),
            Err(HuffmanError::Eos)
        );
        // Eight ones: a prefix of EOS, but padding longer than 7 bits.
        assert_eq!(decoded(&[0xff]), Err(HuffmanError::PaddingTooLong));
        // 'a' then 11 ones.
        assert_eq!(
            decoded(&[0b0001_1111, 0xff]),
            Err(HuffmanError::PaddingTooLong)
        );
        // '0' (00000) then 000: padding not all ones.
        assert_eq!(decoded(&[0x00]), Err(HuffmanError::PaddingNotOnes));
        // '0' then 110: not all ones either.
        assert_eq!(decoded(&[0b0000_0110]), Err(HuffmanError::PaddingNotOnes));
        // The first 8 bits of '!' (1111111000): a code cut short, not padding.
        assert_eq!(decoded(&[0xfe]), Err(HuffmanError::PaddingTooLong));
        // Accepted: '0' and 'a' with 6 ones of padding; exact fits; nothing at all.
        assert_eq!(decoded(&[0b0001_1000, 0b0011_1111]), Ok(b"a0".to_vec()));
        assert_eq!(decoded(&[0b0000_0111]), Ok(b"0".to_vec()));
        assert_eq!(decoded(&[]), Ok(vec![]));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            encode(&bytes, &mut out);
            prop_assert_eq!(out.len(), encoded_len(&bytes));
            prop_assert_eq!(decoded(&out), Ok(bytes));
        }

        /// Whatever the input, decoding ends (no panic) and what it accepts re-encodes
        /// to the same bytes: padding is the only freedom and it is fixed (all ones,
        /// under a byte).
        #[test]
        fn arbitrary_input(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(out) = decoded(&input) {
                let mut again = Vec::new();
                encode(&out, &mut again);
                prop_assert_eq!(again, input);
            }
        }
    }
}
