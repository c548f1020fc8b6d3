//! Accept-Encoding negotiation: never panics, never picks a sidecar that is missing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use preforkd::http::encoding::{Coding, preferred};

fuzz_target!(|data: &[u8]| {
    for (br, gz) in [(true, true), (true, false), (false, true), (false, false)] {
        match preferred(data, br, gz) {
            Some(Coding::Br) => assert!(br),
            Some(Coding::Gzip) => assert!(gz),
            None => {}
        }
    }
});
