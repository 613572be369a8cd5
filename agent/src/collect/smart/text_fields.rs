//! nom grammars for the pieces of smartctl text output: `Key: value` lines, numbers with locale
//! thousands separators, attribute rows, attribute raw values and self-test log rows.
//!
//! [`parse_raw_value`] and [`self_test_passed`] are shared with the JSON parser, so that text
//! and JSON of the same drive are read the same way.

use crate::collect::text::token_spans;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_till1, take_while, take_while1};
use nom::character::complete::{char, digit1, space0, space1};
use nom::combinator::{map, map_res, opt, rest};
use nom::{IResult, Parser};

use unity_shared::model::storage::{
    AtaAttribute, AttributeFlags, RawForm, RawValue, SelfTestEntry, WhenFailed,
};

/// `Key:   value` (the key may contain spaces, not colons).
pub(crate) fn key_value(line: &str) -> IResult<&str, (&str, &str)> {
    let (input, _) = space0(line)?;
    let (input, key) = take_till1(|c| c == ':').parse(input)?;
    let (input, _) = char(':').parse(input)?;
    let (input, value) = rest(input)?;
    Ok((input, (key.trim_end(), value)))
}

pub(crate) fn is_group_separator(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | '\'' | '’' | '\u{a0}' | '\u{202f}' | '\u{fffd}'
    )
}

