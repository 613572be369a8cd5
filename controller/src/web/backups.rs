//! A container's stored backups, newest first: each with its image, age, what changed from the
//! backup before it (the field diff of [`crate::domain::backups`]), and, for those who may
//! operate the host, a "Restore this" button (POST with CSRF). The backup "Roll back" restores
//! (the one the newest successful update took) is marked. A database's backup also names its
//! dump (kind, size, how long it took: issue 17 §1); restoring it puts that data back as the
//! agent's `data_restore` policy says. The page says that backups carry
//! the container's environment, that the controller keeps them sealed, and which variables
//! stayed on the host.

use super::format::{ago, short_digest, url_segment};
use super::layout::{self, Frame, Nav};
use super::{admin_csrf, PageCaller};
use crate::clock::now_ms;
use crate::domain::backups::{self, BackupWithChanges, FieldChange};
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use maud::{html, Markup};
use unity_shared::proto::AgentId;

/// What the page shows.
#[derive(Debug)]
pub struct BackupsView {
    pub agent_id: AgentId,
    pub container: String,
    /// Newest first, each with its changes from the next older backup (`None` for the oldest).
    pub backups: Vec<BackupWithChanges>,
    /// The backup "Roll back" restores, when known.
    pub rollback_target: Option<String>,
}

fn value_text(value: Option<&serde_json::Value>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| value.to_string())
}

