//! Pure checks for HTTP-01 challenges: a token and key authorization are base64url (no path
//! tricks can hide in them), and the one request the listener answers,
//! `GET /.well-known/acme-challenge/<token>`, is recognised in the request head.

/// Where ACME servers look (RFC 8555 section 8.3).
pub const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// Longest token or key authorization accepted (Let's Encrypt's are 43 and 87 characters).
const MAX_LEN: usize = 512;

/// Why a challenge was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadChallenge {
    /// The token is empty, too long or not base64url.
    #[error("challenge token is not base64url (1 to 512 of A-Z a-z 0-9 - _)")]
    Token,
    /// The key authorization is not `<token>.<base64url thumbprint>`.
    #[error("key authorization is not <token>.<thumbprint>")]
    KeyAuthorization,
}

fn base64url(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks the token and that the key authorization belongs to it.
pub fn validate(token: &str, key_authorization: &str) -> Result<(), BadChallenge> {
    if !base64url(token) {
        return Err(BadChallenge::Token);
    }
    match key_authorization.split_once('.') {
        Some((prefix, thumbprint)) if prefix == token && base64url(thumbprint) => Ok(()),
        _ => Err(BadChallenge::KeyAuthorization),
    }
}

/// What a request head asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// `GET` (or `HEAD`) of a challenge path: the token.
    Challenge { token: String, head: bool },
    /// Anything else (answered 404).
    Other,
    /// Not an HTTP/1.x request line (answered 400).
    Malformed,
}

/// Reads the request line of `head` (the bytes up to the blank line).
pub fn parse_request(head: &[u8]) -> Asked {
    let Some(line) = head.split(|&b| b == b'\n').next() else {
        return Asked::Malformed;
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return Asked::Malformed;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Asked::Malformed;
    };
    if !version.starts_with("HTTP/1.") {
        return Asked::Malformed;
    }
    // An absolute-form target (`http://host/path`) is reduced to its path.
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None => target,
    };
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Asked::Other,
    };
    match path.strip_prefix(CHALLENGE_PATH) {
        Some(token) if base64url(token) => Asked::Challenge {
            token: token.to_owned(),
            head,
        },
        _ => Asked::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_only() {
        assert!(validate("abc-_9", "abc-_9.thumb").is_ok());
        for bad in ["", "../etc", "a/b", "a.b", "a%2e", "a b", &"x".repeat(513)] {
            assert_eq!(
                validate(bad, &format!("{bad}.t")),
                Err(BadChallenge::Token),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate("abc", "other.t"),
            Err(BadChallenge::KeyAuthorization)
        );
        assert_eq!(validate("abc", "abc."), Err(BadChallenge::KeyAuthorization));
        assert_eq!(
            validate("abc", "abc.x/y"),
            Err(BadChallenge::KeyAuthorization)
        );
    }

    #[test]
    fn only_challenge_gets_are_recognised() {
        let asked = |line: &str| parse_request(line.as_bytes());
        assert_eq!(
            asked("GET /.well-known/acme-challenge/tok_1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Asked::Challenge {
                token: "tok_1".into(),
                head: false
            }
        );
        assert_eq!(
            asked("GET http://x.home.test/.well-known/acme-challenge/t HTTP/1.0\r\n"),
            Asked::Challenge {
                token: "t".into(),
                head: false
            }
        );
        assert_eq!(
            asked("GET /.well-known/acme-challenge/../x HTTP/1.1\r\n"),
            Asked::Other
        );
        assert_eq!(asked("GET / HTTP/1.1\r\n"), Asked::Other);
        assert_eq!(
            asked("POST /.well-known/acme-challenge/t HTTP/1.1\r\n"),
            Asked::Other
        );
        assert_eq!(asked("SSH-2.0-OpenSSH\r\n"), Asked::Malformed);
        assert_eq!(asked("\u{0}\u{1}"), Asked::Malformed);
    }
}
