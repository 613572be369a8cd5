//! The part of CBOR (RFC 8949) that WebAuthn attestation objects and COSE keys use: unsigned
//! and negative integers, byte and text strings, arrays, maps and simple values, all of
//! definite length. Pure; nesting and lengths are bounded by the input, so hostile bytes end
//! in an error, never a panic.

use super::WebauthnError;

/// A decoded CBOR item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer (major types 0 and 1).
    Int(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    /// `false`, `true`, `null`, `undefined`.
    Simple(u8),
}

impl Value {
    /// The value under the integer key `key` of a map.
    pub fn get_int(&self, key: i128) -> Option<&Value> {
        self.entries()?
            .iter()
            .find(|(name, _)| *name == Value::Int(key))
            .map(|(_, value)| value)
    }

    /// The value under the text key `key` of a map.
    pub fn get_text(&self, key: &str) -> Option<&Value> {
        self.entries()?
            .iter()
            .find(|(name, _)| matches!(name, Value::Text(text) if text == key))
            .map(|(_, value)| value)
    }

    fn entries(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }
}

const MAX_DEPTH: usize = 16;

fn bad(message: &str) -> WebauthnError {
    WebauthnError::Malformed(format!("CBOR: {message}"))
}

/// Decodes one item from the start of `bytes`; returns it and the bytes after it.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, &[u8]), WebauthnError> {
    let mut reader = Reader { bytes, at: 0 };
    let value = reader.item(0)?;
    Ok((value, &bytes[reader.at..]))
}

/// Decodes exactly one item filling all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, WebauthnError> {
    match decode_prefix(bytes)? {
        (value, []) => Ok(value),
        _ => Err(bad("bytes after the item")),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WebauthnError> {
        let end = self.at.checked_add(n).ok_or_else(|| bad("length"))?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| bad("cut short"))?;
        self.at = end;
        Ok(slice)
    }

    fn argument(&mut self, info: u8) -> Result<u64, WebauthnError> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(bad("indefinite or reserved length")),
        };
        Ok(self
            .take(width)?
            .iter()
            .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte)))
    }

    fn length(&mut self, info: u8) -> Result<usize, WebauthnError> {
        let length = usize::try_from(self.argument(info)?).map_err(|_| bad("length"))?;
        // Every element takes at least one byte: a longer claim cannot be true.
        if length > self.bytes.len() - self.at {
            return Err(bad("cut short"));
        }
        Ok(length)
    }

    fn item(&mut self, depth: usize) -> Result<Value, WebauthnError> {
        if depth > MAX_DEPTH {
            return Err(bad("nested too deep"));
        }
        let head = *self.take(1)?.first().ok_or_else(|| bad("cut short"))?;
        let (major, info) = (head >> 5, head & 0x1f);
        Ok(match major {
            0 => Value::Int(i128::from(self.argument(info)?)),
            1 => Value::Int(-1 - i128::from(self.argument(info)?)),
            2 => {
                let length = self.length(info)?;
                Value::Bytes(self.take(length)?.to_vec())
            }
            3 => {
                let length = self.length(info)?;
                let text = std::str::from_utf8(self.take(length)?).map_err(|_| bad("text"))?;
                Value::Text(text.to_owned())
            }
            4 => {
                let length = self.length(info)?;
                let mut items = Vec::with_capacity(length);
                for _ in 0..length {
                    items.push(self.item(depth + 1)?);
                }
                Value::Array(items)
            }
            5 => {
                let length = self.length(info)?;
                let mut entries = Vec::with_capacity(length);
                for _ in 0..length {
                    let key = self.item(depth + 1)?;
                    let value = self.item(depth + 1)?;
                    entries.push((key, value));
                }
                Value::Map(entries)
            }
            7 if info < 24 => Value::Simple(info),
            _ => return Err(bad("unsupported item (tag or float)")),
        })
    }
}
