//! `authorized_keys` lines built by construction from typed values (pure): a grant's options
//! (`from="…"`, `command="…"`, `no-port-forwarding`, `no-agent-forwarding`, `no-pty`) are
//! checked one by one and quoted here, never pasted from what someone typed, so no value can
//! close its quotes, add an option or start a second line.

use crate::storage::ssh_access::GrantOptions;
use unity_shared::model::ssh::SshLine;

/// Checks one `from=` pattern: a host name or address pattern (`*`, `?`, a leading `!`) or a
/// CIDR, without quotes, commas, blanks or control characters.
pub fn check_from(pattern: &str) -> Result<(), String> {
    let valid = !pattern.is_empty()
        && pattern.len() <= 255
        && pattern.chars().enumerate().all(|(at, c)| {
            c.is_ascii_alphanumeric() || ".:*?/_-".contains(c) || (c == '!' && at == 0)
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "from pattern {pattern:?}: expected a host or address pattern or a CIDR (letters, digits, '.', ':', '*', '?', '/', '-', a leading '!')"
        ))
    }
}

/// Checks a forced `command=`: one line without `"` or `\` (which could end its quotes).
pub fn check_command(command: &str) -> Result<(), String> {
    if command.trim().is_empty() {
        return Err("the forced command is empty".into());
    }
    if command.len() > 1024 {
        return Err("the forced command is longer than 1024 bytes".into());
    }
    if let Some(bad) = command
        .chars()
        .find(|c| c.is_control() || *c == '"' || *c == '\\')
    {
        return Err(format!(
            "the forced command may not contain {bad:?} (quotes, backslashes and control characters are refused)"
        ));
    }
    Ok(())
}

/// Checks every option of a grant.
pub fn check_options(options: &GrantOptions) -> Result<(), String> {
    options
        .from
        .iter()
        .try_for_each(|pattern| check_from(pattern))?;
    options.command.as_deref().map_or(Ok(()), check_command)
}

/// The option list (`from="…",no-pty`), empty when there are none.
pub fn options_text(options: &GrantOptions) -> Result<String, String> {
    check_options(options)?;
    let mut parts = Vec::new();
    if !options.from.is_empty() {
        parts.push(format!("from=\"{}\"", options.from.join(",")));
    }
    if let Some(command) = &options.command {
        parts.push(format!("command=\"{command}\""));
    }
    for (set, flag) in [
        (options.no_port_forwarding, "no-port-forwarding"),
        (options.no_agent_forwarding, "no-agent-forwarding"),
        (options.no_pty, "no-pty"),
    ] {
        if set {
            parts.push(flag.to_owned());
        }
    }
    Ok(parts.join(","))
}

/// One managed line: options, the key (`algorithm base64`, already validated) and a comment
/// naming the person (`unity:alice laptop`).
pub fn authorized_line(
    options: &GrantOptions,
    public_key: &str,
    person: &str,
    comment: &str,
) -> Result<SshLine, String> {
    let options = options_text(options)?;
    let comment: String = comment
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut line = String::new();
    if !options.is_empty() {
        line.push_str(&options);
        line.push(' ');
    }
    line.push_str(public_key);
    line.push_str(" unity:");
    line.push_str(person);
    if !comment.is_empty() {
        line.push(' ');
        line.push_str(&comment);
    }
    SshLine::new(line).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_options_are_built_from_typed_values() {
        let options = GrantOptions {
            from: vec!["10.0.0.0/8".into(), "*.lan".into(), "!10.0.0.1".into()],
            command: Some("/usr/bin/rsync --server -e.Lsfx . /backup".into()),
            no_port_forwarding: true,
            no_agent_forwarding: true,
            no_pty: true,
        };
        let line =
            authorized_line(&options, "ssh-ed25519 AAAAK", "alice", "alice@laptop\tx").unwrap();
        assert_eq!(
            line.as_str(),
            "from=\"10.0.0.0/8,*.lan,!10.0.0.1\",command=\"/usr/bin/rsync --server -e.Lsfx . /backup\",no-port-forwarding,no-agent-forwarding,no-pty ssh-ed25519 AAAAK unity:alice alice@laptop x"
        );
        let plain =
            authorized_line(&GrantOptions::default(), "ssh-ed25519 AAAAK", "bob", "").unwrap();
        assert_eq!(plain.as_str(), "ssh-ed25519 AAAAK unity:bob");
    }

    #[test]
    fn issue_16_option_values_cannot_escape_their_quotes() {
        for bad in ["a\" ,no-pty", "x,y", "a b", "", "10.0.0.0/8\n", "a!b"] {
            assert!(check_from(bad).is_err(), "{bad:?}");
        }
        for bad in ["echo \"hi\"", "echo \\", "a\nb", "a\rb", " "] {
            assert!(check_command(bad).is_err(), "{bad:?}");
        }
        let options = GrantOptions {
            command: Some("true\" ssh-ed25519 EVIL".into()),
            ..GrantOptions::default()
        };
        assert!(authorized_line(&options, "ssh-ed25519 AAAAK", "eve", "").is_err());
    }
}
