//! `unity-controller group ...`: user groups and their rights per host group, host groups
//! (label selectors and lists) and host labels, through the daemon's admin socket (or the
//! database when it is stopped).

use super::{admin_call, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse};
use crate::config::Config;
use clap::Subcommand;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List user groups with their rights and members.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a user group (without rights).
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a user group; its members lose its rights.
    Delete { name: String },
    /// Give GROUP a right on the hosts of HOST_GROUP (`all` is every host).
    Grant {
        group: String,
        /// A host group, or `all`.
        #[arg(long = "hosts")]
        host_group: String,
        /// view, operate, administer, or none (to take it away).
        #[arg(long)]
        right: String,
    },
    /// List host groups with the hosts in them now.
    HostGroups {
        #[arg(long)]
        json: bool,
    },
    /// Add or replace a host group: hosts with every --label, plus every --host.
    SetHosts {
        name: String,
        /// NAME=VALUE a host must carry; repeatable.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// An agent id; repeatable.
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
    /// Delete a host group and every right on it.
    DeleteHosts { name: String },
    /// Set a host's labels (NAME=VALUE ...; none: remove them all).
    Label {
        agent_id: String,
        labels: Vec<String>,
    },
}

fn done(response: AdminResponse) -> anyhow::Result<()> {
    match response {
        AdminResponse::Done(text) => {
            outln!("{text}");
            Ok(())
        }
        other => unexpected(other),
    }
}

pub async fn run_group(command: GroupCommand, config: &Config) -> anyhow::Result<()> {
    let request = match command {
        GroupCommand::List { json } => {
            return match admin_call(config, AdminRequest::ListGroups).await? {
                AdminResponse::Groups(groups) if json => print_json(&groups),
                AdminResponse::Groups(groups) => {
                    outln!("{:<20} {:<40} MEMBERS", "GROUP", "RIGHTS");
                    for group in groups {
                        let rights: Vec<String> = group
                            .rights
                            .iter()
                            .map(|(hosts, right)| format!("{right} on {hosts}"))
                            .collect();
                        outln!(
                            "{:<20} {:<40} {}",
                            group.name,
                            rights.join(", "),
                            group.members.join(", ")
                        );
                    }
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        GroupCommand::HostGroups { json } => {
            return match admin_call(config, AdminRequest::ListHostGroups).await? {
                AdminResponse::HostGroups(groups) if json => print_json(&groups),
                AdminResponse::HostGroups(groups) => {
                    outln!("{:<20} {:<30} HOSTS NOW", "HOST GROUP", "LABELS");
                    for group in groups {
                        let labels: Vec<String> = group
                            .labels
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        let members: Vec<&str> =
                            group.members.iter().map(|id| id.as_str()).collect();
                        outln!(
                            "{:<20} {:<30} {}",
                            group.name,
                            labels.join(","),
                            members.join(", ")
                        );
                    }
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        GroupCommand::Create { name, description } => {
            AdminRequest::CreateGroup { name, description }
        }
        GroupCommand::Delete { name } => AdminRequest::DeleteGroup { name },
        GroupCommand::Grant {
            group,
            host_group,
            right,
        } => AdminRequest::SetRight {
            group,
            host_group,
            right,
        },
        GroupCommand::SetHosts {
            name,
            labels,
            hosts,
        } => AdminRequest::PutHostGroup {
            name,
            labels,
            hosts,
        },
        GroupCommand::DeleteHosts { name } => AdminRequest::DeleteHostGroup { name },
        GroupCommand::Label { agent_id, labels } => AdminRequest::SetLabels { agent_id, labels },
    };
    done(admin_call(config, request).await?)
}

#[cfg(test)]
mod tests {
    use super::super::{Args, Command};
    use super::*;
    use clap::Parser;

    #[test]
    fn issue_21_group_commands_parse() {
        let parse = |args: &[&str]| {
            Args::try_parse_from([&["unity-controller"], args].concat()).map(|args| args.command)
        };
        assert!(matches!(
            parse(&["group", "grant", "family", "--hosts", "media", "--right", "operate"]).unwrap(),
            Command::Group(GroupCommand::Grant { group, host_group, right })
                if group == "family" && host_group == "media" && right == "operate"
        ));
        assert!(matches!(
            parse(&["group", "set-hosts", "media", "--label", "role=media", "--host", "nas"]).unwrap(),
            Command::Group(GroupCommand::SetHosts { labels, hosts, .. })
                if labels == ["role=media"] && hosts == ["nas"]
        ));
        assert!(matches!(
            parse(&["group", "label", "nas", "role=media"]).unwrap(),
            Command::Group(GroupCommand::Label { labels, .. }) if labels == ["role=media"]
        ));
    }
}
