//! Which installation of this agent's identity is running: an [`InstanceId`] made at the first
//! start and made anew when the data directory turns up on another machine.
//!
//! Cloning a VM or copying `/var/lib/unity-agent` copies the identity (key and certificate)
//! too; two hosts then speak as one. The agent notices because the machine under its data
//! directory changed: `instance.toml` keeps the instance id together with a fingerprint of the
//! machine (`/etc/machine-id`, the firmware's product UUID, a device-tree serial number, and
//! the data directory's inode number, which a copy never keeps). When the fingerprint differs,
//! this is a copy (or a move): the agent takes a new instance id, so the controller can tell the
//! two apart, and `unity-agent enroll` may give it an identity of its own without `--force`.
//!
//! [`compare`] is pure; [`load_or_create`] reads the machine and the file. Note that
//! [`load_or_create`] uses blocking I/O.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use unity_shared::proto::InstanceId;

const INSTANCE_TOML: &str = "instance.toml";

/// What identifies the machine a data directory lives on. Every part is optional: a part that
/// cannot be read (no firmware UUID on a Raspberry Pi, no permission) is left out of the
/// comparison instead of making every start look like a clone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineFingerprint {
    /// `/etc/machine-id`.
    pub machine_id: Option<String>,
    /// `/sys/class/dmi/id/product_uuid` (hypervisors give every clone a new one).
    pub product_uuid: Option<String>,
    /// `/sys/firmware/devicetree/base/serial-number` (single-board computers).
    pub board_serial: Option<String>,
    /// The data directory's inode number: a copy (cp, rsync, a restored backup) gets a new one.
    pub data_dir_inode: Option<u64>,
}

/// Where the fingerprint is read from; tests point it at a folder of their own.
#[derive(Debug, Clone)]
pub struct MachineSources {
    pub machine_id: PathBuf,
    pub product_uuid: PathBuf,
    pub board_serial: PathBuf,
}

