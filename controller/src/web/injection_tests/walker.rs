//! Finds every place in a serializable value where an agent could put text of its choosing, so
//! the injection test covers new fields without being told about them.
//!
//! The value is serialized to JSON and walked: every string leaf, every `null` (an absent
//! `Option<String>`) and every unit-variant string (an enum that also has an `Other(String)` or
//! `Other { action }` variant) is a candidate. A candidate is kept when the
//! value with a probe text in that place still deserializes *and* serializes back to the same
//! JSON, so a field that the type would silently drop or rename does not count as covered.
//!
//! Map keys are not candidates: no model type the pages show has a map (labels are pairs). A
//! map added later needs its keys covered here.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// One step from the root to a leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Field(String),
    Index(usize),
}

/// How agent text fits in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A plain string (also an absent `Option<String>` made present).
    Text,
    /// `{"<variant>": text}`: a newtype variant such as `VdevState::Other(String)`.
    Newtype(&'static str),
    /// `{"<variant>": {"<field>": text}}`: a struct variant such as
    /// `ContainerEventKind::Other { action }`.
    Struct(&'static str, &'static str),
}

/// A place agent text can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub path: Vec<Step>,
    pub shape: Shape,
}

impl Slot {
    /// `storage.zfs.pools[0].status.root.state`, for failure messages.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        for step in &self.path {
            match step {
                Step::Field(name) if text.is_empty() => text.push_str(name),
                Step::Field(name) => {
                    text.push('.');
                    text.push_str(name);
                }
                Step::Index(index) => text.push_str(&format!("[{index}]")),
            }
        }
        match self.shape {
            Shape::Text => text,
            Shape::Newtype(variant) => format!("{text} ({variant})"),
            Shape::Struct(variant, field) => format!("{text} ({variant}.{field})"),
        }
    }
}

/// Variant names tried where a string or `null` does not take text: serde's default spelling
/// and the `snake_case` one the model uses.
const NEWTYPE_VARIANTS: &[&str] = &["other", "Other"];
const STRUCT_VARIANTS: &[(&str, &str)] = &[("other", "action"), ("Other", "action")];

/// Every slot of `base` that takes text, in a stable order.
///
/// Leaves whose paths differ only in array indices have the same type, so one of them is
/// probed for all (keyed also by string or `null`: the elements of a tuple share a path).
pub fn slots<T: Serialize + DeserializeOwned>(base: &T) -> Vec<Slot> {
    let root = serde_json::to_value(base).unwrap();
    assert!(round_trips::<T>(&root), "the base value round-trips");
    let mut leaves = Vec::new();
    collect(&root, &mut Vec::new(), &mut leaves);
    let shapes: Vec<Shape> = std::iter::once(Shape::Text)
        .chain(NEWTYPE_VARIANTS.iter().map(|v| Shape::Newtype(v)))
        .chain(STRUCT_VARIANTS.iter().map(|(v, f)| Shape::Struct(v, f)))
        .collect();
    let mut known: HashMap<(Vec<Option<String>>, bool), Option<Shape>> = HashMap::new();
    let mut found = Vec::new();
    for (path, is_null) in leaves {
        let erased = path
            .iter()
            .map(|step| match step {
                Step::Field(name) => Some(name.clone()),
                Step::Index(_) => None,
            })
            .collect();
        let shape = *known.entry((erased, is_null)).or_insert_with(|| {
            shapes.iter().copied().find(|&shape| {
                let mut probe = root.clone();
                apply(
                    &mut probe,
                    &Slot {
                        path: path.clone(),
                        shape,
                    },
                    "<probe>",
                );
                round_trips::<T>(&probe)
            })
        });
        if let Some(shape) = shape {
            found.push(Slot { path, shape });
        }
    }
    let mut probe = root;
    for slot in &found {
        apply(&mut probe, slot, "<probe>");
    }
    assert!(
        round_trips::<T>(&probe),
        "every slot filled at once round-trips"
    );
    found
}

/// `base` with `texts[i]` in `slots[i]`. Panics when the result is not a valid `T`.
pub fn fill<T: Serialize + DeserializeOwned>(base: &T, slots: &[Slot], texts: &[String]) -> T {
    let mut value = serde_json::to_value(base).unwrap();
    for (slot, text) in slots.iter().zip(texts) {
        apply(&mut value, slot, text);
    }
    serde_json::from_value(value).unwrap()
}

fn round_trips<T: Serialize + DeserializeOwned>(value: &Value) -> bool {
    serde_json::from_value::<T>(value.clone())
        .ok()
        .and_then(|back| serde_json::to_value(back).ok())
        .is_some_and(|back| back == *value)
}

/// Paths of the string and `null` leaves, with whether it is `null`.
fn collect(value: &Value, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, bool)>) {
    match value {
        Value::String(_) => out.push((path.clone(), false)),
        Value::Null => out.push((path.clone(), true)),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(Step::Index(index));
                collect(item, path, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(Step::Field(key.clone()));
                collect(item, path, out);
                path.pop();
            }
        }
        Value::Bool(_) | Value::Number(_) => {}
    }
}

fn apply(root: &mut Value, slot: &Slot, text: &str) {
    let mut target = root;
    for step in &slot.path {
        target = match step {
            Step::Field(name) => &mut target[name.as_str()],
            Step::Index(index) => &mut target[*index],
        };
    }
    *target = match slot.shape {
        Shape::Text => json!(text),
        Shape::Newtype(variant) => json!({ variant: text }),
        Shape::Struct(variant, field) => json!({ variant: { field: text } }),
    };
}
