//! The textfile directories (node_exporter's convention): every `*.prom` file is read and
//! parsed at each collection. Writers write a temporary name and rename it into place
//! (`backup.prom.$$` then `mv`), so only complete files end in `.prom`; everything else
//! (`*.tmp`, hidden files) is left alone. A file over the size cap is not read at all: its
//! size comes from its metadata, and a file that grows while it is read is cut off at the cap
//! and refused.
//!
//! Note that this uses blocking I/O.

use super::batch::BatchBuilder;
use super::limits::Caps;
use super::parse::Format;
use super::samples::{self, Origin};
use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use unity_shared::model::plugin::{SourceKind, SourceStatus};

/// Whether a file name is a textfile to read.
fn is_textfile(name: &str) -> bool {
    name.ends_with(".prom") && !name.starts_with('.') && name.len() > ".prom".len()
}

/// Reads every textfile of `dirs` into `batch`. Missing directories are skipped (the
/// defaults need not exist); an unreadable one is a failed source.
pub fn read_dirs(
    dirs: &[PathBuf],
    caps: &Caps,
    collected_at_ms: i64,
    batch: &mut BatchBuilder,
) -> Vec<SourceStatus> {
    let mut statuses = Vec::new();
    let mut sources = BTreeSet::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                let location = dir.display().to_string();
                let source = format!("textfile/{location}");
                statuses.push(samples::failed(
                    origin(&source, &location),
                    format!("reading the directory: {error}"),
                    0,
                ));
                continue;
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| is_textfile(name))
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            // The same file name in two directories: the second is told apart by its path.
            let mut source = format!("textfile/{name}");
            if !sources.insert(source.clone()) {
                source = format!("textfile/{}", path.display());
                sources.insert(source.clone());
            }
            let location = path.display().to_string();
            let started = Instant::now();
            let mut status = read_one(
                &path,
                origin(&source, &location),
                caps,
                collected_at_ms,
                batch,
            );
            status.duration_ms = started.elapsed().as_millis() as u64;
            statuses.push(status);
        }
    }
    statuses
}

fn origin<'a>(source: &'a str, location: &'a str) -> Origin<'a> {
    Origin {
        kind: SourceKind::Textfile,
        source,
        location,
        line_offset: 0,
    }
}

fn read_one(
    path: &Path,
    origin: Origin<'_>,
    caps: &Caps,
    collected_at_ms: i64,
    batch: &mut BatchBuilder,
) -> SourceStatus {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) => return samples::failed(origin, format!("opening: {error}"), 0),
    };
    match file.metadata() {
        Ok(metadata) if !metadata.is_file() => {
            return samples::failed(origin, "not a regular file".into(), 0)
        }
        Ok(metadata) if metadata.len() > caps.max_bytes => {
            return samples::failed(
                origin,
                format!(
                    "the file is {} bytes, over the cap of {} bytes; not read",
                    metadata.len(),
                    caps.max_bytes
                ),
                0,
            )
        }
        Ok(_) => {}
        Err(error) => return samples::failed(origin, format!("reading: {error}"), 0),
    }
    let mut text = Vec::new();
    if let Err(error) = file
        .take(caps.max_bytes.saturating_add(1))
        .read_to_end(&mut text)
    {
        return samples::failed(origin, format!("reading: {error}"), text.len() as u64);
    }
    if text.len() as u64 > caps.max_bytes {
        return samples::failed(
            origin,
            format!(
                "the file grew past the cap of {} bytes while it was read; not used",
                caps.max_bytes
            ),
            text.len() as u64,
        );
    }
    samples::ingest(
        batch,
        origin,
        &text,
        Format::Prometheus,
        caps,
        collected_at_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_prom_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("backup.prom"), "backup_ok 1\nbad line\n").unwrap();
        std::fs::write(dir.path().join("backup.prom.tmp"), "half_written 1").unwrap();
        std::fs::write(dir.path().join(".hidden.prom"), "hidden 1\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "notes 1\n").unwrap();
        std::fs::write(other.path().join("backup.prom"), "other 1\n").unwrap();
        std::fs::create_dir(dir.path().join("dir.prom")).unwrap();
        let mut batch = BatchBuilder::default();
        let dirs = vec![
            dir.path().to_owned(),
            dir.path().join("missing"),
            other.path().to_owned(),
        ];
        let statuses = read_dirs(&dirs, &Caps::default(), 1000, &mut batch);
        let summary: Vec<(String, u32, u32, bool)> = statuses
            .iter()
            .map(|s| {
                (
                    s.source.clone(),
                    s.n_series,
                    s.n_errors,
                    s.failure.is_some(),
                )
            })
            .collect();
        assert_eq!(summary.len(), 3, "{summary:?}");
        assert_eq!(summary[0], ("textfile/backup.prom".into(), 1, 1, false));
        assert_eq!(summary[1].0, "textfile/dir.prom");
        assert!(summary[1].3, "a directory named .prom is a failed source");
        assert_eq!(
            summary[2].0,
            format!("textfile/{}", other.path().join("backup.prom").display())
        );
        assert!(statuses[0].errors[0].ends_with("backup.prom:2: invalid value \"line\""));
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn issue_22_a_file_over_the_cap_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.prom");
        let file = std::fs::File::create(&path).unwrap();
        // Sparse: 500 MB that take no disk space and are never read.
        file.set_len(500 * 1000 * 1000).unwrap();
        let mut batch = BatchBuilder::default();
        let statuses = read_dirs(&[dir.path().to_owned()], &Caps::default(), 0, &mut batch);
        assert_eq!(
            statuses[0].failure.as_deref(),
            Some("the file is 500000000 bytes, over the cap of 8388608 bytes; not read")
        );
        assert_eq!(statuses[0].bytes, 0);
        assert!(batch.is_empty());
    }
}