impl Default for MachineSources {
    fn default() -> MachineSources {
        MachineSources {
            machine_id: PathBuf::from("/etc/machine-id"),
            product_uuid: PathBuf::from("/sys/class/dmi/id/product_uuid"),
            board_serial: PathBuf::from("/sys/firmware/devicetree/base/serial-number"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct InstanceFile {
    instance_id: String,
    fingerprint: MachineFingerprint,
    /// Set when this instance was made because the data directory turned up on another
    /// machine (what changed); kept until the host is enrolled anew.
    #[serde(default)]
    copied: Option<Vec<String>>,
}

/// The outcome of comparing the stored fingerprint with this machine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// No instance was recorded yet (first start, or an agent from before instances).
    First,
    /// The data directory is where it was made.
    Same,
    /// The data directory was copied or moved here; names the parts that differ.
    Copied { differs: Vec<&'static str> },
}

/// Compares two fingerprints part by part; a part missing on either side is not compared.
pub fn compare(stored: &MachineFingerprint, current: &MachineFingerprint) -> Origin {
    fn differs<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
        matches!((a, b), (Some(a), Some(b)) if a != b)
    }
    let mut parts = Vec::new();
    if differs(&stored.machine_id, &current.machine_id) {
        parts.push("machine id");
    }
    if differs(&stored.product_uuid, &current.product_uuid) {
        parts.push("product UUID");
    }
    if differs(&stored.board_serial, &current.board_serial) {
        parts.push("board serial");
    }
    if differs(&stored.data_dir_inode, &current.data_dir_inode) {
        parts.push("data directory");
    }
    if parts.is_empty() {
        Origin::Same
    } else {
        Origin::Copied { differs: parts }
    }
}

/// This agent's instance and how it came about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: InstanceId,
    pub origin: Origin,
}

impl Instance {
    /// A sentence for logs and `unity-agent status` when the data directory was copied.
    pub fn copied_note(&self) -> Option<String> {
        match &self.origin {
            Origin::Copied { differs } => Some(format!(
                "this data directory was copied or moved from another machine ({} changed); \
                 if this host is a clone, give it its own identity with `unity-agent enroll`",
                differs.join(", ")
            )),
            _ => None,
        }
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!text.is_empty()).then(|| text.to_owned())
}

/// Reads this machine's fingerprint for `data_dir`.
pub fn fingerprint(data_dir: &Path, sources: &MachineSources) -> MachineFingerprint {
    use std::os::unix::fs::MetadataExt;
    MachineFingerprint {
        machine_id: read_trimmed(&sources.machine_id),
        product_uuid: read_trimmed(&sources.product_uuid),
        board_serial: read_trimmed(&sources.board_serial),
        data_dir_inode: std::fs::metadata(data_dir).ok().map(|meta| meta.ino()),
    }
}

fn new_instance_id() -> InstanceId {
    InstanceId::from_bytes(rand::random())
}

/// Loads the instance recorded in `data_dir`, or records a new one when there is none or the
/// data directory now lives on another machine.
pub fn load_or_create(data_dir: &Path, sources: &MachineSources) -> anyhow::Result<Instance> {
    let path = data_dir.join(INSTANCE_TOML);
    let current = fingerprint(data_dir, sources);
    let stored: Option<InstanceFile> = match std::fs::read_to_string(&path) {
        Ok(text) => match toml::from_str(&text) {
            Ok(file) => Some(file),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "Unreadable instance file; making a new instance.");
                None
            }
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", path.display()));
        }
    };
    let stored_id = stored
        .as_ref()
        .and_then(|file| file.instance_id.parse::<InstanceId>().ok());
    let (id, origin) = match (&stored, stored_id) {
        (Some(file), Some(id)) => match compare(&file.fingerprint, &current) {
            Origin::Same => {
                if file.fingerprint != current {
                    // A part became readable (or unreadable): keep the file current.
                    write(&path, id, &current, file.copied.clone())?;
                }
                // A copy stays a copy until it is enrolled anew.
                let origin = match &file.copied {
                    Some(differs) => Origin::Copied {
                        differs: differs.iter().map(|part| part_name(part)).collect(),
                    },
                    None => Origin::Same,
                };
                return Ok(Instance { id, origin });
            }
            copied => (new_instance_id(), copied),
        },
        _ => (new_instance_id(), Origin::First),
    };
    let copied = match &origin {
        Origin::Copied { differs } => Some(differs.iter().map(|part| (*part).to_owned()).collect()),
        _ => None,
    };
    write(&path, id, &current, copied)?;
    Ok(Instance { id, origin })
}

/// The fingerprint part named `text` (as stored), for messages.
fn part_name(text: &str) -> &'static str {
    [
        "machine id",
        "product UUID",
        "board serial",
        "data directory",
    ]
    .into_iter()
    .find(|part| *part == text)
    .unwrap_or("machine")
}

/// Forgets the recorded instance, so the next start makes a new one (after a new enrollment).
pub fn reset(data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(INSTANCE_TOML);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("removing {}", path.display())),
    }
}

/// True when `data_dir` holds an identity that came from another machine: its instance was
/// recorded elsewhere, or was made anew here because of that and not enrolled since.
pub fn is_copied(data_dir: &Path, sources: &MachineSources) -> bool {
    let Ok(text) = std::fs::read_to_string(data_dir.join(INSTANCE_TOML)) else {
        return false;
    };
    let Ok(file) = toml::from_str::<InstanceFile>(&text) else {
        return false;
    };
    file.copied.is_some()
        || matches!(
            compare(&file.fingerprint, &fingerprint(data_dir, sources)),
            Origin::Copied { .. }
        )
}

