//! Enums that records store, and the API shows, as words. Each one (de)serializes as the
//! `String` it replaced: postcard writes a length and the bytes, JSON a string. So a record
//! written while the field was a `String` decodes as the enum, encodes to the same bytes, and
//! the API's JSON keeps its values (`"action": "update"`). A word the enum does not know fails
//! to decode as a corrupt record instead of being carried along as text.
//!
//! `words!` declares such an enum with its words; the golden bytes in `golden_tests.rs` pin
//! the encoding.

/// A stored or given word that names no variant of its enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?}")]
pub struct UnknownWord {
    /// What the word should have named, e.g. `operation kind`.
    pub what: &'static str,
    pub word: String,
}

/// Declares an enum of unit variants, each with the one word that stands for it in records,
/// the API and the pages: `as_str`, `parse`, `Display`, and serde as that word.
macro_rules! words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$variant_meta:meta])* $variant:ident => $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(into = "String", try_from = "String")]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word that stands for it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            /// The variant `text` names, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::storage::words::UnknownWord;
            fn try_from(word: String) -> Result<$name, Self::Error> {
                $name::parse(&word).ok_or($crate::storage::words::UnknownWord { what: $what, word })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use words;
