//! Repository rules, checked as tests so that breaking one fails CI loudly:
//! - every Rust file starts with a `//!` comment that says what it is;
//! - a module with children is `name/mod.rs`, never `name.rs` beside a `name/` folder, and no
//!   `#[path]` attribute points anywhere else;
//! - the modules named pure in [`PURE`] (parsers, verdicts, samples, rules, policies, framing,
//!   the wire model) do no I/O: no file system, sockets, processes, environment, runtime,
//!   database, clock reads or logging outside their tests (addresses as values are fine).
//!
//! The crate boundaries (shared without a runtime, the controller without the agent, the
//! testbed as a dev-dependency only) are checked in `.ci/run` with `cargo tree` and `cargo
//! metadata`; "only `agent::exec` spawns processes" and "only `controller::storage` touches
//! sled" are clippy's `disallowed-methods` and `disallowed-types` (`clippy.toml`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};

/// The crates whose sources the rules cover.
const CRATES: &[&str] = &[
    "agent",
    "controller",
    "shared",
    "quickstart",
    "testbed",
    "tests",
];

/// Modules that must stay pure: bytes and structs in, values out. `*` matches within one path
/// segment, `**` any number of segments.
const PURE: &[&str] = &[
    "agent/src/acme_challenge/request.rs",
    "agent/src/backoff.rs",
    "agent/src/self_update/decide.rs",
    "agent/src/certs/policy.rs",
    "agent/src/sshd/render.rs",
    "agent/src/sshd/revoked.rs",
    "agent/src/collect/series.rs",
    "agent/src/collect/text.rs",
    "agent/src/collect/proc_text.rs",
    "agent/src/agentless/host_key.rs",
    "agent/src/agentless/outbox.rs",
    "agent/src/collect/*/parse*.rs",
    "agent/src/collect/*/verdict.rs",
    "agent/src/collect/*/samples.rs",
    "agent/src/collect/smart/decode.rs",
    "agent/src/collect/smart/exit_status.rs",
    "agent/src/collect/smart/text_fields.rs",
    "agent/src/collect/zfs/fields.rs",
    "agent/src/collect/zfs/ctime.rs",
    "agent/src/collect/zfs/scan.rs",
    "agent/src/collect/stack/linker.rs",
    "agent/src/collect/stack/device_names.rs",
    "agent/src/collect/containers/inventory.rs",
    "agent/src/collect/containers/stats.rs",
    "agent/src/collect/databases/discover.rs",
    "agent/src/collect/certificates/chain.rs",
    "agent/src/collect/certificates/select.rs",
    "agent/src/collect/plugins/batch.rs",
    "agent/src/collect/plugins/check_result.rs",
    "agent/src/collect/plugins/exporters.rs",
    "agent/src/collect/plugins/http.rs",
    "agent/src/collect/plugins/limits.rs",
    "agent/src/collect/plugins/parse.rs",
    "agent/src/collect/plugins/samples.rs",
    "agent/src/exec/user.rs",
    "agent/src/spool/layout.rs",
    "agent/src/ssh_access/block.rs",
    "agent/src/ssh_access/decide.rs",
    "agent/src/ssh_access/drop_in.rs",
    "agent/src/ssh_access/paths.rs",
    "agent/src/update/plan.rs",
    "agent/src/update/pinned.rs",
    "agent/src/update/dump_plan.rs",
    "agent/src/update/scan/grype.rs",
    "agent/src/update/scan/parsed.rs",
    "agent/src/update/scan/trivy.rs",
    "agent/src/update/evidence.rs",
    "agent/src/update/env_exclude.rs",
    "controller/src/storage/series/rollup.rs",
    "controller/src/storage/series/retention.rs",
    "controller/src/health.rs",
    "controller/src/backup/manifest.rs",
    "controller/src/backup/rotation.rs",
    "controller/src/domain/managed_certificates/schedule.rs",
    "controller/src/domain/ssh_access/desired.rs",
    "controller/src/domain/ssh_access/events.rs",
    "controller/src/domain/ssh_access/keys.rs",
    "controller/src/domain/ssh_access/lines.rs",
    "controller/src/domain/ssh_access/views.rs",
    "controller/src/alerts/rules/mod.rs",
    "controller/src/alerts/rules/checks.rs",
    "controller/src/alerts/rules/series.rs",
    "controller/src/alerts/rules/certificates.rs",
    "controller/src/alerts/rules/containers.rs",
    "controller/src/alerts/rules/disk_trends.rs",
    "controller/src/alerts/rules/updates.rs",
    "controller/src/alerts/notify/url.rs",
    "controller/src/alerts/notify/message.rs",
    "controller/src/alerts/notify/receivers.rs",
    "controller/src/alerts/notify/chat.rs",
    "controller/src/alerts/notify/webhook.rs",
    "controller/src/alerts/notify/ntfy.rs",
    "controller/src/alerts/notify/mqtt_entities.rs",
    "controller/src/transport/admission.rs",
    "controller/src/transport/failure_log/tally.rs",
    "controller/src/updates/backups.rs",
    "controller/src/updates/effective_policy.rs",
    "controller/src/updates/insight.rs",
    "controller/src/updates/manifest/mod.rs",
    "controller/src/updates/notes/known.rs",
    "controller/src/updates/notes/releases/mod.rs",
    "controller/src/updates/notes/source.rs",
    "controller/src/updates/offer/mod.rs",
    "controller/src/updates/order/mod.rs",
    "controller/src/updates/order/queue.rs",
    "controller/src/updates/policy/mod.rs",
    "controller/src/api/operation_view.rs",
    "controller/src/api/agent_update_view.rs",
    "controller/src/agent_updates/choose.rs",
    "controller/src/agent_updates/confirm.rs",
    "controller/src/agent_updates/rollout.rs",
    "controller/src/updates/policy/explain.rs",
    "controller/src/updates/recommend/mod.rs",
    "controller/src/updates/reference/mod.rs",
    "controller/src/updates/rollout/dependencies.rs",
    "controller/src/updates/rollout/mod.rs",
    "controller/src/updates/rollout/reasons.rs",
    "controller/src/updates/scan/mod.rs",
    "controller/src/updates/waiting.rs",
    "controller/src/updates/window/*.rs",
    "controller/src/web/labels.rs",
    "controller/src/web/format.rs",
    "controller/src/web/metric_names.rs",
    "controller/src/web/plugins.rs",
    "controller/src/web/evidence.rs",
    "controller/src/web/overview_card.rs",
    "shared/src/proto/frame.rs",
    "shared/src/model/**/*.rs",
    "agent/src/collect/containers/log_lines.rs",
    "agent/src/service_checks/response.rs",
    "agent/src/service_checks/schedule.rs",
    "agent/src/service_checks/dns.rs",
    "controller/src/service_checks/uptime.rs",
    "controller/src/alerts/rules/services.rs",
    "controller/src/config/service_checks.rs",
    "controller/src/alerts/lifecycle.rs",
];

