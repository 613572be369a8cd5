//! Small helpers for parsing tools' column-aligned text output. Pure.

/// Whitespace-separated tokens with their byte offsets, so a parser can tell which column a
/// token sits under.
pub fn token_spans(text: &str) -> Vec<(usize, &str)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(begin)) => {
                spans.push((begin, text.get(begin..at).unwrap_or("")));
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    if let Some(begin) = start {
        spans.push((begin, text.get(begin..).unwrap_or("")));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_keep_offsets() {
        assert_eq!(
            token_spans("  ab  c\td "),
            vec![(2, "ab"), (6, "c"), (8, "d")]
        );
        assert!(token_spans("   ").is_empty());
    }
}