/// A leading integer that may contain locale thousands separators: `1,356`, `1.356`, `6’433`.
pub(crate) fn grouped_u64(input: &str) -> IResult<&str, u64> {
    let (remaining, _) = digit1(input)?;
    let (remaining, _) =
        take_while(|c: char| c.is_ascii_digit() || is_group_separator(c)).parse(remaining)?;
    let consumed = input.len().saturating_sub(remaining.len());
    let digits: String = input
        .get(..consumed)
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    match digits.parse::<u64>() {
        Ok(n) => Ok((remaining, n)),
        Err(_) => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

/// The leading (possibly grouped) integer of `value`, e.g. `45` from `45 Celsius`.
pub(crate) fn leading_u64(value: &str) -> Result<u64, ()> {
    grouped_u64(value.trim_start())
        .map(|(_, n)| n)
        .map_err(|_| ())
}

pub(crate) fn leading_i64(value: &str) -> Option<i64> {
    let value = value.trim_start();
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let magnitude = i64::try_from(leading_u64(digits).ok()?).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// `0x0d` as a byte.
pub(crate) fn hex_u8(value: &str) -> Option<u8> {
    let hex = value.trim().strip_prefix("0x")?;
    let hex: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
    u8::from_str_radix(&hex, 16).ok()
}

/// `1,000,204,886,016 bytes [1.00 TB]`, `7 681 501 126 656 bytes [7,68 TB]`,
/// `250,059,350,016 [250 GB]`: every digit before `bytes` or `[`.
pub(crate) fn capacity(value: &str) -> Option<u64> {
    let end = value
        .find("bytes")
        .or_else(|| value.find('['))
        .unwrap_or(value.len());
    let digits: String = value
        .get(..end)
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `5 000c50 0b335fb73` to `0x5000c500b335fb73`; `None` when masked (`XXXXXXXX`, `5 000cca ...`).
pub(crate) fn wwn_from_text(value: &str) -> Option<String> {
    let hex: String = value.split_whitespace().collect();
    (hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("0x{}", hex.to_ascii_lowercase()))
}

/// `0x5000cca25c244870` (SCSI logical unit id), lower-cased.
pub(crate) fn hex_id(value: &str) -> Option<String> {
    let hex = value.trim().strip_prefix("0x")?;
    (!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("0x{}", hex.to_ascii_lowercase()))
}

/// smartctl prints gigabytes processed with three decimals (`386.568`, `10311,154`); reading all
/// digits gives thousandths of a gigabyte, i.e. megabytes.
pub(crate) fn gigabytes_to_bytes(value: &str) -> Option<u64> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let megabytes: u64 = digits.parse().ok()?;
    megabytes.checked_mul(1_000_000)
}

pub(crate) fn normalized(input: &str) -> IResult<&str, Option<u16>> {
    alt((
        map(map_res(digit1, str::parse::<u16>), Some),
        map(tag("---"), |_| None),
    ))
    .parse(input)
}

pub(crate) fn word(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| !c.is_whitespace()).parse(input)
}

/// One attribute row, brief (`PO--CK ... NOW 4095`) or classic (`0x0033 ... Pre-fail Always
/// FAILING_NOW 4095`).
pub(crate) fn attribute_row(line: &str) -> IResult<&str, AtaAttribute> {
    let (input, _) = space0(line)?;
    let (input, id) = map_res(digit1, str::parse::<u8>).parse(input)?;
    let (input, _) = space1(input)?;
    let (input, name) = word(input)?;
    let (input, _) = space1(input)?;
    let (input, flags_text) = word(input)?;
    let (input, _) = space1(input)?;
    let (input, value) = normalized(input)?;
    let (input, _) = space1(input)?;
    let (input, worst) = normalized(input)?;
    let (input, _) = space1(input)?;
    let (input, thresh) = normalized(input)?;
    let (input, _) = space1(input)?;
    let classic = flags_text.starts_with("0x");
    let (input, when_failed_text) = if classic {
        let (input, _type) = word(input)?;
        let (input, _) = space1(input)?;
        let (input, _updated) = word(input)?;
        let (input, _) = space1(input)?;
        word(input)?
    } else {
        word(input)?
    };
    let (input, _) = space0(input)?;
    let (input, raw_text) = rest(input)?;
    let flags = if classic {
        let value = u16::from_str_radix(flags_text.trim_start_matches("0x"), 16).ok();
        flags_from_word(value.unwrap_or(0), value)
    } else {
        flags_from_letters(flags_text)
    };
    let when_failed = match when_failed_text {
        "NOW" | "FAILING_NOW" => WhenFailed::Now,
        "Past" | "In_the_past" => WhenFailed::InThePast,
        _ => WhenFailed::Never,
    };
    let attribute = AtaAttribute {
        id,
        name: name.to_owned(),
        flags,
        value,
        worst,
        thresh,
        when_failed,
        raw: parse_raw_value(raw_text.trim()),
    };
    Ok((input, attribute))
}

/// Attribute flags from the 16-bit flag word.
pub(crate) fn flags_from_word(bits: u16, value: Option<u16>) -> AttributeFlags {
    AttributeFlags {
        value,
        prefailure: bits & 0x01 != 0,
        updated_online: bits & 0x02 != 0,
        performance: bits & 0x04 != 0,
        error_rate: bits & 0x08 != 0,
        event_count: bits & 0x10 != 0,
        auto_keep: bits & 0x20 != 0,
    }
}

/// Attribute flags from the brief `POSRCK` letters (a `-` is an unset flag).
pub(crate) fn flags_from_letters(letters: &str) -> AttributeFlags {
    let mut bits = 0u16;
    for (letter, bit) in [
        ('P', 0x01),
        ('O', 0x02),
        ('S', 0x04),
        ('R', 0x08),
        ('C', 0x10),
        ('K', 0x20),
    ] {
        if letters.contains(letter) {
            bits |= bit;
        }
    }
    flags_from_word(bits, Some(bits))
}

/// Reads an attribute's raw value string (shared with the JSON parser, so both agree).
pub fn parse_raw_value(text: &str) -> RawValue {
    let numbers: Vec<u64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .filter_map(|part| part.parse().ok())
        .collect();
    let mut raw = RawValue {
        string: text.to_owned(),
        form: RawForm::Text,
        value: None,
        min: None,
        max: None,
        numbers: Vec::new(),
    };
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            raw.form = RawForm::Hex;
            raw.value = u64::from_str_radix(hex, 16).ok();
            raw.numbers = raw.value.into_iter().collect();
            return raw;
        }
    }
    raw.value = leading_plain_u64(text);
    raw.numbers = numbers;
    raw.form = if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
        RawForm::Integer
    } else if let Ok((_, (min, max))) = min_max(text) {
        raw.min = Some(min);
        raw.max = Some(max);
        RawForm::MinMax
    } else if duration_form(text).is_ok() {
        RawForm::Duration
    } else if ratio_form(text).is_ok() {
        RawForm::Ratio
    } else if text.contains('(') && raw.value.is_some() {
        RawForm::Annotated
    } else if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == ' ') {
        RawForm::Composite
    } else {
        RawForm::Text
    };
    raw
}