/// What pure code may not name (as a whole word: `ContainerCommand::` is not `Command::`).
/// Their tests (a trailing `#[cfg(test)]` module) may. bollard's `models` are plain data (the
/// engine's answers as structs), which pure code takes as input.
const IMPURE: &[&str] = &[
    "std::fs",
    "fs::read",
    "fs::write",
    "File::",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "lookup_host",
    "ToSocketAddrs",
    "std::process",
    "Command::",
    "std::env",
    "env::var",
    "tokio",
    "quinn",
    "sled",
    "reqwest",
    "bollard",
    "SystemTime::now",
    "Instant::now",
    "tracing::",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Every `.rs` file of the covered crates, as paths relative to the repository.
fn rust_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && name != "testdata" && !name.starts_with('.') {
                    walk(&path, root, out);
                }
            } else if name.ends_with(".rs") {
                let relative = path.strip_prefix(root).unwrap();
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    let root = repo();
    let mut files = Vec::new();
    for krate in CRATES {
        walk(&root.join(krate), &root, &mut files);
    }
    files.sort();
    assert!(files.len() > 100, "found only {} Rust files", files.len());
    files
}

/// `*` matches within one segment, `**` any number of segments.
fn matches(pattern: &str, path: &str) -> bool {
    fn segment(pattern: &str, text: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == text,
            Some((prefix, rest)) => {
                text.starts_with(prefix)
                    && (prefix.len()..=text.len()).any(|start| segment(rest, &text[start..]))
            }
        }
    }
    fn segments(pattern: &[&str], path: &[&str]) -> bool {
        match (pattern.first(), path.first()) {
            (None, None) => true,
            (Some(&"**"), _) => {
                segments(&pattern[1..], path) || (!path.is_empty() && segments(pattern, &path[1..]))
            }
            (Some(p), Some(t)) => segment(p, t) && segments(&pattern[1..], &path[1..]),
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments(&pattern, &path)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative)).unwrap()
}

