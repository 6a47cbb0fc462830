//! HTTP plumbing: bodies, JSON responses, Docker's error body and status codes, queries.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use peapod_engine::{Error, ErrorKind};
use serde::Serialize;
use tokio::sync::mpsc;

/// Request bodies larger than this are refused (a create body is a few kB).
pub const MAX_BODY: usize = 4 << 20;

/// A response body: all at once, or streamed from a blocking task.
pub enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Full(Some(b)) => hyper::body::SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => hyper::body::SizeHint::with_exact(0),
            Body::Stream(_) => hyper::body::SizeHint::default(),
        }
    }
}

pub type Resp = Response<Body>;

pub fn bytes(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .body(Body::Full(Some(body.into())))
        .expect("a valid response")
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Resp {
    match serde_json::to_vec(value) {
        Ok(mut v) => {
            v.push(b'\n');
            bytes(status, "application/json", v)
        }
        Err(e) => error_message(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

pub fn empty(status: StatusCode) -> Resp {
    Response::builder()
        .status(status)
        .body(Body::Full(None))
        .expect("a valid response")
}

/// Docker's error body: `{"message": "…"}`.
pub fn error_message(status: StatusCode, message: &str) -> Resp {
    json(status, &serde_json::json!({ "message": message }))
}

/// Docker's status for an engine error kind: 404 missing, 409 conflict, 400 bad
/// parameter, 500 otherwise.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Command(_) | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An engine error as Docker words it for the objects clients test for
/// (`No such container: X`, `No such image: X`); others keep the engine's message.
pub fn docker_message(e: &Error) -> String {
    match e {
        Error::NoSuchContainer(r) => format!("No such container: {r}"),
        Error::NoSuchImage(r) => format!("No such image: {r}"),
        Error::NoSuchNetwork(r) => format!("network {r} not found"),
        _ => e.to_string(),
    }
}

pub fn engine_error(e: &Error) -> Resp {
    error_message(status_of(e.kind()), &docker_message(e))
}

/// How an endpoint shared by both APIs words its errors: Docker's `{"message"}` or
/// Podman's `{"cause", "message", "response"}`.
#[derive(Clone, Copy)]
pub struct ErrorStyle {
    pub engine: fn(&Error) -> Resp,
    pub message: fn(StatusCode, &str) -> Resp,
}

impl ErrorStyle {
    pub const DOCKER: ErrorStyle = ErrorStyle {
        engine: engine_error,
        message: error_message,
    };
}

/// The query string as a map (the last value of a repeated key wins).
pub fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(q) = req.uri().query() {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.insert(percent_decode(k), percent_decode(v));
        }
    }
    out
}

/// Every value of a repeated query key (`t=a&t=b`), decoded, empty ones left out.
pub fn query_all(req: &Request<Incoming>, key: &str) -> Vec<String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| percent_decode(k) == key)
        .map(|(_, v)| percent_decode(v))
        .filter(|v| !v.is_empty())
        .collect()
}

/// `%XX` and `+` decoding of a query component.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Docker's boolean query values: `1`, `true`, `True` (docker-py sends `True`).
pub fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// A removal's `timeout` query in seconds (a negative one is 0); absent or unreadable: the
/// engine's default.
pub fn timeout(q: &HashMap<String, String>) -> Option<u32> {
    q.get("timeout")
        .and_then(|t| t.parse::<i64>().ok())
        .map(|t| t.max(0) as u32)
}

/// A `filters` query (`{"label":["a=b"],"status":{"exited":true}}`) as the engine's
/// `KEY=VALUE` filter strings.
pub fn filters(q: &HashMap<String, String>) -> Result<Vec<String>, Error> {
    let Some(raw) = q.get("filters").filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let v: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| Error::invalid(format!("invalid filters {raw:?}: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| Error::invalid(format!("invalid filters {raw:?}: not an object")))?;
    let mut out = Vec::new();
    for (key, values) in obj {
        match values {
            serde_json::Value::Array(a) => {
                for x in a {
                    out.push(format!("{key}={}", x.as_str().unwrap_or_default()));
                }
            }
            // The old map form: {"status":{"exited":true}}.
            serde_json::Value::Object(m) => {
                for (x, on) in m {
                    if on.as_bool() != Some(false) {
                        out.push(format!("{key}={x}"));
                    }
                }
            }
            _ => return Err(Error::invalid(format!("invalid filters {raw:?}"))),
        }
    }
    Ok(out)
}

/// The request body, up to [`MAX_BODY`]; the error says which limit or failure.
pub async fn read_body(req: Request<Incoming>) -> Result<Bytes, String> {
    read_limited(req, MAX_BODY, "request body").await
}

/// The request body (`what`), up to `limit` bytes.
pub async fn read_limited(
    req: Request<Incoming>,
    limit: usize,
    what: &str,
) -> Result<Bytes, String> {
    let limited = http_body_util::Limited::new(req.into_body(), limit);
    match limited.collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(format!("{what} larger than {limit} bytes"))
        }
        Err(e) => Err(format!("reading the {what}: {e}")),
    }
}

/// The request body, up to [`MAX_BODY`], as JSON (`{}` when empty).
pub async fn read_json<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> Result<T, Resp> {
    let body = read_body(req)
        .await
        .map_err(|msg| error_message(StatusCode::BAD_REQUEST, &msg))?;
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    serde_json::from_slice(body).map_err(|e| {
        error_message(
            StatusCode::BAD_REQUEST,
            &format!("invalid JSON in the request body: {e}"),
        )
    })
}

/// A stream of JSON messages, one a line (Docker's progress streams).
pub fn ndjson(status: StatusCode, rx: mpsc::Receiver<Bytes>) -> Resp {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::Stream(rx))
        .expect("a valid response")
}

/// One message of such a stream: the JSON and a newline.
pub fn json_line(v: &serde_json::Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries_and_filters() {
        assert_eq!(percent_decode("a%3Db+c"), "a=b c");
        assert_eq!(percent_decode("100%"), "100%");
        let mut q = HashMap::new();
        q.insert(
            "filters".to_string(),
            r#"{"label":["a=b"],"status":{"exited":true}}"#.to_string(),
        );
        let mut f = filters(&q).unwrap();
        f.sort();
        assert_eq!(f, vec!["label=a=b", "status=exited"]);
        q.insert("filters".into(), "[1]".into());
        assert!(filters(&q).is_err());
    }

    #[test]
    fn maps_kinds_to_docker_statuses() {
        let e = Error::NoSuchContainer("x".into());
        assert_eq!(status_of(e.kind()), StatusCode::NOT_FOUND);
        assert_eq!(docker_message(&e), "No such container: x");
        assert_eq!(
            status_of(Error::invalid("bad").kind()),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(Error::other("boom").kind()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
