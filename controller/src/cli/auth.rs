//! `unity-controller user ...` and `unity-controller apitoken ...`: dashboard users and API
//! tokens, through the daemon's admin socket (or the database when it is stopped).

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse};
use crate::config::Config;
use anyhow::Context as _;
use clap::Subcommand;
use std::path::PathBuf;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a dashboard user. Without --password-file a random password is generated and printed.
    Add {
        name: String,
        /// admin (group admins: administer on all hosts) or viewer (group viewers: view on all
        /// hosts).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// User groups instead of the role's group (comma-separated).
        #[arg(long, value_delimiter = ',')]
        groups: Option<Vec<String>>,
        /// Read the password from this file (first line); never from the command line.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List users with their role, groups and second factor.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a user with their sessions, API tokens and second factors.
    Delete { name: String },
    /// Replace a user's groups (comma-separated).
    Groups {
        name: String,
        #[arg(value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// Set a user's password (the way back in for a locked-out user). Without
    /// --password-file a random password is generated and printed.
    Password {
        name: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Turn off a user's authenticator app and remove their passkeys (a lost phone or key).
    ResetSecondFactor { name: String },
}

async fn read_password(password_file: Option<PathBuf>) -> anyhow::Result<(String, bool)> {
    match password_file {
        Some(path) => {
            let text = tokio::fs::read_to_string(&path)
                .await
                .with_context(|| format!("reading {}", path.display()))?;
            Ok((text.lines().next().unwrap_or("").to_owned(), false))
        }
        None => Ok((crate::domain::users::random_password(), true)),
    }
}

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Create an API token acting as USER; printed once (only its hash is stored).
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// read (view only: enough for Grafana, backups, scripts that only look), operate (also
        /// restart, update, collect now) or admin (the user's full rights).
        #[arg(long, default_value = "read")]
        scope: String,
        /// Lifetime, e.g. 30d or 1y (1m to 3650d), or never.
        #[arg(long, default_value = "never")]
        expires: String,
        /// Only the hosts of this host group (see `group host-groups`); default: every host
        /// the user has rights on.
        #[arg(long = "hosts")]
        host_group: Option<String>,
    },
    /// List API tokens with scope, expiry and last use (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API token (see `list` for ids): requests with it are refused from now on.
    Revoke { token_id: String },
}