/// The code before the file's test module (by convention the last item).
fn without_tests(text: &str) -> &str {
    text.find("\n#[cfg(test)]").map_or(text, |end| &text[..end])
}

/// Whether `code` names `word` as a whole word (not the tail of a longer name), other than
/// the allowed data-only paths.
fn names(code: &str, word: &str) -> bool {
    const ALLOWED: &[&str] = &["bollard::models"];
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let whole = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
        whole
            && !ALLOWED
                .iter()
                .any(|allowed| code[at..].starts_with(allowed))
    })
}

/// Lines that are code, not comments.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line))
        .filter(|(_, line)| {
            let trimmed = line.trim_start();
            !trimmed.starts_with("//")
        })
}

#[test]
fn impure_names_are_whole_words() {
    assert!(names("use std::fs::File;", "std::fs"));
    assert!(names("let x = Command::new(\"ls\");", "Command::"));
    assert!(!names("ContainerCommand::Update(request)", "Command::"));
    assert!(!names(
        "use bollard::models::ContainerInspectResponse;",
        "bollard"
    ));
    assert!(names("bollard::Docker::connect_with_socket", "bollard"));
}

#[test]
fn the_glob_matcher_does_what_the_rules_need() {
    assert!(matches(
        "agent/src/collect/*/parse*.rs",
        "agent/src/collect/zfs/parse_json.rs"
    ));
    assert!(!matches(
        "agent/src/collect/*/parse*.rs",
        "agent/src/collect/zfs/run.rs"
    ));
    assert!(matches(
        "shared/src/model/**/*.rs",
        "shared/src/model/storage/zfs.rs"
    ));
    assert!(matches(
        "shared/src/model/**/*.rs",
        "shared/src/model/mod.rs"
    ));
    assert!(!matches(
        "shared/src/model/**/*.rs",
        "shared/src/proto/mod.rs"
    ));
}

#[test]
fn every_rust_file_says_what_it_is() {
    let missing: Vec<String> = rust_files()
        .into_iter()
        .filter(|file| !read(file).trim_start().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! comment: {missing:#?}"
    );
}

#[test]
fn modules_with_children_are_mod_rs_and_no_path_attribute_redirects() {
    let root = repo();
    let mut problems = Vec::new();
    for file in rust_files() {
        if let Some(stem) = file.strip_suffix(".rs") {
            let name = Path::new(stem).file_name().unwrap().to_string_lossy();
            if !["mod", "lib", "main"].contains(&name.as_ref()) && root.join(stem).is_dir() {
                problems.push(format!("{file} beside {stem}/: move it to {stem}/mod.rs"));
            }
        }
        for (line, text) in code_lines(&read(&file)) {
            if text.trim_start().starts_with("#[path") {
                problems.push(format!("{file}:{line}: #[path]"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn pure_modules_do_no_io() {
    let files = rust_files();
    let mut problems = Vec::new();
    for pattern in PURE {
        let matched: Vec<&String> = files.iter().filter(|file| matches(pattern, file)).collect();
        if matched.is_empty() {
            problems.push(format!("{pattern}: names no file (moved? update PURE)"));
        }
        for file in matched {
            let text = read(file);
            for (line, code) in code_lines(without_tests(&text)) {
                for word in IMPURE {
                    if names(code, word) {
                        problems.push(format!(
                            "{file}:{line}: `{word}` in a pure module: {}",
                            code.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
