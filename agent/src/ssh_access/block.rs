//! The managed block of an `authorized_keys` file, over bytes (pure): find the lines between
//! `# BEGIN UNITY MANAGED KEYS` and `# END UNITY MANAGED KEYS`, and put a new block in (or take
//! it out) while every byte outside it stays as it was: CRLF lines, comments, option lines, a
//! missing final newline. A file with two blocks, an unterminated block or an end marker
//! without a beginning is an error, never a guess.

use sha2::{Digest as _, Sha256};

/// The line that opens the managed block.
pub const BEGIN: &str = "# BEGIN UNITY MANAGED KEYS";
/// The line that closes the managed block.
pub const END: &str = "# END UNITY MANAGED KEYS";

/// Why a file's managed block cannot be found safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("line {line}: a second '{BEGIN}' (only one managed block may exist)")]
    TwoBlocks { line: usize },
    #[error("line {line}: '{BEGIN}' is never closed by '{END}'")]
    Unterminated { line: usize },
    #[error("line {line}: '{END}' without a '{BEGIN}' before it")]
    EndWithoutBegin { line: usize },
}

/// A file split around its managed block: `before` and `after` are kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    pub before: &'a [u8],
    /// The block's lines (markers excluded, line endings removed); `None`: no block.
    pub block: Option<Vec<String>>,
    pub after: &'a [u8],
}

/// The text of a line without its ending (`\n` or `\r\n`) or trailing blanks.
fn content(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &line[..end]
}

/// Splits `file` around its managed block.
pub fn split(file: &[u8]) -> Result<Split<'_>, BlockError> {
    let mut begin: Option<(usize, usize, usize)> = None; // (line number, start, end of marker line)
    let mut found: Option<(usize, usize, usize, usize)> = None; // block start, content, end start, end
    let mut offset = 0;
    let mut number = 0;
    for line in file.split_inclusive(|&byte| byte == b'\n') {
        number += 1;
        let start = offset;
        offset += line.len();
        let text = content(line);
        if text == BEGIN.as_bytes() {
            if begin.is_some() || found.is_some() {
                return Err(BlockError::TwoBlocks { line: number });
            }
            begin = Some((number, start, offset));
        } else if text == END.as_bytes() {
            let Some((_, block_start, content_start)) = begin.take() else {
                return Err(BlockError::EndWithoutBegin { line: number });
            };
            found = Some((block_start, content_start, start, offset));
        }
    }
    if let Some((line, _, _)) = begin {
        return Err(BlockError::Unterminated { line });
    }
    Ok(match found {
        None => Split {
            before: file,
            block: None,
            after: &[],
        },
        Some((block_start, content_start, end_start, end)) => Split {
            before: &file[..block_start],
            block: Some(lines(&file[content_start..end_start])),
            after: &file[end..],
        },
    })
}

/// The non-blank lines of a block's content, endings removed.
fn lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&byte| byte == b'\n')
        .map(content)
        .filter(|line| !line.is_empty())
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect()
}

/// The file with its block replaced by `lines` (`None`: the block removed). A new block is
/// appended at the end; a last line without a newline gets one so the block starts on a line
/// of its own.
pub fn render(split: &Split<'_>, lines: Option<&[String]>) -> Vec<u8> {
    let mut out = split.before.to_vec();
    if let Some(lines) = lines {
        if split.block.is_none() && !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(&block_bytes(lines));
    }
    out.extend_from_slice(split.after);
    out
}

/// A block as written: the markers around one line per key, `\n` endings.
pub fn block_bytes(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(BEGIN.as_bytes());
    out.push(b'\n');
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(END.as_bytes());
    out.push(b'\n');
    out
}

