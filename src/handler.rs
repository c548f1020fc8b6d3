//! A parsed request and the document root in, a response decision out.

use crate::files::{Resolved, Root};
use crate::http::request::{Method, Request};
use crate::http::response::{Body, Response};
use crate::http::status::Status;

/// What every worker knows about the site it serves.
pub struct Site {
    pub root: Root,
}

/// Decides the response to one request. `keep_alive` is whether the connection may
/// carry on afterwards (the request asked for it and the worker is not stopping).
pub fn respond(
    req: &Request<'_>,
    site: &Site,
    keep_alive: bool,
    scratch: &mut Vec<u8>,
) -> Response {
    let head_only = req.method == Method::Head;
    if req.method == Method::Other {
        return Response::error(Status::MethodNotAllowed, keep_alive);
    }
    let path = req.path();
    let mut response = match site.root.resolve(path, scratch) {
        Ok(Resolved::File(f)) => Response {
            status: Status::Ok,
            content_type: Some(f.content_type),
            content_length: f.size,
            last_modified: Some(f.modified),
            location: None,
            keep_alive,
            head_only,
            body: Body::File {
                file: f.file,
                offset: 0,
                len: f.size,
            },
        },
        Ok(Resolved::AddSlash) => {
            let mut location = path.to_vec();
            location.push(b'/');
            let mut r = Response::error(Status::MovedPermanently, keep_alive);
            r.location = Some(location);
            r
        }
        Err(status) => Response::error(status, keep_alive),
    };
    response.head_only = head_only;
    response
}