fn changes_table(changes: &[FieldChange]) -> Markup {
    html! {
        @if changes.is_empty() {
            span.muted { "no configuration change from the backup before" }
        } @else {
            details {
                summary { (changes.len()) " change(s) from the backup before" }
                table.diff {
                    thead { tr { th { "Field" } th { "Before" } th { "After" } } }
                    tbody {
                        @for change in changes {
                            tr {
                                td { code { (change.path) } }
                                td { code { (value_text(change.before.as_ref())) } }
                                td { code { (value_text(change.after.as_ref())) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The backup's database dump and volume archives, for people.
fn data_cell(backup: &unity_shared::model::update::Backup) -> Markup {
    html! {
        @if let Some(dump) = &backup.dump {
            div.dump {
                (dump.kind.word()) " dump, "
                (super::metric_names::bytes(dump.size_bytes as f64))
                ", taken in " (format!("{:.1}", dump.duration_ms as f64 / 1000.0)) " s"
                div.sub { (dump.file) }
            }
        }
        @if !backup.volume_archives.is_empty() {
            div { (backup.volume_archives.len()) " volume archive(s)" }
        }
        @if backup.dump.is_none() && backup.volume_archives.is_empty() {
            span.muted { "configuration only" }
        }
    }
}

fn restore_button(view: &BackupsView, backup: &str, csrf: &str) -> Markup {
    let action = format!(
        "/hosts/{}/containers/{}/restore",
        url_segment(view.agent_id.as_str()),
        url_segment(&view.container)
    );
    html! {
        form method="post" action=(action) class="inline op" data-confirm={ "Restore " (backup) " over the container " (view.container) "? Its current state is replaced." } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="backup" value=(backup);
            button type="submit" data-op="restore" { "Restore this" }
        }
    }
}

/// The page (pure); with the caller's CSRF token (operators), the restore buttons.
pub fn render(view: &BackupsView, caller: &Caller, now: i64) -> Markup {
    let csrf = admin_csrf(caller);
    let content = html! {
        h1 { "Backups of " (view.container) }
        p {
            a href={ "/hosts/" (url_segment(view.agent_id.as_str())) "#section-containers" } { "Back to the host" }
        }
        p #backups-environment {
            "A backup is the container's full configuration, including its environment "
            "variables, which often hold passwords and tokens. The agent sends it to the "
            "controller with the operation's result, and the controller stores it sealed with "
            "its sealing key (as registry credentials). Variables matching the agent's "
            code { "backup_env_exclude" } " patterns (by default names containing PASSWORD, "
            "SECRET, TOKEN, KEY, …) are not sent: their values stay in the agent's own copy of "
            "the backup, which is what a restore uses."
        }
        p.muted {
            "\"Roll back\" restores the backup the last successful update took (the version before it), "
            "not the newest backup, which after a failed update is the version already running."
        }
        @if view.backups.is_empty() {
            p.muted #no-backups { "The controller has no backup of this container yet." }
        } @else {
            div.table { table #backups {
                thead { tr { th { "Taken" } th { "Image" } th { "Data" } th { "Changes" } th {} } }
                tbody {
                    @for (backup, changes) in &view.backups {
                        tr data-backup=(backup.backup) {
                            td {
                                (ago(backup.taken_at_ms as i64, now))
                                div.sub { (backup.backup) }
                                @if !backup.excluded_env.is_empty() {
                                    div.sub.excluded-env { "Kept on the host only: " (backup.excluded_env.join(", ")) }
                                }
                                @if view.rollback_target.as_deref() == Some(backup.backup.as_str()) {
                                    div { strong.rollback-target { "Roll back restores this" } }
                                }
                            }
                            td { (backup.image_ref) div.sub { (short_digest(&backup.image_id)) } }
                            td { (data_cell(&backup.backup_record)) }
                            td {
                                @match changes {
                                    Some(changes) => (changes_table(changes)),
                                    None => span.muted { "oldest kept" },
                                }
                            }
                            td { @if let Some(csrf) = csrf { (restore_button(view, &backup.backup, csrf)) } }
                        }
                    }
                }
            } }
        }
    };
    layout::page(Frame::new("Backups", Nav::Updates), caller, content)
}

/// `GET /hosts/{agent_id}/containers/{name}/backups`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
) -> Result<Markup, ApiError> {
    let view = blocking(&state.ctx, move |ctx| {
        let agent_id = parse_agent_id(&agent_id)?;
        let with_changes = backups::with_changes(ctx, &agent_id, &container)?;
        let rollback_target = backups::rollback_target(ctx, &agent_id, &container)?;
        Ok::<_, ApiError>(BackupsView {
            agent_id,
            container,
            backups: with_changes,
            rollback_target,
        })
    })
    .await?;
    Ok(render(&view, &caller.0, now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backups::BackupView;
    use crate::storage::auth::Role;
    use crate::web::layout::tests::caller;
    use unity_shared::model::update::Backup;

    fn backup(name: &str, image: &str) -> BackupView {
        let record = Backup {
            container: "app".into(),
            taken_at_ms: 0,
            image_ref: image.into(),
            image_id: format!("sha256:{name}"),
            inspect_json: "{}".into(),
            volume_archives: Vec::new(),
            dump: (name == "2.json").then(|| unity_shared::model::update::DatabaseDump {
                kind: unity_shared::model::database_image::DatabaseKind::Postgres,
                file: "2-dump.sql".into(),
                size_bytes: 3 * 1024 * 1024,
                duration_ms: 1500,
            }),
            excluded_env: Vec::new(),
        };
        BackupView {
            backup: name.into(),
            operation_id: format!("op-{name}"),
            taken_at_ms: 0,
            image_ref: image.into(),
            image_id: record.image_id.clone(),
            inspect: serde_json::json!({}),
            excluded_env: match name {
                "2.json" => vec!["DB_PASSWORD".into(), "<X>_TOKEN".into()],
                _ => Vec::new(),
            },
            backup_record: record,
        }
    }

    fn view() -> BackupsView {
        let change = FieldChange {
            path: "image_ref".into(),
            before: Some(serde_json::json!("app:1.0")),
            after: Some(serde_json::json!("app:<1.1>")),
        };
        BackupsView {
            agent_id: AgentId::new("nas-1").unwrap(),
            container: "app".into(),
            backups: vec![
                (backup("2.json", "app:<1.1>"), Some(vec![change])),
                (backup("1.json", "app:1.0"), None),
            ],
            rollback_target: Some("1.json".into()),
        }
    }

    #[test]
    fn issue_17_every_backup_can_be_restored_with_its_diff_and_the_rollback_target_marked() {
        let html = render(&view(), &caller(Role::Admin), 0).into_string();
        for name in ["1.json", "2.json"] {
            assert!(
                html.contains(&format!("name=\"backup\" value=\"{name}\"")),
                "{html}"
            );
        }
        assert!(
            html.contains("action=\"/hosts/nas-1/containers/app/restore\""),
            "{html}"
        );
        assert!(
            html.contains("name=\"csrf\" value=\"csrf-token\""),
            "{html}"
        );
        assert!(
            html.contains("1 change(s) from the backup before"),
            "{html}"
        );
        assert!(html.contains("app:&lt;1.1&gt;"), "{html}");
        let target = html.find("Roll back restores this").expect("marked");
        assert!(
            target > html.find("data-backup=\"1.json\"").unwrap(),
            "{html}"
        );
        assert!(
            html.contains("postgres dump, 3.00 MiB, taken in 1.5 s"),
            "{html}"
        );
        assert!(html.contains("configuration only"), "{html}");
        let viewer = render(&view(), &caller(Role::Viewer), 0).into_string();
        assert!(!viewer.contains("Restore this"), "{viewer}");
    }

    #[test]
    fn issue_17_the_page_says_the_environment_is_copied_and_what_stayed_on_the_host() {
        let html = render(&view(), &caller(Role::Admin), 0).into_string();
        assert!(html.contains("environment variables"), "{html}");
        assert!(html.contains("sealed"), "{html}");
        assert!(html.contains("backup_env_exclude"), "{html}");
        assert!(
            html.contains("Kept on the host only: DB_PASSWORD, &lt;X&gt;_TOKEN"),
            "{html}"
        );
    }
}