pub(crate) fn leading_plain_u64(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub(crate) fn signed(input: &str) -> IResult<&str, i64> {
    let (input, sign) = opt(char('-')).parse(input)?;
    let (input, magnitude) = map_res(digit1, str::parse::<i64>).parse(input)?;
    Ok((
        input,
        if sign.is_some() {
            -magnitude
        } else {
            magnitude
        },
    ))
}

/// `35 (Min/Max 20/45)`
pub(crate) fn min_max(input: &str) -> IResult<&str, (i64, i64)> {
    let (input, _) = digit1(input)?;
    let (input, _) = space1(input)?;
    let (input, _) = tag("(Min/Max ").parse(input)?;
    let (input, min) = signed(input)?;
    let (input, _) = char('/').parse(input)?;
    let (input, max) = signed(input)?;
    let (input, _) = char(')').parse(input)?;
    Ok((input, (min, max)))
}

/// `45449h+00m+00.000s`
pub(crate) fn duration_form(input: &str) -> IResult<&str, ()> {
    let (input, _) = (digit1, char('h'), opt((char('+'), digit1, char('m')))).parse(input)?;
    let (input, _) = take_while(|c: char| c == '+' || c == '.' || c == 's' || c.is_ascii_digit())
        .parse(input)?;
    if input.is_empty() {
        Ok((input, ()))
    } else {
        Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Eof,
        )))
    }
}

/// `2765/13191816`, `0/0`
pub(crate) fn ratio_form(input: &str) -> IResult<&str, ()> {
    let (input, _) = (digit1, char('/'), digit1).parse(input)?;
    if input.is_empty() {
        Ok((input, ()))
    } else {
        Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Eof,
        )))
    }
}

/// Whether a self-test status means the test passed: `Some(false)` for failures, `None` while
/// running. Shared with the JSON parser so text and JSON agree.
pub fn self_test_passed(status: &str) -> Option<bool> {
    let lower = status.to_ascii_lowercase();
    if lower.contains("in progress") {
        None
    } else if lower.contains("without error") {
        Some(true)
    } else if lower.contains("fail") || lower.contains("fatal") || lower.contains("error") {
        Some(false)
    } else {
        // `Completed` (SCSI), `Aborted by host`, `Interrupted (host reset)`: not a finding.
        Some(true)
    }
}

/// `# 1  Short offline       Completed without error       00%     15690         -` (ATA),
/// `# 1  Background short  Completed   -     302   - [-   -    -]` (SCSI),
/// ` 0   Short   Completed without error   1234   -   ...` is not handled (NVMe rows start
/// without `#`).
pub(crate) fn self_test_row(line: &str) -> Option<SelfTestEntry> {
    let body = line.strip_prefix('#')?.trim_start();
    let (_number, body) = body.split_once(char::is_whitespace)?;
    let body = body.trim();
    // SCSI rows end with `[SK ASC ASQ]`.
    let (body, scsi) = match body.rfind('[') {
        Some(at) if body.ends_with(']') => (body.get(..at)?.trim_end(), true),
        _ => (body, false),
    };
    let tokens = token_spans(body);
    let n_tokens = tokens.len();
    let (_, lba_text) = *tokens.get(n_tokens.checked_sub(1)?)?;
    let (_, lifetime_text) = *tokens.get(n_tokens.checked_sub(2)?)?;
    // ATA: remaining `00%`; SCSI: segment number or `-`.
    let (third_start, third) = *tokens.get(n_tokens.checked_sub(3)?)?;
    if !scsi && !third.ends_with('%') {
        return None;
    }
    let middle = body.get(..third_start)?.trim();
    let (test_type, status) = split_two_spaces(middle);
    Some(SelfTestEntry {
        test_type: test_type.to_owned(),
        status: status.to_owned(),
        passed: self_test_passed(status),
        lifetime_hours: leading_u64(lifetime_text).ok(),
        lba_of_first_error: lba_text.parse().ok(),
    })
}

