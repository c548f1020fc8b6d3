//! The status codes we send, with their reason phrases and error bodies.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    PartialContent,
    MovedPermanently,
    NotModified,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PreconditionFailed,
    UriTooLong,
    RangeNotSatisfiable,
    HeaderFieldsTooLarge,
    InternalServerError,
    NotImplemented,
    ServiceUnavailable,
    VersionNotSupported,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::PreconditionFailed => 412,
            Status::UriTooLong => 414,
            Status::RangeNotSatisfiable => 416,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
            Status::VersionNotSupported => 505,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::PartialContent => "Partial Content",
            Status::MovedPermanently => "Moved Permanently",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::PreconditionFailed => "Precondition Failed",
            Status::UriTooLong => "URI Too Long",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// The whole status line, `HTTP/1.1 200 OK\r\n`, as a constant: no formatting per
    /// response.
    pub fn status_line(self) -> &'static str {
        macro_rules! line {
            ($code:literal, $reason:literal) => {
                concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n")
            };
        }
        match self {
            Status::Ok => line!(200, "OK"),
            Status::PartialContent => line!(206, "Partial Content"),
            Status::MovedPermanently => line!(301, "Moved Permanently"),
            Status::NotModified => line!(304, "Not Modified"),
            Status::BadRequest => line!(400, "Bad Request"),
            Status::Forbidden => line!(403, "Forbidden"),
            Status::NotFound => line!(404, "Not Found"),
            Status::MethodNotAllowed => line!(405, "Method Not Allowed"),
            Status::RequestTimeout => line!(408, "Request Timeout"),
            Status::PreconditionFailed => line!(412, "Precondition Failed"),
            Status::UriTooLong => line!(414, "URI Too Long"),
            Status::RangeNotSatisfiable => line!(416, "Range Not Satisfiable"),
            Status::HeaderFieldsTooLarge => line!(431, "Request Header Fields Too Large"),
            Status::InternalServerError => line!(500, "Internal Server Error"),
            Status::NotImplemented => line!(501, "Not Implemented"),
            Status::ServiceUnavailable => line!(503, "Service Unavailable"),
            Status::VersionNotSupported => line!(505, "HTTP Version Not Supported"),
        }
    }

    /// The short HTML page sent with an error; fixed text, so no input is ever echoed.
    pub fn error_body(self) -> &'static str {
        macro_rules! page {
            ($code:literal, $reason:literal) => {
                concat!(
                    "<html><head><title>",
                    $code,
                    " ",
                    $reason,
                    "</title></head><body><h1>",
                    $code,
                    " ",
                    $reason,
                    "</h1><hr><p>preforkd</p></body></html>\n"
                )
            };
        }
        match self {
            Status::MovedPermanently => page!("301", "Moved Permanently"),
            Status::BadRequest => page!("400", "Bad Request"),
            Status::Forbidden => page!("403", "Forbidden"),
            Status::NotFound => page!("404", "Not Found"),
            Status::MethodNotAllowed => page!("405", "Method Not Allowed"),
            Status::RequestTimeout => page!("408", "Request Timeout"),
            Status::PreconditionFailed => page!("412", "Precondition Failed"),
            Status::UriTooLong => page!("414", "URI Too Long"),
            Status::RangeNotSatisfiable => page!("416", "Range Not Satisfiable"),
            Status::HeaderFieldsTooLarge => page!("431", "Request Header Fields Too Large"),
            Status::InternalServerError => page!("500", "Internal Server Error"),
            Status::NotImplemented => page!("501", "Not Implemented"),
            Status::ServiceUnavailable => page!("503", "Service Unavailable"),
            Status::VersionNotSupported => page!("505", "HTTP Version Not Supported"),
            Status::Ok | Status::PartialContent | Status::NotModified => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;

    #[test]
    fn status_lines_agree_with_code_and_reason() {
        for s in [
            Ok,
            PartialContent,
            MovedPermanently,
            NotModified,
            BadRequest,
            Forbidden,
            NotFound,
            MethodNotAllowed,
            RequestTimeout,
            PreconditionFailed,
            UriTooLong,
            RangeNotSatisfiable,
            HeaderFieldsTooLarge,
            InternalServerError,
            NotImplemented,
            ServiceUnavailable,
            VersionNotSupported,
        ] {
            assert_eq!(
                s.status_line(),
                format!("HTTP/1.1 {} {}\r\n", s.code(), s.reason())
            );
        }
    }
}
