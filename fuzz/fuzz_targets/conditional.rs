//! The conditional-request evaluator and If-Range: never panic on any header bytes.
//! The input is split on NUL into If-Match, If-None-Match, If-Modified-Since,
//! If-Unmodified-Since and If-Range (a missing piece means an absent header).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use preforkd::http::conditional::{Precondition, Validators, evaluate, if_range_allows};

fuzz_target!(|data: &[u8]| {
    let (seed, rest) = match data.split_first_chunk::<8>() {
        Some((s, rest)) => (u64::from_le_bytes(*s), rest),
        None => (0, data),
    };
    let mtime = UNIX_EPOCH + Duration::from_secs(seed % 253_402_300_799);
    let v = Validators::new(seed, mtime, seed.rotate_left(17), Some("br"));
    let mut parts = rest.split(|&b| b == 0);
    let im = parts.next();
    let inm = parts.next();
    let ims = parts.next();
    let ius = parts.next();
    let ir = parts.next();
    for get in [true, false] {
        let r = evaluate(get, im, inm, ims, ius, &v);
        if !get {
            assert_ne!(r, Precondition::NotModified);
        }
    }
    // Our own tag always satisfies If-Match and If-None-Match, and an If-Range.
    let tag = v.etag.as_bytes();
    assert_eq!(
        evaluate(true, Some(tag), None, None, None, &v),
        Precondition::Proceed
    );
    assert_eq!(
        evaluate(true, None, Some(tag), None, None, &v),
        Precondition::NotModified
    );
    assert!(if_range_allows(tag, &v));
    if let Some(ir) = ir {
        let _ = if_range_allows(ir, &v);
    }
});
