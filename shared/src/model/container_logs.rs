//! A container's newest log lines, asked for on demand (issue 19 §4): the controller asks the
//! container's agent ([`ReadContainerLogs`]) when an administrator opens them on the container
//! page, and shows the answer ([`ContainerLogs`]) without storing it. The agent reads them from
//! the engine (Docker or Podman) with the engine's timestamps, so a page that follows the log
//! asks again for the lines after the newest one it has.
//!
//! Both sides bound the answer: at most [`MAX_LOG_LINES`] lines and [`MAX_LOG_BYTES`] of text.
//! A line's text is whatever the container wrote, made valid UTF-8 by the agent (invalid bytes
//! become U+FFFD); it may hold HTML, terminal escapes and other control characters, which the
//! controller shows escaped.
//!
//! postcard encodes by position: append fields at the end of a struct and variants at the end
//! of an enum, never reorder (see [`crate::proto`]).

use serde::{Deserialize, Serialize};

/// The most lines one answer carries.
pub const MAX_LOG_LINES: u32 = 1000;

/// The most bytes of line text one answer carries (the newest are kept).
pub const MAX_LOG_BYTES: u32 = 256 * 1024;

/// Controller -> agent: the newest lines of a container's log. Answered with
/// [`ContainerLogs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadContainerLogs {
    /// The container's name (or id) as the inventory reports it.
    pub container: String,
    /// How many of the newest lines (the agent caps it at [`MAX_LOG_LINES`]).
    pub lines: u32,
    /// Only lines stamped after this instant (nanoseconds since the Unix epoch): following a
    /// log asks for what came after the newest line shown. `None`: the newest `lines`.
    pub after_ns: Option<i64>,
}

/// Which of the container's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogStream {
    Stdout,
    Stderr,
    /// A container with a terminal (`tty: true`): both streams in one.
    Console,
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLogLine {
    /// When the engine recorded it, in nanoseconds since the Unix epoch (`None` when the
    /// engine's stamp could not be read).
    pub at_ns: Option<i64>,
    pub stream: LogStream,
    /// The line without its line ending, as the container wrote it (invalid UTF-8 replaced).
    pub text: String,
}

/// Agent -> controller: the lines asked for, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLogs {
    pub lines: Vec<ContainerLogLine>,
    /// Older lines or bytes were left out to stay within [`MAX_LOG_LINES`] and
    /// [`MAX_LOG_BYTES`] (or a line was cut at its end).
    pub truncated: bool,
}

impl ContainerLogs {
    /// Keeps the newest lines within the bounds: at most `max_lines`, and at most `max_bytes`
    /// of text (a single longer line is cut to its first `max_bytes`, at a character boundary).
    pub fn bounded(mut self, max_lines: usize, max_bytes: usize) -> ContainerLogs {
        if self.lines.len() > max_lines {
            let cut = self.lines.len() - max_lines;
            self.lines.drain(..cut);
            self.truncated = true;
        }
        let mut total = 0usize;
        let mut keep_from = self.lines.len();
        for (index, line) in self.lines.iter().enumerate().rev() {
            if total + line.text.len() > max_bytes {
                break;
            }
            total += line.text.len();
            keep_from = index;
        }
        if keep_from > 0 {
            self.truncated = true;
            if keep_from == self.lines.len() {
                // Not even the newest line fits: keep its beginning.
                if let Some(mut last) = self.lines.pop() {
                    let mut end = max_bytes.min(last.text.len());
                    while !last.text.is_char_boundary(end) {
                        end -= 1;
                    }
                    last.text.truncate(end);
                    self.lines.clear();
                    self.lines.push(last);
                }
                return self;
            }
            self.lines.drain(..keep_from);
        }
        self
    }

    /// The bytes of text carried.
    pub fn text_bytes(&self) -> usize {
        self.lines.iter().map(|line| line.text.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> ContainerLogLine {
        ContainerLogLine {
            at_ns: Some(1),
            stream: LogStream::Stdout,
            text: text.into(),
        }
    }

    fn logs(texts: &[&str]) -> ContainerLogs {
        ContainerLogs {
            lines: texts.iter().map(|text| line(text)).collect(),
            truncated: false,
        }
    }

    #[track_caller]
    fn check(texts: &[&str], max_lines: usize, max_bytes: usize, expect: &[&str], cut: bool) {
        let bounded = logs(texts).bounded(max_lines, max_bytes);
        let kept: Vec<&str> = bounded
            .lines
            .iter()
            .map(|line| line.text.as_str())
            .collect();
        assert_eq!(kept, expect);
        assert_eq!(bounded.truncated, cut);
        assert!(bounded.lines.len() <= max_lines && bounded.text_bytes() <= max_bytes);
    }

    #[test]
    fn within_bounds_nothing_changes() {
        check(&["a", "bb"], 2, 3, &["a", "bb"], false);
    }

    #[test]
    fn too_many_lines_keep_the_newest() {
        check(&["a", "b", "c"], 2, 100, &["b", "c"], true);
    }

    #[test]
    fn too_many_bytes_keep_the_newest_lines_that_fit() {
        check(&["aaaa", "bb", "cc"], 10, 5, &["bb", "cc"], true);
    }

    #[test]
    fn one_huge_line_is_cut_at_a_character_boundary() {
        check(&["x", "ééé"], 10, 3, &["é"], true);
        check(&["abcdef"], 10, 4, &["abcd"], true);
    }
}
