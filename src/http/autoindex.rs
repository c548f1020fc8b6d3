//! The HTML page of a directory listing (`--autoindex`), from entries already read.
//!
//! File names are whatever bytes the file system holds, so every name is HTML-escaped
//! for display (invalid UTF-8 shown as U+FFFD) and percent-encoded byte for byte in its
//! link, which therefore always leads back to exactly that file.

use std::time::SystemTime;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub is_dir: bool,
    pub size: u64,
    pub modified: SystemTime,
}

/// Content-Type of the listing page.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// Renders the listing of the directory at `dir` (the normalized path relative to the
/// root, no leading or trailing slash; empty for the root). Directories come first,
/// then files, each group sorted by name bytes. `truncated` adds a note that entries
/// were left out.
pub fn render(dir: &[u8], entries: &mut [Entry], truncated: bool) -> Vec<u8> {
    entries.sort_unstable_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    let mut out = Vec::with_capacity(512 + entries.len() * 160);
    let mut title = Vec::with_capacity(dir.len() + 2);
    title.push(b'/');
    if !dir.is_empty() {
        title.extend_from_slice(dir);
        title.push(b'/');
    }
    out.extend_from_slice(b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    escape_html(&title, &mut out);
    out.extend_from_slice(b"</title></head>\n<body><h1>Index of ");
    escape_html(&title, &mut out);
    out.extend_from_slice(
        b"</h1><hr>\n<table>\n<tr><th>Name</th><th>Last modified</th><th>Size</th></tr>\n",
    );
    if !dir.is_empty() {
        out.extend_from_slice(b"<tr><td><a href=\"../\">../</a></td><td></td><td>-</td></tr>\n");
    }
    for e in entries.iter() {
        out.extend_from_slice(b"<tr><td><a href=\"");
        percent_encode(&e.name, &mut out);
        if e.is_dir {
            out.push(b'/');
        }
        out.extend_from_slice(b"\">");
        escape_html(&e.name, &mut out);
        if e.is_dir {
            out.push(b'/');
        }
        out.extend_from_slice(b"</a></td><td>");
        super::date::push_http_date(e.modified, &mut out);
        out.extend_from_slice(b"</td><td>");
        if e.is_dir {
            out.push(b'-');
        } else {
            super::date::push_u64(&mut out, e.size);
        }
        out.extend_from_slice(b"</td></tr>\n");
    }
    out.extend_from_slice(b"</table>\n");
    if truncated {
        out.extend_from_slice(b"<p>(more entries not shown)</p>\n");
    }
    out.extend_from_slice(b"<hr></body></html>\n");
    out
}

/// Appends `text` with `& < > " '` escaped; invalid UTF-8 becomes U+FFFD.
pub fn escape_html(text: &[u8], out: &mut Vec<u8>) {
    for chunk in text.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '&' => out.extend_from_slice(b"&amp;"),
                '<' => out.extend_from_slice(b"&lt;"),
                '>' => out.extend_from_slice(b"&gt;"),
                '"' => out.extend_from_slice(b"&quot;"),
                '\'' => out.extend_from_slice(b"&#39;"),
                // Controls would be invisible or confusing on the page.
                c if c.is_control() => out.extend_from_slice("\u{fffd}".as_bytes()),
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

/// Appends `bytes` with everything but RFC 3986 unreserved characters percent-encoded,
/// so a name is one opaque path segment whatever it contains (`/`, `?`, `#`, `%`, `:`).
pub fn percent_encode(bytes: &[u8], out: &mut Vec<u8>) {
    fn hex_digit(n: u8) -> u8 {
        if n < 10 { b'0' + n } else { b'A' + (n - 10) }
    }
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', hex_digit(b >> 4), hex_digit(b & 0xf)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn entry(name: &[u8], is_dir: bool, size: u64) -> Entry {
        Entry {
            name: name.to_vec(),
            is_dir,
            size,
            modified: UNIX_EPOCH + Duration::from_secs(784_111_777),
        }
    }

    #[test]
    fn escaping() {
        let mut out = Vec::new();
        escape_html(b"<a href='x'>&\"</a>", &mut out);
        assert_eq!(out, b"&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
        out.clear();
        escape_html(b"a\xffb\x01", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a\u{fffd}b\u{fffd}");
        let mut out = Vec::new();
        percent_encode(b"a b/c?d#e%f\"<\xff~.-_", &mut out);
        assert_eq!(out, b"a%20b%2Fc%3Fd%23e%25f%22%3C%FF~.-_");
    }

    #[test]
    fn listing_is_sorted_escaped_and_complete() {
        let mut entries = vec![
            entry(b"zeta.txt", false, 3),
            entry(b"<script>.html", false, 1234),
            entry(b"beta", true, 4096),
            entry(b"alpha", true, 4096),
            entry(b"a b&c.txt", false, 0),
        ];
        let html = String::from_utf8(render(b"sub/<x>", &mut entries, false)).unwrap();
        assert!(
            html.contains("<title>Index of /sub/&lt;x&gt;/</title>"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("<a href=\"../\">"));
        let order: Vec<usize> = [
            "alpha/",
            "beta/",
            "%3Cscript%3E.html",
            "a%20b%26c.txt",
            "zeta.txt",
        ]
        .iter()
        .map(|h| html.find(&format!("href=\"{h}\"")).unwrap())
        .collect();
        // Directories first, then files by name bytes ("<" 0x3c sorts before "a").
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?} {html}");
        assert!(html.contains(
            "&lt;script&gt;.html</a></td><td>Sun, 06 Nov 1994 08:49:37 GMT</td><td>1234</td>"
        ));
        assert!(html.contains("a b&amp;c.txt</a>"));
        assert!(!html.contains("more entries"));
        let root = String::from_utf8(render(b"", &mut [], true)).unwrap();
        assert!(root.contains("<title>Index of /</title>"));
        assert!(!root.contains("../"));
        assert!(root.contains("more entries"));
    }
}
