//! Where a rollback puts a container's data back from (issue 17 §1): the agent's
//! `[containers] data_restore` setting, overridden per container by the label
//! `unity.update.data_restore`. Pure: words in, a typed [`DataRestorePolicy`] or a clear
//! error out. The agent acts on it (`agent::update::data_restore`); the controller shows it in
//! the container's effective policy with where it came from. See `docs/container-updates.md`,
//! "Data safety for databases".

/// The label that sets a container's data restore policy, over the agent's setting.
pub const DATA_RESTORE_LABEL: &str = "unity.update.data_restore";

/// Where the data comes back from after a new version ran: `auto` (the volume archives when
/// the backup has them, else the dump), `volume`, `dump`, or `off` (never).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataRestorePolicy {
    #[default]
    Auto,
    Volume,
    Dump,
    Off,
}

/// A word that is not a data restore policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data restore policy {0:?} (expected auto, volume, dump or off)")]
pub struct DataRestoreError(pub String);

impl DataRestorePolicy {
    /// Every policy, in the documented order.
    pub const ALL: [DataRestorePolicy; 4] = [
        DataRestorePolicy::Auto,
        DataRestorePolicy::Volume,
        DataRestorePolicy::Dump,
        DataRestorePolicy::Off,
    ];

    /// Reads `auto`, `volume`, `dump` or `off` (case and surrounding blanks ignored).
    pub fn parse(word: &str) -> Result<DataRestorePolicy, DataRestoreError> {
        let trimmed = word.trim();
        DataRestorePolicy::ALL
            .into_iter()
            .find(|policy| policy.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| DataRestoreError(word.to_owned()))
    }

    /// The word, as the config and the label take it.
    pub fn as_str(self) -> &'static str {
        match self {
            DataRestorePolicy::Auto => "auto",
            DataRestorePolicy::Volume => "volume",
            DataRestorePolicy::Dump => "dump",
            DataRestorePolicy::Off => "off",
        }
    }

    /// The policy for a container with `label` (its `unity.update.data_restore` value, when
    /// set) on an agent whose setting is `agent`: the label wins; a bad label is an error
    /// naming it, never a silent fall back.
    pub fn for_container(
        agent: DataRestorePolicy,
        label: Option<&str>,
    ) -> Result<DataRestorePolicy, DataRestoreError> {
        match label {
            Some(word) => DataRestorePolicy::parse(word),
            None => Ok(agent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_17_data_restore_words_read_back_and_bad_ones_are_named() {
        for policy in DataRestorePolicy::ALL {
            assert_eq!(DataRestorePolicy::parse(policy.as_str()), Ok(policy));
        }
        assert_eq!(
            DataRestorePolicy::parse(" Dump "),
            Ok(DataRestorePolicy::Dump)
        );
        let error = DataRestorePolicy::parse("tape").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown data restore policy \"tape\" (expected auto, volume, dump or off)"
        );
        assert!(DataRestorePolicy::parse("").is_err());
    }

    #[test]
    fn issue_17_a_containers_label_wins_over_the_agents_setting() {
        use DataRestorePolicy::*;
        assert_eq!(DataRestorePolicy::for_container(Auto, None), Ok(Auto));
        assert_eq!(DataRestorePolicy::for_container(Auto, Some("off")), Ok(Off));
        assert_eq!(
            DataRestorePolicy::for_container(Off, Some("volume")),
            Ok(Volume)
        );
        assert!(DataRestorePolicy::for_container(Dump, Some("sometimes")).is_err());
    }
}
