//! The Range evaluator: never panics; satisfiable ranges are sorted, disjoint, inside
//! the file, bounded in number; the multipart length formula matches the framing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use preforkd::http::range::{
    MAX_RANGES, RangeOutcome, evaluate, multipart_boundary, multipart_length, multipart_part_head,
    multipart_tail,
};

fuzz_target!(|data: &[u8]| {
    let (size, header) = match data.split_first_chunk::<8>() {
        Some((s, rest)) => (u64::from_le_bytes(*s) >> (s[0] % 64), rest),
        None => (100, data),
    };
    if let RangeOutcome::Satisfiable(r) = evaluate(header, size) {
        let s = r.as_slice();
        assert!(!s.is_empty() && s.len() <= MAX_RANGES);
        for x in s {
            assert!(x.start <= x.end && x.end < size);
        }
        for w in s.windows(2) {
            assert!(w[0].end.saturating_add(1) < w[1].start);
        }
        // Frame small cases for real and compare with the computed length.
        if r.total_length() <= 1 << 16 {
            let boundary = multipart_boundary(size);
            let mut out = Vec::new();
            for x in s {
                multipart_part_head(&boundary, "text/plain", *x, size, &mut out);
                out.resize(out.len() + x.length() as usize, b'x');
            }
            multipart_tail(&boundary, &mut out);
            assert_eq!(
                multipart_length(boundary.len(), "text/plain", s, size),
                out.len() as u64
            );
        }
    }
});
