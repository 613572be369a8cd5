//! The CSRF token as pages and the API hand it out: masked afresh for every response, so a
//! compressed response never carries the same secret bytes twice (BREACH: an attacker who
//! reflects guesses next to the token could otherwise read it off the compressed length).
//!
//! A masked token is `base64url(pad || token XOR pad)` with a fresh random `pad` as long as the
//! token. [`matches()`] unmasks what a request sends and compares it with the session's token in
//! constant time. The bare token is accepted too (API clients that kept one from before): it
//! proves no less than a masked one, as anyone holding the bare token can mask it.
//!
//! Pure but for [`mask`]'s random pad ([`mask_with`] takes the pad).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::storage::auth::constant_time_eq;

/// `token` masked with a fresh random pad: a different string on every call, each accepted
/// by [`matches()`].
pub fn mask(token: &str) -> String {
    let pad: Vec<u8> = (0..token.len()).map(|_| rand::random::<u8>()).collect();
    mask_with(token, &pad)
}

/// `token` masked with `pad` (as long as the token; a shorter pad is cycled, an empty one
/// leaves the token's bytes as they are).
pub fn mask_with(token: &str, pad: &[u8]) -> String {
    let token = token.as_bytes();
    let mut masked = Vec::with_capacity(token.len() * 2);
    let pad_byte = |index: usize| pad.get(index % pad.len().max(1)).copied().unwrap_or(0);
    masked.extend((0..token.len()).map(pad_byte));
    masked.extend(
        token
            .iter()
            .enumerate()
            .map(|(index, byte)| byte ^ pad_byte(index)),
    );
    URL_SAFE_NO_PAD.encode(masked)
}

/// The token inside a masked one, or `None` if `masked` is not one (bad base64, odd length).
fn unmask(masked: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(masked).ok()?;
    if bytes.is_empty() || bytes.len() % 2 != 0 {
        return None;
    }
    let (pad, hidden) = bytes.split_at(bytes.len() / 2);
    Some(
        hidden
            .iter()
            .zip(pad)
            .map(|(byte, pad)| byte ^ pad)
            .collect(),
    )
}

/// Whether `provided` (masked, or bare) is the session's `token`, compared in constant time.
pub fn matches(provided: &str, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let unmasked = unmask(provided).is_some_and(|inner| constant_time_eq(&inner, token.as_bytes()));
    let bare = constant_time_eq(provided.as_bytes(), token.as_bytes());
    unmasked | bare
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "6f1c0e5b9a7d4c3e2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c";

    #[test]
    fn every_mask_differs_and_each_one_matches() {
        let first = mask(TOKEN);
        let second = mask(TOKEN);
        assert_ne!(first, second, "a fresh pad each time");
        assert!(!first.contains(TOKEN) && !second.contains(TOKEN));
        assert!(matches(&first, TOKEN));
        assert!(matches(&second, TOKEN));
        assert!(matches(TOKEN, TOKEN), "the bare token still works");
    }

    #[test]
    fn a_known_pad_gives_a_known_mask() {
        // pad 0x01 0x02, token "ab" (0x61 0x62): 01 02 60 60.
        assert_eq!(
            mask_with("ab", &[1, 2]),
            URL_SAFE_NO_PAD.encode([1, 2, 0x60, 0x60])
        );
        assert!(matches(&mask_with("ab", &[1, 2]), "ab"));
    }

    #[test]
    fn tampered_foreign_and_malformed_tokens_are_refused() {
        let masked = mask(TOKEN);
        let mut bytes = URL_SAFE_NO_PAD.decode(&masked).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(
            !matches(&URL_SAFE_NO_PAD.encode(&bytes), TOKEN),
            "one bit flipped"
        );
        assert!(
            !matches(&mask("another-session-token"), TOKEN),
            "another session's"
        );
        assert!(!matches(&masked[..masked.len() - 2], TOKEN), "cut short");
        for hostile in ["", "!!!", "AAAA", "%00", &"A".repeat(10_000)] {
            assert!(!matches(hostile, TOKEN), "{hostile:.20}");
        }
        assert!(!matches("", ""), "no token, nothing matches");
        assert!(!matches(&mask(""), ""));
    }
}
