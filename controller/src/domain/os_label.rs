//! The operating system as a host's pages and API name it ("Debian GNU/Linux 12 (bookworm)"),
//! built once from the name and version an agent reports. Agents send what os-release (or
//! sysinfo) gives: a `NAME` or a `PRETTY_NAME` that may already carry the version, and a
//! `VERSION_ID` or `VERSION`; joined blindly they read "Debian GNU/Linux 12 (bookworm) 12".
//! Pure: two strings in, one out.

/// The label of `name` and `version`: the name alone when it already mentions the version
/// ("Ubuntu 22.04.3 LTS" with "22.04"), the version alone when it already starts with the name,
/// else both joined by a space.
pub fn os_label(name: &str, version: &str) -> String {
    let (name, version) = (name.trim(), version.trim());
    if version.is_empty() || mentions(name, version) {
        return name.to_owned();
    }
    if name.is_empty() || version.starts_with(name) {
        return version.to_owned();
    }
    format!("{name} {version}")
}

/// Whether one of `name`'s words is the version's number or a dotted prefix or extension of
/// it: "12" in "Debian GNU/Linux 12 (bookworm)", "v3.19" for "3.19.1", "22.04.3" for "22.04".
fn mentions(name: &str, version: &str) -> bool {
    let Some(number) = version.split_whitespace().next() else {
        return false;
    };
    name.split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.'))
        .map(|word| word.trim_end_matches('.'))
        .map(|word| {
            word.strip_prefix(['v', 'V'])
                .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                .unwrap_or(word)
        })
        .filter(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .any(|word| {
            word == number
                || number
                    .strip_prefix(word)
                    .is_some_and(|rest| rest.starts_with('.'))
                || word
                    .strip_prefix(number)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
}

#[cfg(test)]
mod tests {
    use super::os_label;

    #[track_caller]
    fn check(name: &str, version: &str, expected: &str) {
        assert_eq!(os_label(name, version), expected, "{name:?} + {version:?}");
    }

    // The os-release fields of each system (NAME, VERSION, VERSION_ID, PRETTY_NAME), in the
    // pairs agents send: NAME + VERSION_ID (sysinfo, agentless), PRETTY_NAME + VERSION_ID.

    #[test]
    fn debian() {
        check("Debian GNU/Linux", "12", "Debian GNU/Linux 12");
        check(
            "Debian GNU/Linux 12 (bookworm)",
            "12",
            "Debian GNU/Linux 12 (bookworm)",
        );
        check(
            "Debian GNU/Linux",
            "12 (bookworm)",
            "Debian GNU/Linux 12 (bookworm)",
        );
        check(
            "Debian GNU/Linux",
            "Debian GNU/Linux 12 (bookworm)",
            "Debian GNU/Linux 12 (bookworm)",
        );
    }

    #[test]
    fn ubuntu() {
        check("Ubuntu", "22.04", "Ubuntu 22.04");
        check(
            "Ubuntu",
            "22.04.3 LTS (Jammy Jellyfish)",
            "Ubuntu 22.04.3 LTS (Jammy Jellyfish)",
        );
        check("Ubuntu 22.04.3 LTS", "22.04", "Ubuntu 22.04.3 LTS");
        check(
            "Ubuntu 22.04.3 LTS",
            "22.04.3 LTS (Jammy Jellyfish)",
            "Ubuntu 22.04.3 LTS",
        );
    }

    #[test]
    fn raspbian() {
        check("Raspbian GNU/Linux", "11", "Raspbian GNU/Linux 11");
        check(
            "Raspbian GNU/Linux 11 (bullseye)",
            "11",
            "Raspbian GNU/Linux 11 (bullseye)",
        );
    }

    #[test]
    fn alpine() {
        check("Alpine Linux", "3.19.1", "Alpine Linux 3.19.1");
        check("Alpine Linux v3.19", "3.19.1", "Alpine Linux v3.19");
    }

    #[test]
    fn fedora() {
        check("Fedora Linux", "39", "Fedora Linux 39");
        check(
            "Fedora Linux",
            "39 (Workstation Edition)",
            "Fedora Linux 39 (Workstation Edition)",
        );
        check(
            "Fedora Linux 39 (Workstation Edition)",
            "39",
            "Fedora Linux 39 (Workstation Edition)",
        );
    }

    #[test]
    fn proxmox() {
        // Proxmox VE ships Debian's os-release; its own name and version read like this.
        check("Proxmox VE", "8.1.4", "Proxmox VE 8.1.4");
        check("Proxmox VE 8.1.4", "8.1", "Proxmox VE 8.1.4");
        check("Debian GNU/Linux", "12", "Debian GNU/Linux 12");
    }

    #[test]
    fn a_number_that_is_not_the_version_is_kept_and_blanks_are_dropped() {
        // "12" is not "1.2" nor "2": only whole words and dotted prefixes count.
        check("Debian GNU/Linux 12", "1.2", "Debian GNU/Linux 12 1.2");
        check("Debian GNU/Linux 12", "2", "Debian GNU/Linux 12 2");
        check("Arch Linux", "", "Arch Linux");
        check("", "", "");
        check("", "12", "12");
        check("  Alpine Linux ", " 3.19.1 ", "Alpine Linux 3.19.1");
        check("Linux", "6.1.0-18-amd64", "Linux 6.1.0-18-amd64");
    }
}