/// A fingerprint of a block's lines that ignores their order (what the agent remembers of the
/// block it wrote, to tell its own block from a hand edit).
pub fn fingerprint(lines: &[String]) -> String {
    let mut sorted: Vec<&str> = lines.iter().map(|line| line.trim()).collect();
    sorted.sort_unstable();
    let mut hasher = Sha256::new();
    for line in sorted {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// Whether two blocks hold the same lines, in any order.
pub fn same_lines(a: &[String], b: &[String]) -> bool {
    fingerprint(a) == fingerprint(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|line| (*line).to_owned()).collect()
    }

    #[test]
    fn issue_16_an_empty_file_gets_a_block_and_loses_it_again() {
        let split = split(b"").unwrap();
        assert_eq!(split.block, None);
        let written = render(&split, Some(&keys(&["ssh-ed25519 AAAA a@b"])));
        assert_eq!(
            written,
            b"# BEGIN UNITY MANAGED KEYS\nssh-ed25519 AAAA a@b\n# END UNITY MANAGED KEYS\n"
        );
        let again = super::split(&written).unwrap();
        assert_eq!(again.block, Some(keys(&["ssh-ed25519 AAAA a@b"])));
        assert_eq!(render(&again, None), b"");
    }

    #[test]
    fn issue_16_odd_but_valid_lines_outside_the_block_stay_byte_for_byte() {
        let before: &[u8] = b"# my keys\r\nfrom=\"10.0.0.0/8\",no-pty ssh-rsa AAAAB3 old@box\r\n\r\n   \ncommand=\"/bin/true\" ssh-ed25519 AAAAC3 x";
        let split1 = split(before).unwrap();
        assert_eq!(split1.block, None);
        let written = render(&split1, Some(&keys(&["ssh-ed25519 K1 one"])));
        // The last line had no newline: it gets one, nothing else changes.
        assert!(written.starts_with(before));
        assert_eq!(written[before.len()], b'\n');
        let after_edit = [&written[..], b"# trailing comment\r\nssh-ed25519 Z z"].concat();
        let split2 = split(&after_edit).unwrap();
        assert_eq!(split2.block, Some(keys(&["ssh-ed25519 K1 one"])));
        let rewritten = render(
            &split2,
            Some(&keys(&["ssh-ed25519 K2 two", "ssh-ed25519 K3"])),
        );
        let split3 = split(&rewritten).unwrap();
        assert_eq!(split3.before, split2.before);
        assert_eq!(split3.after, b"# trailing comment\r\nssh-ed25519 Z z");
        assert_eq!(
            split3.block,
            Some(keys(&["ssh-ed25519 K2 two", "ssh-ed25519 K3"]))
        );
        let removed = render(&split3, None);
        assert_eq!(
            removed,
            [before, b"\n# trailing comment\r\nssh-ed25519 Z z"].concat()
        );
    }

    #[test]
    fn issue_16_a_crlf_block_and_blank_lines_inside_are_read() {
        let file = b"a\r\n# BEGIN UNITY MANAGED KEYS\r\nssh-ed25519 K1 c\r\n\r\n# END UNITY MANAGED KEYS\r\nb\r\n";
        let split = split(file).unwrap();
        assert_eq!(split.before, b"a\r\n");
        assert_eq!(split.after, b"b\r\n");
        assert_eq!(split.block, Some(keys(&["ssh-ed25519 K1 c"])));
    }

    #[test]
    fn issue_16_two_blocks_or_an_unterminated_block_are_errors() {
        let two = format!("{BEGIN}\nk\n{END}\n{BEGIN}\nk\n{END}\n");
        assert_eq!(
            split(two.as_bytes()),
            Err(BlockError::TwoBlocks { line: 4 })
        );
        let nested = format!("{BEGIN}\n{BEGIN}\n{END}\n");
        assert_eq!(
            split(nested.as_bytes()),
            Err(BlockError::TwoBlocks { line: 2 })
        );
        let open = format!("x\n{BEGIN}\nk\n");
        assert_eq!(
            split(open.as_bytes()),
            Err(BlockError::Unterminated { line: 2 })
        );
        let stray = format!("x\n{END}\n");
        assert_eq!(
            split(stray.as_bytes()),
            Err(BlockError::EndWithoutBegin { line: 2 })
        );
        let message = split(open.as_bytes()).unwrap_err().to_string();
        assert!(message.contains("never closed"), "{message}");
    }

    #[test]
    fn issue_16_fingerprints_ignore_order_but_not_content() {
        let a = keys(&["k1", "k2"]);
        assert!(same_lines(&a, &keys(&["k2", "k1"])));
        assert!(!same_lines(&a, &keys(&["k1", "k2", "k3"])));
        assert!(!same_lines(&a, &keys(&["k1"])));
    }
}
