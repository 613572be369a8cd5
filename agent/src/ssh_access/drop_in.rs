//! The sshd drop-in of the `File` mode (pure): sshd reads `<managed_dir>/%u` beside the files
//! it read before. From the effective configuration (`sshd -T`) it takes the
//! `AuthorizedKeysFile` list in force and adds Unity's entry; when the entry is in the list
//! already, nothing is to be written (which is also why a second apply changes nothing).

use std::path::Path;

/// The first line of the drop-in.
pub const HEADER: &str =
    "# Written by the Unity agent (managed SSH keys, file mode; see docs/ssh.md).\n\
# sshd reads the files it read before and, after them, Unity's per-user files.\n";

/// The `AuthorizedKeysFile` entry for the managed directory: `<dir>/%u`, a literal `%` written
/// `%%` (sshd expands `%` tokens).
pub fn managed_entry(managed_dir: &Path) -> String {
    format!(
        "{}/%u",
        managed_dir
            .to_string_lossy()
            .trim_end_matches('/')
            .replace('%', "%%")
    )
}

/// The `AuthorizedKeysFile` list in `sshd -T` output (`authorizedkeysfile a b`); `None` when
/// the keyword is missing.
pub fn effective_list(sshd_t: &str) -> Option<Vec<String>> {
    sshd_t.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        words
            .next()
            .filter(|word| word.eq_ignore_ascii_case("authorizedkeysfile"))
            .map(|_| words.map(str::to_owned).collect())
    })
}

/// One word of an sshd configuration line: quoted when it holds white space.
fn word(entry: &str) -> String {
    if entry.contains(char::is_whitespace) {
        format!("\"{entry}\"")
    } else {
        entry.to_owned()
    }
}

/// The drop-in's text for the list in force; `None` when `entry` is in it already. The list
/// `none` (no files at all) becomes Unity's entry alone.
pub fn render(list: &[String], entry: &str) -> Option<String> {
    if list.iter().any(|existing| existing == entry) {
        return None;
    }
    let mut words: Vec<String> = list
        .iter()
        .filter(|existing| !existing.eq_ignore_ascii_case("none"))
        .map(|existing| word(existing))
        .collect();
    words.push(word(entry));
    Some(format!("{HEADER}AuthorizedKeysFile {}\n", words.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_the_drop_in_keeps_the_list_in_force_and_adds_the_managed_files_once() {
        let output =
            "port 22\nauthorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\nx y\n";
        let list = effective_list(output).unwrap();
        assert_eq!(list, [".ssh/authorized_keys", ".ssh/authorized_keys2"]);
        let entry = managed_entry(Path::new("/etc/ssh/unity/authorized_keys/"));
        assert_eq!(entry, "/etc/ssh/unity/authorized_keys/%u");
        let text = render(&list, &entry).unwrap();
        assert!(text.starts_with(HEADER));
        assert!(text.ends_with(
            "\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 \
             /etc/ssh/unity/authorized_keys/%u\n"
        ));
        // Once sshd reads the drop-in, the entry is in force: nothing more to write.
        let after =
            format!("authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2 {entry}\n");
        assert_eq!(render(&effective_list(&after).unwrap(), &entry), None);
        // `none`, a percent sign and white space in the managed directory.
        let none = vec!["none".to_owned()];
        let odd = managed_entry(Path::new("/srv/100% keys"));
        assert_eq!(odd, "/srv/100%% keys/%u");
        assert!(render(&none, &odd)
            .unwrap()
            .ends_with("\nAuthorizedKeysFile \"/srv/100%% keys/%u\"\n"));
        assert_eq!(effective_list("port 22\n"), None);
    }
}
