//! The controller's layers, checked on its own source: which module may import which
//! (ARCHITECTURE.md, "Controller layers"), and that no file reaches itself through the imports
//! of others. The source is read as text: `use` trees and inline paths that start with
//! `crate::`, `super::` or `self::`, outside the inline `mod tests` and test files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each layer must not import (by the first segment after `crate::`).
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("clock", &["*"]),
    ("outbound", &["*"]),
    ("storage", &["*"]),
    ("ca", &["*"]),
    (
        "domain",
        &["api", "web", "admin", "http", "alerts", "cli", "service"],
    ),
    ("admin", &["api", "web", "http", "alerts", "cli", "service"]),
    ("api", &["web", "admin", "alerts", "cli", "service"]),
    ("web", &["api", "admin", "alerts", "cli", "service"]),
    ("http", &["api", "web", "admin", "alerts", "cli", "service"]),
    ("alerts", &["api", "web", "admin", "http", "cli", "service"]),
    (
        "transport",
        &[
            "domain", "api", "web", "admin", "http", "alerts", "cli", "service",
        ],
    ),
    (
        "acme",
        &[
            "domain", "api", "web", "admin", "http", "alerts", "cli", "service",
        ],
    ),
    (
        "agentless",
        &[
            "domain", "api", "web", "admin", "http", "alerts", "cli", "service",
        ],
    ),
    (
        "agent_updates",
        &[
            "domain", "api", "web", "admin", "http", "alerts", "cli", "service",
        ],
    ),
    (
        "updates",
        &[
            "domain", "api", "web", "admin", "http", "alerts", "cli", "service",
        ],
    ),
    (
        "remote_write",
        &["api", "web", "admin", "http", "alerts", "cli", "service"],
    ),
    (
        "backup",
        &[
            "domain", "api", "web", "admin", "http", "alerts", "cli", "service",
        ],
    ),
    (
        "service_checks",
        &[
            "domain", "api", "web", "admin", "http", "alerts", "cli", "service",
        ],
    ),
];

/// What the context may import: only the modules whose handles it holds.
const CONTEXT_MAY_IMPORT: &[&str] = &[
    "acme::account",
    "agentless::queue",
    "backup::status",
    "ca",
    "config",
    "remote_write::stats",
    "storage",
    "transport::hub",
    "transport::ingest",
    "updates::queue",
    "updates::watch::slot",
];

/// One source file: its module path and its code without the inline tests.
struct Source {
    module: Vec<String>,
    is_mod_rs: bool,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files
        .into_iter()
        .filter_map(|path| source(&root, &path))
        .collect()
}

fn source(root: &Path, path: &PathBuf) -> Option<Source> {
    let relative = path.strip_prefix(root).unwrap().with_extension("");
    let mut module: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    let is_mod_rs = module.last().is_some_and(|name| name == "mod");
    if is_mod_rs || module == ["lib"] {
        module.pop();
    }
    if module == ["main"] || module.iter().any(|name| name.ends_with("tests")) {
        return None;
    }
    let text = std::fs::read_to_string(path).unwrap();
    let code = text
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    Some(Source {
        module,
        is_mod_rs,
        code,
    })
}

/// Every path the code names from `crate`, `super` or `self`, `use` trees expanded.
fn paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(first) = ["pub use ", "pub(crate) use ", "pub(super) use ", "use "]
            .iter()
            .find_map(|start| line.strip_prefix(start))
        else {
            continue;
        };
        let mut statement = first.to_owned();
        while !statement.contains(';') {
            let Some(next) = lines.next() else { break };
            statement.push(' ');
            statement.push_str(next.trim());
        }
        let tree = statement.split(';').next().unwrap_or_default();
        let tree = tree.split_whitespace().collect::<Vec<_>>().join(" ");
        let tree = ["{ ", " }", ", ", " ,", ":: ", " ::"]
            .iter()
            .fold(tree, |tree, spaced| tree.replace(spaced, spaced.trim()));
        expand("", &tree, &mut found);
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            found.push(path.trim_end_matches(':').to_owned());
        }
    }
    found
        .into_iter()
        .filter(|path| {
            ["crate", "super", "self"]
                .iter()
                .any(|root| path == root || path.starts_with(&format!("{root}::")))
        })
        .collect()
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        out.push(format!("{prefix}{path}"));
        return;
    };
    let head = format!("{prefix}{}", &tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut depth = 0;
    let mut part_start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&head, &inner[part_start..i], out);
                part_start = i + 1;
            }
            _ => {}
        }
    }
    if part_start < inner.len() {
        expand(&head, &inner[part_start..], out);
    }
}

