//! gzip for what compresses well and is not a stream: HTML pages, styles, scripts, SVG, the
//! web app manifest and JSON, when the browser accepts gzip. The 500-host overview is mostly
//! repeated markup and sparkline paths, several times smaller gzip-compressed.
//!
//! Event streams (`text/event-stream`, the overview's live channel) are never compressed: a
//! compressor holds bytes back until its block fills, and a card must reach the browser when
//! it is sent. Images (PNG icons) are compressed already.
//!
//! Compressing pages that carry a secret next to text an attacker can reflect is what BREACH
//! reads secrets through; the one such secret, the CSRF token, is masked afresh for every
//! response (`http::csrf`), so it is safe to compress pages.

use axum::http::{header, Response};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Bodies shorter than this go as they are: gzip's header and trailer would not pay.
pub const MIN_BYTES: u16 = 256;

/// Content types worth compressing (matched on the type before any `;` parameters).
const COMPRESSIBLE: &[&str] = &[
    "text/html",
    "text/css",
    "text/javascript",
    "text/plain",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "image/svg+xml",
];

/// Whether a response of `content_type` may be compressed (pure).
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    COMPRESSIBLE.contains(&essence.as_str())
}

/// The predicate: a compressible content type, and long enough.
#[derive(Debug, Clone, Copy)]
pub struct Compressible;

impl Predicate for Compressible {
    fn should_compress<B>(&self, response: &Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        compressible(content_type) && SizeAbove::new(MIN_BYTES).should_compress(response)
    }
}

/// The layer `http::server` wraps every route in: gzip only (no new codecs in the tree), at
/// the default level (a 500-host overview in a few milliseconds).
pub fn layer() -> CompressionLayer<Compressible> {
    CompressionLayer::new()
        .gzip(true)
        .quality(CompressionLevel::Default)
        .compress_when(Compressible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_scripts_and_json_compress_streams_and_images_do_not() {
        for yes in [
            "text/html; charset=utf-8",
            "text/css",
            "application/json",
            "TEXT/JavaScript",
            "image/svg+xml",
        ] {
            assert!(compressible(yes), "{yes}");
        }
        for no in [
            "text/event-stream",
            "image/png",
            "application/octet-stream",
            "",
            "text/htmlx",
        ] {
            assert!(!compressible(no), "{no}");
        }
    }
}