pub async fn run_user(command: UserCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            role,
            groups,
            password_file,
        } => {
            let (password, generated) = read_password(password_file).await?;
            let request = AdminRequest::AddUser {
                name,
                role: role.clone(),
                password: password.clone(),
                groups,
            };
            match admin_call(config, request).await? {
                AdminResponse::UserAdded { name } => {
                    outln!("Added user {name} ({role}).");
                    if generated {
                        outln!("Password (shown once): {password}");
                    }
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        UserCommand::List { json } => match admin_call(config, AdminRequest::ListUsers).await? {
            AdminResponse::Users(users) if json => print_json(&users),
            AdminResponse::Users(users) => {
                outln!(
                    "{:<24} {:<8} {:<30} {:<4} CREATED",
                    "USER",
                    "ROLE",
                    "GROUPS",
                    "2FA"
                );
                for user in users {
                    outln!(
                        "{:<24} {:<8} {:<30} {:<4} {}",
                        user.name,
                        user.role,
                        user.groups.join(","),
                        if user.second_factor { "yes" } else { "no" },
                        format_time_ms(user.created_at_ms)
                    );
                }
                Ok(())
            }
            other => unexpected(other),
        },
        UserCommand::Delete { name } => {
            done(admin_call(config, AdminRequest::DeleteUser { name }).await?)
        }
        UserCommand::Groups { name, groups } => {
            done(admin_call(config, AdminRequest::SetUserGroups { name, groups }).await?)
        }
        UserCommand::Password {
            name,
            password_file,
        } => {
            let (password, generated) = read_password(password_file).await?;
            let request = AdminRequest::SetPassword {
                name,
                password: password.clone(),
            };
            done(admin_call(config, request).await?)?;
            if generated {
                outln!("Password (shown once): {password}");
            }
            Ok(())
        }
        UserCommand::ResetSecondFactor { name } => {
            done(admin_call(config, AdminRequest::ResetSecondFactor { name }).await?)
        }
    }
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

fn expiry(expires_at_ms: Option<i64>, expired: bool) -> String {
    match expires_at_ms {
        None => "never".into(),
        Some(at_ms) if expired => format!("expired {}", format_time_ms(at_ms)),
        Some(at_ms) => format_time_ms(at_ms),
    }
}

pub async fn run_apitoken(command: ApiTokenCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        ApiTokenCommand::Create {
            user,
            name,
            scope,
            expires,
            host_group,
        } => {
            let request = AdminRequest::CreateApiToken {
                user,
                name,
                scope: Some(scope),
                expires_in: Some(expires),
                host_group,
            };
            match admin_call(config, request).await? {
                AdminResponse::ApiToken {
                    token,
                    token_id,
                    scope,
                    expires_at_ms,
                } => {
                    outln!(
                        "API token {token_id}, scope {scope}, expires {} (shown once; send as `Authorization: Bearer <token>`):",
                        expiry(expires_at_ms, false)
                    );
                    outln!("{token}");
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        ApiTokenCommand::List { json } => {
            match admin_call(config, AdminRequest::ListApiTokens).await? {
                AdminResponse::ApiTokens(tokens) if json => print_json(&tokens),
                AdminResponse::ApiTokens(tokens) => {
                    outln!(
                        "{:<13} {:<20} {:<16} {:<6} {:<22} {:<30} LAST USED",
                        "ID",
                        "NAME",
                        "USER",
                        "SCOPE",
                        "CREATED",
                        "EXPIRES"
                    );
                    for token in tokens {
                        outln!(
                            "{:<13} {:<20} {:<16} {:<6} {:<22} {:<30} {}",
                            token.token_id,
                            token.name,
                            token.owner,
                            token.scope.as_str(),
                            format_time_ms(token.created_at_ms),
                            expiry(token.expires_at_ms, token.expired),
                            format_time_ms(token.last_used_ms.unwrap_or(0))
                        );
                    }
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        ApiTokenCommand::Revoke { token_id } => {
            match admin_call(config, AdminRequest::RevokeApiToken { token_id }).await? {
                AdminResponse::ApiTokenRevoked { token_id } => {
                    outln!("Revoked API token {token_id}.");
                    Ok(())
                }
                other => unexpected(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Args, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        let args = [&["unity-controller"], args].concat();
        Args::try_parse_from(args).map(|args| args.command)
    }

    #[test]
    fn issue_13_apitoken_create_takes_a_scope_and_an_expiry_defaulting_to_least_privilege() {
        let command = parse(&["apitoken", "create", "--user", "ada", "--name", "backup"]).unwrap();
        let Command::Apitoken(ApiTokenCommand::Create { scope, expires, .. }) = command else {
            panic!("{command:?}")
        };
        assert_eq!((scope.as_str(), expires.as_str()), ("read", "never"));
        let command = parse(&[
            "apitoken",
            "create",
            "--user",
            "ada",
            "--name",
            "deploy",
            "--scope",
            "admin",
            "--expires",
            "30d",
        ])
        .unwrap();
        let Command::Apitoken(ApiTokenCommand::Create { scope, expires, .. }) = command else {
            panic!("{command:?}")
        };
        assert_eq!((scope.as_str(), expires.as_str()), ("admin", "30d"));
        assert!(matches!(
            parse(&["apitoken", "revoke", "0a1b2c"]).unwrap(),
            Command::Apitoken(ApiTokenCommand::Revoke { token_id }) if token_id == "0a1b2c"
        ));
        assert!(matches!(
            parse(&["apitoken", "list", "--json"]).unwrap(),
            Command::Apitoken(ApiTokenCommand::List { json: true })
        ));
    }
}
