//! What the agent remembers of the managed keys it wrote, per user: the file and the
//! fingerprint of the block (so a hand edit is told from its own write, and a user the
//! controller stops naming is found again). A JSON file in the data directory, replaced
//! atomically. Note that this uses blocking I/O.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One user's remembered block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// The file the block is in.
    pub path: PathBuf,
    /// `block::fingerprint` of the lines written.
    pub fingerprint: String,
    /// The whole file is Unity's (`File` mode): removing means deleting it.
    pub whole_file: bool,
}

/// Every managed user, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub users: BTreeMap<String, Written>,
}

/// Reads the state; a missing file is an empty state.
pub fn load(path: &Path) -> Result<Remembered, String> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|error| format!("{}: {error}", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Remembered::default()),
        Err(error) => Err(format!("reading {}: {error}", path.display())),
    }
}

/// Writes the state atomically (0600).
pub fn store(path: &Path, remembered: &Remembered) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(remembered).map_err(|error| error.to_string())?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("creating {}: {error}", parent.display()))?;
    }
    crate::fsutil::replace_file(path, &bytes, 0o600)
        .map_err(|error| format!("writing {}: {error}", path.display()))
}
