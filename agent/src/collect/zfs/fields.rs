//! The words every `zpool`/`zfs` output shares, read the same way by the text, JSON and list
//! parsers: vdev states, vdev kinds from their names, and sizes with 1024-based suffixes (read,
//! and written as `zfs_nicenum` does). Pure; the parsers import it, and it imports none of them.

use unity_shared::model::storage::{VdevKind, VdevState};

/// A vdev or pool state word (`ONLINE`, `DEGRADED`, ...).
pub fn vdev_state(word: &str) -> VdevState {
    match word {
        "ONLINE" => VdevState::Online,
        "DEGRADED" => VdevState::Degraded,
        "FAULTED" => VdevState::Faulted,
        "OFFLINE" => VdevState::Offline,
        "UNAVAIL" => VdevState::Unavail,
        "REMOVED" => VdevState::Removed,
        "SUSPENDED" => VdevState::Suspended,
        "AVAIL" => VdevState::Avail,
        "INUSE" => VdevState::Inuse,
        other => VdevState::Other(other.to_owned()),
    }
}

/// What a vdev is, from its name (`mirror-0`, `raidz2-1`, `draid1:4d:11c:1s-0`, a disk).
pub fn vdev_kind(name: &str) -> VdevKind {
    let base = name.rsplit_once('-').map_or(name, |(base, suffix)| {
        if suffix.chars().all(|c| c.is_ascii_digit()) {
            base
        } else {
            name
        }
    });
    if base == "mirror" {
        return VdevKind::Mirror;
    }
    if base == "replacing" {
        return VdevKind::Replacing;
    }
    if base == "spare" {
        return VdevKind::Spare;
    }
    if base == "indirect" {
        return VdevKind::Indirect;
    }
    if let Some(parity) = base.strip_prefix("raidz") {
        if parity.is_empty() {
            return VdevKind::Raidz { parity: 1 };
        }
        if let Ok(parity) = parity.parse() {
            return VdevKind::Raidz { parity };
        }
    }
    if let Some(rest) = base.strip_prefix("draid") {
        if rest.contains(':') {
            let parity = rest
                .split(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            return VdevKind::Draid {
                parity,
                spec: base.to_owned(),
            };
        }
        // A distributed spare: `draid1-0-0`.
        let parts: Vec<&str> = name.split('-').collect();
        if parts.len() == 3
            && parts
                .iter()
                .skip(1)
                .all(|p| p.chars().all(|c| c.is_ascii_digit()))
        {
            return VdevKind::DistributedSpare;
        }
    }
    VdevKind::Disk
}

/// `0`, `11.7K`, `1.66T`, `0B`, `21K`: bytes or counts, with 1024-based suffixes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim().trim_end_matches('B');
    if text.is_empty() {
        return None;
    }
    let (number, multiplier) = match text.chars().last() {
        Some(suffix) if suffix.is_ascii_alphabetic() => {
            let power = match suffix.to_ascii_uppercase() {
                'K' => 1,
                'M' => 2,
                'G' => 3,
                'T' => 4,
                'P' => 5,
                'E' => 6,
                _ => return None,
            };
            (text.get(..text.len() - 1)?, 1024f64.powi(power))
        }
        _ => (text, 1.0),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if multiplier == 1.0 && !number.contains('.') {
        return number.parse().ok();
    }
    let value: f64 = number.parse().ok()?;
    let bytes = (value * multiplier).round();
    (0.0..1.8e19).contains(&bytes).then_some(bytes as u64)
}

/// Bytes with a 1024-based suffix, like `zfs_nicenum`: `0B`, `512B`, `1.50M`, `21K`.
pub fn nicenum(bytes: u64) -> String {
    const SUFFIXES: [&str; 7] = ["B", "K", "M", "G", "T", "P", "E"];
    let mut value = bytes as f64;
    let mut index = 0;
    while value >= 1024.0 && index + 1 < SUFFIXES.len() {
        value /= 1024.0;
        index += 1;
    }
    let suffix = SUFFIXES.get(index).copied().unwrap_or("E");
    if index == 0 || value.fract() == 0.0 {
        format!("{value:.0}{suffix}")
    } else if value < 10.0 {
        format!("{value:.2}{suffix}")
    } else if value < 100.0 {
        format!("{value:.1}{suffix}")
    } else {
        format!("{value:.0}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicenums() {
        assert_eq!(nicenum(0), "0B");
        assert_eq!(nicenum(21 * 1024), "21K");
        assert_eq!(nicenum(1_572_864), "1.50M");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("21K"), Some(21 * 1024));
        assert_eq!(parse_size("11.7K"), Some(11_981));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("abc"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn kinds() {
        assert_eq!(vdev_kind("mirror-0"), VdevKind::Mirror);
        assert_eq!(vdev_kind("raidz2-0"), VdevKind::Raidz { parity: 2 });
        assert_eq!(vdev_kind("raidz-1"), VdevKind::Raidz { parity: 1 });
        assert_eq!(
            vdev_kind("draid1:4d:11c:1s-0"),
            VdevKind::Draid {
                parity: 1,
                spec: "draid1:4d:11c:1s".to_owned()
            }
        );
        assert_eq!(vdev_kind("draid1-0-0"), VdevKind::DistributedSpare);
        assert_eq!(vdev_kind("replacing-1"), VdevKind::Replacing);
        assert_eq!(vdev_kind("wwn-0x5000c500c65ac66f"), VdevKind::Disk);
        assert_eq!(vdev_kind("nvme0n1p3"), VdevKind::Disk);
    }
}
