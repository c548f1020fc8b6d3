//! The status codes we send, with their reason phrases and error bodies.
//!
//! One table below defines each status once; the enum, the status line, the reason and
//! the error page are all generated from it, so they cannot disagree.

macro_rules! statuses {
    ($($variant:ident = $code:literal $reason:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Status {
            $($variant,)*
        }

        impl Status {
            #[cfg(test)]
            const ALL: &[Status] = &[$(Status::$variant,)*];

            pub fn code(self) -> u16 {
                match self {
                    $(Status::$variant => $code,)*
                }
            }

            pub fn reason(self) -> &'static str {
                match self {
                    $(Status::$variant => $reason,)*
                }
            }

            /// The whole status line, `HTTP/1.1 200 OK\r\n`, as a constant: no
            /// formatting per response.
            pub fn status_line(self) -> &'static str {
                match self {
                    $(Status::$variant => concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n"),)*
                }
            }

            /// The short HTML page sent with an error (empty for 2xx and 304); fixed
            /// text, so no input is ever echoed.
            pub fn error_body(self) -> &'static str {
                match self {
                    $(Status::$variant => if $code < 300 || $code == 304 {
                        ""
                    } else {
                        concat!(
                            "<html><head><title>", $code, " ", $reason,
                            "</title></head><body><h1>", $code, " ", $reason,
                            "</h1><hr><p>preforkd</p></body></html>\n"
                        )
                    },)*
                }
            }
        }
    };
}

statuses! {
    Ok = 200 "OK";
    PartialContent = 206 "Partial Content";
    MovedPermanently = 301 "Moved Permanently";
    NotModified = 304 "Not Modified";
    PermanentRedirect = 308 "Permanent Redirect";
    BadRequest = 400 "Bad Request";
    Forbidden = 403 "Forbidden";
    NotFound = 404 "Not Found";
    MethodNotAllowed = 405 "Method Not Allowed";
    RequestTimeout = 408 "Request Timeout";
    PreconditionFailed = 412 "Precondition Failed";
    ContentTooLarge = 413 "Content Too Large";
    UriTooLong = 414 "URI Too Long";
    RangeNotSatisfiable = 416 "Range Not Satisfiable";
    HeaderFieldsTooLarge = 431 "Request Header Fields Too Large";
    InternalServerError = 500 "Internal Server Error";
    NotImplemented = 501 "Not Implemented";
    ServiceUnavailable = 503 "Service Unavailable";
    VersionNotSupported = 505 "HTTP Version Not Supported";
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn lines_and_pages_agree_with_code_and_reason() {
        for s in Status::ALL {
            let (code, reason) = (s.code(), s.reason());
            assert_eq!(s.status_line(), format!("HTTP/1.1 {code} {reason}\r\n"));
            if code < 300 || code == 304 {
                assert_eq!(s.error_body(), "");
            } else {
                assert!(
                    s.error_body()
                        .contains(&format!("<h1>{code} {reason}</h1>"))
                );
            }
        }
        assert_eq!(Status::ALL.len(), 19);
    }
}