/// The module path a `crate`/`super`/`self` path names, from within `module`.
fn absolute(module: &[String], path: &str) -> Vec<String> {
    let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
    let mut result: Vec<String> = match segments.peek().copied() {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        _ => {
            // A file's `self` is its module; `super` is the module's parent.
            let mut here = module.to_vec();
            if segments.peek() == Some(&"self") {
                segments.next();
            }
            while segments.peek() == Some(&"super") {
                segments.next();
                here.pop();
            }
            here
        }
    };
    result.extend(segments.map(str::to_owned));
    result
}

/// The longest module path among `modules` that `path` starts with.
fn file_of(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
}

/// File -> the files it imports (a `mod.rs` naming its own children is composition, not an
/// import, and is left out).
fn imports() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let sources = sources();
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let mut graph = BTreeMap::new();
    for source in &sources {
        let mut targets = BTreeSet::new();
        for path in paths(&source.code) {
            let absolute = absolute(&source.module, &path);
            let Some(target) = file_of(&modules, &absolute) else {
                continue;
            };
            let own_child = target.len() > source.module.len()
                && target.starts_with(&source.module)
                && (source.is_mod_rs || source.module.is_empty());
            if target != source.module && !own_child {
                targets.insert(target);
            }
        }
        graph.insert(source.module.clone(), targets);
    }
    graph
}

fn name(module: &[String]) -> String {
    module.join("::")
}

#[test]
fn layers_point_one_way() {
    let graph = imports();
    assert!(graph.len() > 100, "{} files read", graph.len());
    let mut broken = Vec::new();
    for (file, targets) in &graph {
        let Some(layer) = file.first() else { continue };
        for target in targets {
            let Some(target_layer) = target.first() else {
                continue;
            };
            if target_layer == layer {
                continue;
            }
            let forbidden = FORBIDDEN
                .iter()
                .find(|(from, _)| from == layer)
                .is_some_and(|(_, not)| not.contains(&"*") || not.contains(&target_layer.as_str()));
            let context_breaks = layer == "context"
                && !CONTEXT_MAY_IMPORT.iter().any(|allowed| {
                    let allowed: Vec<&str> = allowed.split("::").collect();
                    target.len() >= allowed.len()
                        && target.iter().zip(&allowed).all(|(a, b)| a == b)
                });
            if forbidden || context_breaks {
                broken.push(format!("{} -> {}", name(file), name(target)));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports against the layers:\n{}",
        broken.join("\n")
    );
}

#[test]
fn no_file_reaches_itself_through_its_imports() {
    let graph = imports();
    let mut circles = Vec::new();
    for start in graph.keys() {
        // Depth-first from each file; a path back to `start` is a circle.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((file, trail)) = stack.pop() {
            for next in graph.get(&file).into_iter().flatten() {
                if next == start {
                    let mut names: Vec<String> = trail.iter().map(|m| name(m)).collect();
                    names.push(name(start));
                    circles.push(names.join(" -> "));
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn use_trees_and_relative_paths_are_read() {
    let code = "use super::{a, b::{c, d as e}};\nuse crate::x::y;\nfn f() { crate::z::w(); }";
    let found: BTreeSet<String> = paths(code).into_iter().collect();
    for expected in [
        "crate::x::y",
        "crate::z::w",
        "super::a",
        "super::b::c",
        "super::b::d",
    ] {
        assert!(found.contains(expected), "{expected} in {found:?}");
    }
    let module = vec!["updates".to_owned(), "watch".to_owned()];
    assert_eq!(
        absolute(&module, "super::policy::UpdateMode"),
        ["updates", "policy", "UpdateMode"]
    );
}