fn write(
    path: &Path,
    id: InstanceId,
    fingerprint: &MachineFingerprint,
    copied: Option<Vec<String>>,
) -> anyhow::Result<()> {
    let file = InstanceFile {
        instance_id: id.to_string(),
        fingerprint: fingerprint.clone(),
        copied,
    };
    let text = toml::to_string(&file).context("encoding the instance file")?;
    crate::fsutil::write_atomically(path, text.as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(machine: &str, inode: u64) -> MachineFingerprint {
        MachineFingerprint {
            machine_id: Some(machine.into()),
            product_uuid: None,
            board_serial: None,
            data_dir_inode: Some(inode),
        }
    }

    #[test]
    fn parts_missing_on_either_side_are_not_compared() {
        let stored = print("m1", 7);
        assert_eq!(compare(&stored, &stored), Origin::Same);
        let unreadable = MachineFingerprint::default();
        assert_eq!(compare(&stored, &unreadable), Origin::Same);
        assert_eq!(compare(&unreadable, &stored), Origin::Same);
        assert_eq!(
            compare(&stored, &print("m2", 7)),
            Origin::Copied {
                differs: vec!["machine id"]
            }
        );
        assert_eq!(
            compare(&stored, &print("m1", 8)),
            Origin::Copied {
                differs: vec!["data directory"]
            }
        );
    }

    fn sources(dir: &Path, machine_id: &str) -> MachineSources {
        std::fs::write(dir.join("machine-id"), format!("{machine_id}\n")).unwrap();
        MachineSources {
            machine_id: dir.join("machine-id"),
            product_uuid: dir.join("absent"),
            board_serial: dir.join("absent"),
        }
    }

    #[test]
    fn the_instance_is_kept_on_its_machine_and_renewed_on_a_copy() {
        let root = tempfile::tempdir().unwrap();
        let machine = sources(root.path(), "aaaa");
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let first = load_or_create(&data, &machine).unwrap();
        assert_eq!(first.origin, Origin::First);
        let again = load_or_create(&data, &machine).unwrap();
        assert_eq!(
            again,
            Instance {
                id: first.id,
                origin: Origin::Same
            }
        );
        assert!(!is_copied(&data, &machine));

        // cp -a of the data directory: same machine, new inode.
        let copy = root.path().join("copy");
        std::fs::create_dir(&copy).unwrap();
        std::fs::copy(data.join(INSTANCE_TOML), copy.join(INSTANCE_TOML)).unwrap();
        assert!(is_copied(&copy, &machine));
        let cloned = load_or_create(&copy, &machine).unwrap();
        assert_ne!(cloned.id, first.id);
        assert!(matches!(cloned.origin, Origin::Copied { .. }));
        assert!(cloned.copied_note().unwrap().contains("data directory"));
        // The copy keeps its new instance from then on, and stays a copy until it is
        // enrolled anew; the original keeps its own.
        let again = load_or_create(&copy, &machine).unwrap();
        assert_eq!(again.id, cloned.id);
        assert_eq!(again.origin, cloned.origin);
        assert!(is_copied(&copy, &machine));
        assert_eq!(load_or_create(&data, &machine).unwrap().id, first.id);
        assert!(!is_copied(&data, &machine));
        reset(&copy).unwrap();
        let enrolled = load_or_create(&copy, &machine).unwrap();
        assert_eq!(enrolled.origin, Origin::First);
        assert!(!is_copied(&copy, &machine));

        // The same directory on another machine (a VM clone keeps inode numbers).
        let other = root.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let moved = load_or_create(&data, &sources(&other, "bbbb")).unwrap();
        assert_ne!(moved.id, first.id);
        assert!(matches!(moved.origin, Origin::Copied { .. }));
    }

    #[test]
    fn a_garbled_instance_file_makes_a_new_instance() {
        let root = tempfile::tempdir().unwrap();
        let machine = sources(root.path(), "aaaa");
        std::fs::write(root.path().join(INSTANCE_TOML), "instance_id = 5\n[[").unwrap();
        let instance = load_or_create(root.path(), &machine).unwrap();
        assert_eq!(instance.origin, Origin::First);
    }
}
