//! A container's log line made fit to show (pure): terminal escape sequences (colours, cursor
//! moves, window titles) removed, every other control character shown as its visible symbol
//! (`␀`…`␟`, `␡`), C1 controls and bidirectional overrides (which could reorder what a reader
//! sees) replaced by U+FFFD. What remains is plain text; maud escapes it like any other.

/// The text of one log line as the page shows it.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\t' => out.push(c),
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// Skips the rest of an escape sequence after ESC: CSI (`ESC [` parameters, final byte),
/// OSC (`ESC ]` up to BEL or `ESC \`), or a two-character escape.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                    chars.next();
                    break;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: &str) {
        assert_eq!(clean(text), expect);
    }

    #[test]
    fn plain_text_and_tabs_stay() {
        check("GET /index.html 200\tok", "GET /index.html 200\tok");
        check(
            "<script>alert(1)</script> & ü",
            "<script>alert(1)</script> & ü",
        );
    }

    #[test]
    fn colours_and_cursor_moves_go() {
        check("\u{1b}[31;1mred\u{1b}[0m plain", "red plain");
        check("\u{1b}[2K\u{1b}[1Gline", "line");
        check("a\u{1b}[", "a");
    }

    #[test]
    fn window_titles_and_links_go() {
        check("\u{1b}]0;pwned\u{7}after", "after");
        check("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link");
    }

    #[test]
    fn other_controls_become_visible_symbols() {
        check("a\rb\u{0}c\u{7}d\u{7f}", "a␍b␀c␇d␡");
        check("x\u{85}y\u{9b}z", "x\u{fffd}y\u{fffd}z");
    }

    #[test]
    fn bidirectional_overrides_cannot_reorder_the_line() {
        check("abc\u{202e}fed\u{2066}", "abc\u{fffd}fed\u{fffd}");
    }
}
