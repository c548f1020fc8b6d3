//! Request path -> a plain relative path under the document root: pure, no I/O.

use crate::http::status::Status;

/// The most bytes a decoded path may have; longer names no file on Linux.
const MAX_PATH: usize = 4096;

/// Percent-decodes `raw` and rewrites it as `a/b/c` relative to the root into `out`.
/// Returns whether the path names a directory (it ends with `/`, `.` or `..`).
/// Dot segments are resolved as RFC 3986 §5.2.4 does, but a path that would climb
/// above the root is refused rather than clamped, since only an attack sends one.
pub fn normalize(raw: &[u8], out: &mut Vec<u8>) -> Result<bool, Status> {
    out.clear();
    if raw.first() != Some(&b'/') {
        return Err(Status::BadRequest);
    }
    // `out` always holds whole segments each followed by '/', then the segment being read.
    let mut segment_start = 0;
    let mut i = 1;
    loop {
        let byte = match raw.get(i) {
            None => None,
            Some(b'%') => {
                let hi = raw.get(i + 1).and_then(|&b| hex(b));
                let lo = raw.get(i + 2).and_then(|&b| hex(b));
                let (Some(h), Some(l)) = (hi, lo) else {
                    return Err(Status::BadRequest);
                };
                i += 2;
                Some((h << 4) | l)
            }
            Some(&b) => Some(b),
        };
        i += 1;
        match byte {
            Some(0) => return Err(Status::BadRequest),
            Some(b'/') | None => {
                let segment = out.get(segment_start..).unwrap_or_default();
                let is_dir_segment = matches!(segment, b"" | b"." | b"..");
                match segment {
                    b"" | b"." => out.truncate(segment_start),
                    b".." => {
                        if segment_start == 0 {
                            return Err(Status::BadRequest);
                        }
                        out.truncate(segment_start - 1);
                        let parent = out.iter().rposition(|&b| b == b'/').map_or(0, |p| p + 1);
                        out.truncate(parent);
                    }
                    _ => {
                        if byte.is_some() {
                            out.push(b'/');
                        }
                    }
                }
                segment_start = out.len();
                if byte.is_none() {
                    if out.last() == Some(&b'/') {
                        out.pop();
                    }
                    return Ok(is_dir_segment || out.is_empty());
                }
            }
            Some(b) => out.push(b),
        }
        if out.len() > MAX_PATH {
            return Err(Status::NotFound);
        }
    }
}

/// A segment starting with `.` (`.git`, `.env`): not served unless asked for.
pub fn has_hidden_segment(rel: &[u8]) -> bool {
    rel.split(|&b| b == b'/').any(|s| s.first() == Some(&b'.'))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Result<(String, bool), Status> {
        let mut out = Vec::new();
        let slash = normalize(raw.as_bytes(), &mut out)?;
        Ok((String::from_utf8(out).unwrap(), slash))
    }

    #[test]
    fn plain_paths() {
        assert_eq!(norm("/"), Ok((String::new(), true)));
        assert_eq!(norm("/a.html"), Ok(("a.html".into(), false)));
        assert_eq!(norm("/dir/"), Ok(("dir".into(), true)));
        assert_eq!(norm("/a//b/./c"), Ok(("a/b/c".into(), false)));
        assert_eq!(norm("/text..txt"), Ok(("text..txt".into(), false)));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(norm("/a%20b.html"), Ok(("a b.html".into(), false)));
        assert_eq!(norm("/%70%61%67%65.html"), Ok(("page.html".into(), false)));
        assert_eq!(norm("/%2fetc%2fpasswd"), Ok(("etc/passwd".into(), false)));
        assert_eq!(norm("/%2Fetc%2Fpasswd"), Ok(("etc/passwd".into(), false)));
        assert_eq!(norm("/a%"), Err(Status::BadRequest));
        assert_eq!(norm("/a%2"), Err(Status::BadRequest));
        assert_eq!(norm("/a%zz"), Err(Status::BadRequest));
        assert_eq!(norm("/a%00b"), Err(Status::BadRequest));
    }

    #[test]
    fn dot_segments_never_climb_out() {
        for raw in [
            "/..",
            "/../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2fetc",
            "/..%2fetc%2fpasswd",
            "/a/../../etc",
            "/a/%2e%2e/%2e%2e/etc",
        ] {
            assert_eq!(norm(raw), Err(Status::BadRequest), "{raw}");
        }
        assert_eq!(norm("/a/../b.html"), Ok(("b.html".into(), false)));
        assert_eq!(norm("/a/b/.."), Ok(("a".into(), true)));
        assert_eq!(norm("//etc/passwd"), Ok(("etc/passwd".into(), false)));
    }

    #[test]
    fn not_origin_form() {
        assert_eq!(norm("a.html"), Err(Status::BadRequest));
        assert_eq!(norm(""), Err(Status::BadRequest));
    }

    #[test]
    fn hidden_segments() {
        assert!(has_hidden_segment(b".git/config"));
        assert!(has_hidden_segment(b"a/.env"));
        assert!(!has_hidden_segment(b"a/b.c"));
    }
}
