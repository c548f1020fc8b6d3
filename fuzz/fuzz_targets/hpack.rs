//! The HPACK decoder: one `Decoder` over several blocks never panics, keeps its table
//! within the size it was given and passes no more than `max_list`; and what
//! `encode_status` and `encode_field` write decodes back exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use preforkd::h2::hpack::{DEFAULT_TABLE_SIZE, Decoder, encode_field, encode_status};

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    // A small table, so evictions and oversized entries are common.
    let max = usize::from(first) * 2;
    let max_list = 512;
    let mut decoder = Decoder::new(max);
    // Blocks: a length byte, then that many bytes (or what is left).
    while let Some((&len, tail)) = rest.split_first() {
        let (block, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let mut list = 0;
        let result = decoder.decode(block, max_list, |name, value| {
            list += name.len() + value.len() + 32;
        });
        assert!(decoder.table_size() <= max);
        assert!(list <= max_list);
        if result.is_err() {
            // A COMPRESSION_ERROR ends the connection, and the decoder with it.
            break;
        }
    }

    // The same bytes as fields: pieces between 0xff bytes, paired as name and value,
    // after a status code from the first two bytes.
    let status = u16::from_le_bytes([first, data.get(1).copied().unwrap_or(0)]);
    let pieces: Vec<&[u8]> = data.split(|&b| b == 0xff).collect();
    let mut block = Vec::new();
    encode_status(status, &mut block);
    let mut expected = vec![(b":status".to_vec(), status.to_string().into_bytes())];
    for pair in pieces.chunks(2) {
        let (name, value) = (pair[0], pair.get(1).copied().unwrap_or(b""));
        encode_field(name, value, &mut block);
        expected.push((name.to_vec(), value.to_vec()));
    }
    let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
    let mut fields = Vec::new();
    let all = decoder.decode(&block, usize::MAX, |name, value| {
        fields.push((name.to_vec(), value.to_vec()));
    });
    assert_eq!(all, Ok(true));
    assert_eq!(fields, expected);
    assert_eq!(decoder.table_size(), 0);
});
