//! The Content-Type of a file, from its name.

/// The Content-Type for a file name: fixed for the types the contract names, the
/// `mime_guess` table for the rest, `application/octet-stream` when unknown.
pub fn content_type(name: &[u8]) -> &'static str {
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) => name.get(dot + 1..).unwrap_or_default(),
        None => return "application/octet-stream",
    };
    if ext.contains(&b'/') {
        return "application/octet-stream";
    }
    let Ok(ext) = std::str::from_utf8(ext) else {
        return "application/octet-stream";
    };
    let lower = ext.to_ascii_lowercase();
    match lower.as_str() {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "swf" => "application/x-shockwave-flash",
        "txt" => "text/plain",
        _ => mime_guess::from_ext(&lower)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type(b"a.html"), "text/html");
        assert_eq!(content_type(b"A.HTML"), "text/html");
        assert_eq!(content_type(b"a.css"), "text/css");
        assert_eq!(content_type(b"a.js"), "text/javascript");
        assert_eq!(content_type(b"a.jpg"), "image/jpeg");
        assert_eq!(content_type(b"a.jpeg"), "image/jpeg");
        assert_eq!(content_type(b"a.png"), "image/png");
        assert_eq!(content_type(b"a.gif"), "image/gif");
        assert_eq!(content_type(b"a.swf"), "application/x-shockwave-flash");
        assert_eq!(content_type(b"a.unknownext"), "application/octet-stream");
        assert_eq!(content_type(b"noext"), "application/octet-stream");
        assert_eq!(content_type(b"dir.d/noext"), "application/octet-stream");
    }
}
