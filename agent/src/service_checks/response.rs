//! The little of an HTTP/1.1 response a service check reads (pure): the status line and
//! headers (httparse, bounded), whether a keyword is in the body's first bytes, and the
//! verdict. No I/O; `http.rs` feeds it bytes.

use super::Finding;

/// The most bytes of status line and headers read before giving up.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The most bytes of body searched for the keyword; the rest is never read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Where the body starts in the bytes read.
    pub body_at: usize,
}

/// The head in `bytes` when it is complete, `Ok(None)` when more bytes are needed, an error
/// for bytes that are not an HTTP response (or a head longer than [`MAX_HEAD_BYTES`]).
pub fn parse_head(bytes: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(bytes) {
        Ok(httparse::Status::Complete(body_at)) => match response.code {
            Some(status) => Ok(Some(Head { status, body_at })),
            None => Err("not an HTTP response: no status code".into()),
        },
        Ok(httparse::Status::Partial) if bytes.len() >= MAX_HEAD_BYTES => Err(format!(
            "the response head is longer than {MAX_HEAD_BYTES} bytes"
        )),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(error) => Err(format!("not an HTTP response: {error}")),
    }
}

/// Whether `needle` is in `haystack` (bytes; an empty needle always is).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The verdict on a response: its status within `min..=max`, and the keyword (when one is
/// asked for) found in the first [`MAX_BODY_BYTES`] of the body.
pub fn judge(status: u16, min: u16, max: u16, keyword: Option<(&str, bool)>) -> Finding {
    if !(min..=max).contains(&status) {
        return Finding::down(format!("HTTP status {status}, expected {min}-{max}"));
    }
    match keyword {
        Some((keyword, false)) => Finding::down(format!(
            "keyword {keyword:?} not in the first {} KiB of the body",
            MAX_BODY_BYTES / 1024
        )),
        _ => Finding::up(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_head(bytes: &[u8], expect: Result<Option<u16>, &str>) {
        let got = parse_head(bytes).map(|head| head.map(|head| head.status));
        match expect {
            Ok(status) => assert_eq!(got, Ok(status)),
            Err(prefix) => assert!(
                got.as_ref().is_err_and(|e| e.starts_with(prefix)),
                "{got:?}"
            ),
        }
    }

    #[test]
    fn issue_18_response_heads() {
        check_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            Ok(Some(200)),
        );
        check_head(
            b"HTTP/1.0 503 Service Unavailable\r\n\r\nbody",
            Ok(Some(503)),
        );
        check_head(b"HTTP/1.1 200 OK\r\nContent-", Ok(None));
        check_head(b"", Ok(None));
        check_head(b"SSH-2.0-OpenSSH_9.2\r\n", Err("not an HTTP response"));
        check_head(b"\x16\x03\x01\x00\xff garbage", Err("not an HTTP response"));
        check_head(b"HTTP/1.1 abc OK\r\n\r\n", Err("not an HTTP response"));
        let endless = [
            b"HTTP/1.1 200 OK\r\nX: ".as_slice(),
            &[b'a'; MAX_HEAD_BYTES],
        ]
        .concat();
        check_head(&endless, Err("the response head is longer"));
        let head = parse_head(b"HTTP/1.1 200 OK\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(head.body_at, 19);
    }

    #[test]
    fn issue_18_verdicts() {
        assert!(judge(200, 200, 299, None).up);
        assert!(judge(301, 200, 399, Some(("Welcome", true))).up);
        let down = judge(500, 200, 299, None);
        assert_eq!(
            down.reason.as_deref(),
            Some("HTTP status 500, expected 200-299")
        );
        let down = judge(200, 200, 299, Some(("Welcome", false)));
        assert!(!down.up && down.reason.unwrap().contains("\"Welcome\""));
        assert!(contains(b"xx Welcome xx", b"Welcome") && !contains(b"Welc", b"Welcome"));
        assert!(contains(b"", b""));
    }
}
