//! SMART collector: `smartctl` output (classic text via nom, or `-j` JSON) to a
//! [`SmartReport`], plus a pure verdict and smartctl's exit status decoded.
//!
//! `parse_text`, `parse_json` (with what both share: `text_fields`, `decode`), `verdict` and
//! `exit_status` are pure; only `run` executes smartctl (through [`crate::exec`]).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod decode;
pub mod exit_status;
pub mod parse_json;
pub mod parse_text;
pub mod run;
pub mod samples;
pub mod text_fields;
pub mod verdict;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_twins;

pub use exit_status::decode as decode_exit_status;
pub use parse_json::parse as parse_json;
pub use parse_text::parse as parse_text;
pub use run::{collect, SmartConfig};
pub use verdict::{verdict, SmartThresholds};

use unity_shared::model::storage::{ParseError, ParseWarning, SmartReport};

/// A parsed report and what the parser could not understand.
pub type Parsed = Result<(SmartReport, Vec<ParseWarning>), ParseError>;

/// Parses smartctl output of either kind: JSON when the input starts with `{`, text otherwise.
pub fn parse(input: &str) -> Parsed {
    if input.trim_start().starts_with('{') {
        parse_json(input)
    } else {
        parse_text(input)
    }
}
