//! Validated names and lines that the agent turns into file names, passwd lookups or lines of
//! sshd's files: checked when they are decoded, so a hostile or buggy peer cannot smuggle a
//! path, a second line or an option through them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a `String` newtype that is validated by `$valid` on construction and decode.
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $error:ident, $expected:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        #[doc = concat!("A string that is not a valid [`", stringify!($name), "`].")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("invalid {kind} {value:?}: expected {expected}", kind = stringify!($name), value = .0, expected = $expected)]
        pub struct $error(pub String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<$name, $error> {
                let value = value.into();
                let valid: fn(&str) -> bool = $valid;
                if valid(&value) {
                    Ok($name(value))
                } else {
                    Err($error(value))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::new(s)
            }
        }
    };
}

validated_string!(
    /// A login name on a host: 1 to 32 characters of `[a-z0-9_.-]`, starting with a letter or
    /// `_` (what `useradd` accepts by default, without the trailing `$` of machine accounts).
    UnixUser,
    InvalidUnixUser,
    "1 to 32 characters of a-z, 0-9, '_', '.' and '-', starting with a letter or '_'",
    |s| {
        !s.is_empty()
            && s.len() <= 32
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            })
    }
);

validated_string!(
    /// One line of an OpenSSH file: an `authorized_keys` entry (options, key type, base64,
    /// comment), a public key or a certificate. 1 to 16384 bytes with no control characters,
    /// so it is exactly one line. Whether it is a *valid key* is checked where it is made (the
    /// controller parses keys with `ssh-key`); this type only guarantees it stays one line.
    SshLine,
    InvalidSshLine,
    "one line of 1 to 16384 bytes without control characters",
    |s| !s.trim().is_empty() && s.len() <= 16384 && !s.chars().any(char::is_control)
);

validated_string!(
    /// A certificate principal (a user or host name an SSH certificate is valid for): 1 to 255
    /// characters without whitespace, commas or control characters (sshd's principal lists
    /// are comma and whitespace separated).
    Principal,
    InvalidPrincipal,
    "1 to 255 characters without whitespace, ',' or control characters",
    |s| {
        !s.is_empty()
            && s.len() <= 255
            && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',')
    }
);

validated_string!(
    /// The name of a secret in the controller's store: 1 to 64 characters of `[a-z0-9._-]`,
    /// starting with a letter or digit.
    SecretName,
    InvalidSecretName,
    "1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
    |s| {
        !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            })
    }
);

/// A secret's value on the wire and in memory: its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    pub fn new(bytes: impl Into<Vec<u8>>) -> SecretValue {
        SecretValue(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, when it is UTF-8 (passwords, tokens, PEM and OpenSSH keys are).
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue(<{} bytes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_paths_options_and_second_lines_out() {
        for good in ["root", "_apt", "ops-2", "backup.user"] {
            assert!(UnixUser::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Root",
            "../etc",
            "a/b",
            "-x",
            "1abc",
            "a b",
            "a\n",
            &"a".repeat(33),
        ] {
            assert!(UnixUser::new(bad).is_err(), "{bad:?}");
        }
        assert!(SshLine::new("from=\"10.0.0.0/8\" ssh-ed25519 AAAA c").is_ok());
        for bad in ["", "   ", "ssh-ed25519 AAAA\nssh-rsa BBBB", "a\rb", "a\0b"] {
            assert!(SshLine::new(bad).is_err(), "{bad:?}");
        }
        assert!(Principal::new("root").is_ok());
        for bad in ["", "a,b", "a b", "a\tb"] {
            assert!(Principal::new(bad).is_err(), "{bad:?}");
        }
        assert!(SecretName::new("pg.monitor_1").is_ok());
        for bad in ["", ".hidden", "a/b", "A", &"a".repeat(65)] {
            assert!(SecretName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn invalid_names_do_not_decode() {
        let bytes = postcard::to_allocvec(&"../../etc/passwd".to_owned()).unwrap();
        assert!(postcard::from_bytes::<UnixUser>(&bytes).is_err());
        let bytes = postcard::to_allocvec(&"a\nb".to_owned()).unwrap();
        assert!(postcard::from_bytes::<SshLine>(&bytes).is_err());
    }

    #[test]
    fn secret_values_are_redacted_in_debug() {
        let value = SecretValue::new("hunter2");
        assert_eq!(format!("{value:?}"), "SecretValue(<7 bytes redacted>)");
    }
}
