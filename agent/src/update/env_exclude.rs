//! Which environment variables stay on the host (pure): a backup's copy for the controller
//! leaves out the `Config.Env` entries whose name matches one of the owner's patterns
//! (`backup_env_exclude`), and lists their names in the wire `Backup::excluded_env`; the
//! agent's own backup file keeps the full environment, and a restore uses that file.
//!
//! Patterns are glob-ish and case-insensitive: `*` matches any run of characters (also none),
//! `?` exactly one; everything else matches itself. `*PASSWORD*` matches `DB_PASSWORD` and
//! `password_file`; `API_KEY` matches only `API_KEY` (and `api_key`).

use serde_json::Value;

/// The default patterns: names that usually hold secrets.
pub const DEFAULT_PATTERNS: [&str; 7] = [
    "*PASSWORD*",
    "*PASSWD*",
    "*SECRET*",
    "*TOKEN*",
    "*KEY*",
    "*CREDENTIAL*",
    "*PRIVATE*",
];

/// Whether `name` matches the glob `pattern` (ASCII case-insensitive).
pub fn matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().map(|c| c.to_ascii_uppercase()).collect();
    let name: Vec<char> = name.chars().map(|c| c.to_ascii_uppercase()).collect();
    // Iterative wildcard matching with one backtrack point (the last `*`).
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || Some(&c) == name.get(n) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&c| c == '*')
}

/// Whether the variable `name` is excluded by any of `patterns`.
pub fn excluded(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|pattern| matches(pattern, name))
}

/// Removes the excluded entries (`NAME=value`, or a bare `NAME`) from `Config.Env` of a
/// container inspect; returns their names, sorted, each once.
pub fn redact(inspect: &mut Value, patterns: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    if patterns.is_empty() {
        return names;
    }
    if let Some(Value::Array(env)) = inspect.pointer_mut("/Config/Env") {
        env.retain(|entry| {
            let Some(text) = entry.as_str() else {
                return true;
            };
            let name = text.split_once('=').map_or(text, |(name, _)| name);
            if excluded(patterns, name) {
                names.push(name.to_owned());
                false
            } else {
                true
            }
        });
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Vec<String> {
        DEFAULT_PATTERNS.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn issue_17_globs_match_case_insensitively() {
        for (pattern, name, wanted) in [
            ("*PASSWORD*", "DB_PASSWORD", true),
            ("*PASSWORD*", "password_file", true),
            ("*PASSWORD*", "PASSWORD", true),
            ("*PASSWORD*", "PASS", false),
            ("API_KEY", "api_key", true),
            ("API_KEY", "API_KEYS", false),
            ("A?C", "ABC", true),
            ("A?C", "AC", false),
            ("*_TOKEN", "GITHUB_TOKEN", true),
            ("*_TOKEN", "TOKEN_FILE", false),
            ("*", "", true),
            ("a*b*c", "aXXbYYbc", true),
            ("a*b*c", "aXXbYYbd", false),
        ] {
            assert_eq!(matches(pattern, name), wanted, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn issue_17_redact_drops_excluded_entries_and_names_them() {
        let mut inspect = json!({ "Config": { "Env": [
            "PATH=/bin", "DB_PASSWORD=hunter2", "GITHUB_TOKEN=ghp_x", "TZ=UTC", "API_KEY",
            "DB_PASSWORD=again",
        ] }, "Name": "/web" });
        let names = redact(&mut inspect, &defaults());
        assert_eq!(names, ["API_KEY", "DB_PASSWORD", "GITHUB_TOKEN"]);
        assert_eq!(inspect["Config"]["Env"], json!(["PATH=/bin", "TZ=UTC"]));
        assert!(!inspect.to_string().contains("hunter2"));
        // No patterns, or no environment: nothing changes.
        let mut untouched = json!({ "Config": { "Env": ["DB_PASSWORD=x"] } });
        assert!(redact(&mut untouched, &[]).is_empty());
        assert_eq!(untouched["Config"]["Env"][0], "DB_PASSWORD=x");
        assert!(redact(&mut json!({ "Config": {} }), &defaults()).is_empty());
    }
}
