//! ntfy (<https://ntfy.sh> or a self-hosted server): `POST <server>/<topic>` with the message's
//! body as text and `Title`, `Priority`, `Tags` (and `Click`, when the dashboard's address is
//! configured) headers.

use super::http::{Body, Method, Request};
use super::message::Message;
use crate::config::secret::Secret;
use crate::storage::alerts::Severity;

/// The POST for `message`: body text, `Title`, `Priority`, `Tags`, `Click` headers.
pub fn request(url: &Secret, token: Option<&Secret>, message: &Message) -> Request {
    let (priority, tags) = match (message.resolved, message.severity) {
        (true, _) => ("default", "white_check_mark"),
        (false, Severity::Critical) => ("urgent", "rotating_light"),
        (false, Severity::Warning) => ("high", "warning"),
    };
    let mut headers = vec![
        ("Title".to_owned(), header_text(&message.title)),
        ("Priority".to_owned(), priority.to_owned()),
        ("Tags".to_owned(), tags.to_owned()),
    ];
    if let Some(link) = &message.link {
        headers.push(("Click".to_owned(), header_text(link)));
    }
    if let Some(token) = token {
        headers.push(("Authorization".to_owned(), format!("Bearer {}", token.0)));
    }
    Request {
        method: Method::Post,
        url: url.0.clone(),
        headers,
        body: Body::Text(message.body.clone()),
    }
}

/// A header value: ASCII as is, anything else as an RFC 2047 encoded word (which ntfy reads).
pub fn header_text(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    if clean.is_ascii() {
        return clean;
    }
    format!("=?UTF-8?B?{}?=", base64(clean.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        for (input, expect) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(input.as_bytes()), expect);
        }
        assert_eq!(super::header_text("nas01"), "nas01");
        assert_eq!(super::header_text("ü"), "=?UTF-8?B?w7w=?=");
    }
}