pub(crate) fn split_two_spaces(text: &str) -> (&str, &str) {
    match text.find("  ") {
        Some(at) => (
            text.get(..at).unwrap_or("").trim(),
            text.get(at..).unwrap_or("").trim(),
        ),
        None => (text, ""),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_raw(text: &str, form: RawForm, value: Option<u64>) {
        let raw = parse_raw_value(text);
        assert_eq!((raw.form, raw.value), (form, value), "{text}: {raw:?}");
    }

    #[test]
    fn raw_integer() {
        check_raw("304", RawForm::Integer, Some(304));
    }

    #[test]
    fn raw_min_max() {
        let raw = parse_raw_value("35 (Min/Max 20/45)");
        assert_eq!(
            (raw.form, raw.value, raw.min, raw.max),
            (RawForm::MinMax, Some(35), Some(20), Some(45))
        );
    }

    #[test]
    fn raw_ratio() {
        check_raw("0/0", RawForm::Ratio, Some(0));
        check_raw("2765/13191816", RawForm::Ratio, Some(2765));
    }

    #[test]
    fn raw_hex() {
        check_raw("0x0000000a0003", RawForm::Hex, Some(0xa0003));
    }

    #[test]
    fn raw_composite_and_annotated() {
        check_raw("0 0 1", RawForm::Composite, Some(0));
        check_raw("26 (0 17 0 0 0)", RawForm::Annotated, Some(26));
        check_raw("494 (Average 492)", RawForm::Annotated, Some(494));
    }

    #[test]
    fn raw_duration() {
        check_raw("45449h+00m+00.000s", RawForm::Duration, Some(45449));
        check_raw("17h+23m+51.510s", RawForm::Duration, Some(17));
    }

    #[test]
    fn grouped_numbers() {
        assert_eq!(leading_u64("1.356"), Ok(1356));
        assert_eq!(leading_u64("6’433"), Ok(6433));
        assert_eq!(leading_u64("2,683"), Ok(2683));
        assert_eq!(leading_u64("45 Celsius"), Ok(45));
        assert_eq!(
            capacity("7 681 501 126 656 bytes [7,68 TB]"),
            Some(7_681_501_126_656)
        );
    }

    #[test]
    fn wwn_forms() {
        assert_eq!(
            wwn_from_text("5 000c50 0b335fb73").as_deref(),
            Some("0x5000c500b335fb73")
        );
        assert_eq!(wwn_from_text("5 000cca ..."), None);
        assert_eq!(wwn_from_text("XXXXXXXX"), None);
    }

    #[test]
    fn self_test_rows() {
        let entry = self_test_row(
            "# 8  Extended offline    Completed: read failure       50%     29788         4023059328",
        )
        .unwrap();
        assert_eq!(entry.test_type, "Extended offline");
        assert_eq!(entry.status, "Completed: read failure");
        assert_eq!(entry.passed, Some(false));
        assert_eq!(entry.lba_of_first_error, Some(4023059328));
        let entry = self_test_row(
            "# 1  Extended offline    Self-test routine in progress 30%       252         -",
        )
        .unwrap();
        assert_eq!(entry.status, "Self-test routine in progress");
        assert_eq!(entry.passed, None);
        let entry = self_test_row(
            "# 1  Background short  Completed                   -     302                 - [-   -    -]",
        )
        .unwrap();
        assert_eq!(
            (entry.test_type.as_str(), entry.status.as_str()),
            ("Background short", "Completed")
        );
        assert_eq!(entry.lifetime_hours, Some(302));
    }
}
