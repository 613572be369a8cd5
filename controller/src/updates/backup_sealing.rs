//! Backups sealed at rest: a backup's inspect (the container's configuration, environment
//! included, often secrets) is stored sealed with the controller's one sealing key
//! ([`crate::sealing::SealingKey`], the registry credentials' key), bound to the host,
//! container and time of the backup, so a sealed inspect moved to another record does not
//! open. The sealed form replaces `inspect_json` in the stored result as [`SEALED_PREFIX`] and
//! base64; an inspect without the prefix (stored before issue 17) is read as it is. The
//! operations API returns records as stored, so the environment never shows there; the
//! backups' faces open it (`domain::backups`).

use crate::sealing::{SealingError, SealingKey};
use base64::Engine as _;
use unity_shared::model::update::Backup;

/// What a sealed `inspect_json` starts with (never the start of a JSON document).
pub const SEALED_PREFIX: &str = "unity-sealed:1:";

fn aad(agent_id: &str, backup: &Backup) -> Vec<u8> {
    format!(
        "backup {agent_id}\0{}\0{}",
        backup.container, backup.taken_at_ms
    )
    .into_bytes()
}

fn sealed_bytes(backup: &Backup) -> Option<Result<Vec<u8>, SealingError>> {
    let text = backup.inspect_json.strip_prefix(SEALED_PREFIX)?;
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| SealingError::Open),
    )
}

/// Whether the backup's inspect is sealed.
pub fn is_sealed(backup: &Backup) -> bool {
    backup.inspect_json.starts_with(SEALED_PREFIX)
}

/// Seals the backup's inspect in place (an already sealed one stays as it is).
pub fn seal(key: &SealingKey, agent_id: &str, backup: &mut Backup) -> Result<(), SealingError> {
    if is_sealed(backup) {
        return Ok(());
    }
    let sealed = key.seal(&aad(agent_id, backup), backup.inspect_json.as_bytes())?;
    backup.inspect_json = format!(
        "{SEALED_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(sealed)
    );
    Ok(())
}

/// The backup with its inspect opened (an unsealed one, stored before sealing, as it is).
pub fn open(key: &SealingKey, agent_id: &str, backup: &Backup) -> Result<Backup, SealingError> {
    let Some(sealed) = sealed_bytes(backup) else {
        return Ok(backup.clone());
    };
    let plain = key.open(&aad(agent_id, backup), &sealed?)?;
    let inspect_json = String::from_utf8(plain).map_err(|_| SealingError::Open)?;
    Ok(Backup {
        inspect_json,
        ..backup.clone()
    })
}

/// Re-seals the backup with the current key when it is unsealed or sealed with an older one;
/// whether it changed.
pub fn reseal(key: &SealingKey, agent_id: &str, backup: &mut Backup) -> Result<bool, SealingError> {
    if let Some(sealed) = sealed_bytes(backup) {
        if key.is_current(&sealed?) {
            return Ok(false);
        }
    }
    let mut opened = open(key, agent_id, backup)?;
    seal(key, agent_id, &mut opened)?;
    *backup = opened;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup() -> Backup {
        Backup {
            container: "web".into(),
            taken_at_ms: 7,
            image_ref: "app:1".into(),
            image_id: "sha256:1".into(),
            inspect_json: r#"{"Config":{"Env":["DB_PASSWORD=hunter2"]}}"#.into(),
            volume_archives: Vec::new(),
            dump: None,
            excluded_env: Vec::new(),
        }
    }

    #[test]
    fn issue_17_backups_seal_open_and_old_ones_still_read() {
        let key = SealingKey::from_bytes(&[7; 32]).unwrap();
        let plain = backup();
        // Stored before sealing: read as it is.
        assert_eq!(open(&key, "nas", &plain).unwrap(), plain);
        let mut sealed = plain.clone();
        seal(&key, "nas", &mut sealed).unwrap();
        assert!(is_sealed(&sealed) && !sealed.inspect_json.contains("hunter2"));
        assert_eq!(open(&key, "nas", &sealed).unwrap(), plain);
        // Sealing twice changes nothing; another host's or key's record does not open.
        let again = sealed.clone();
        seal(&key, "nas", &mut sealed).unwrap();
        assert_eq!(sealed, again);
        assert!(open(&key, "other", &sealed).is_err());
        let other_key = SealingKey::from_bytes(&[8; 32]).unwrap();
        assert!(open(&other_key, "nas", &sealed).is_err());
        // Re-sealing: nothing to do under the same key; an unsealed one gets sealed.
        assert!(!reseal(&key, "nas", &mut sealed).unwrap());
        let mut old = plain.clone();
        assert!(reseal(&key, "nas", &mut old).unwrap());
        assert_eq!(open(&key, "nas", &old).unwrap(), plain);
    }
}
