//! The SSH access page (`/ssh`): people and their keys (fingerprint, type, comment), grants
//! with their expiry, each host's mode, drift policy and last outcome per user, and drift with
//! the lines found against those expected and Restore / Adopt buttons, lines adopted earlier
//! with a Clear button, and Remove buttons for people and keys (each needs a ticked
//! confirmation). Admins get the forms (CSRF checked by the route guard); the changes go
//! through [`crate::domain::ssh_access`] and are audited there (the form handlers are in
//! `forms.rs`). Routes added by [`routes`].

use super::format::{datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::{admin_csrf, PageCaller};
use crate::domain::access::{Need, Right};
use crate::domain::error::DomainError;
use crate::domain::ssh_access::views::{DriftView, HostAccessView};
use crate::domain::ssh_access::{self as ssh, apply, drift, GrantView, PersonView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::blocking;
use crate::http::routes::Routes;
use crate::http::state::AppState;
use axum::extract::State;
use maud::{html, Markup};

mod forms;

use forms::{
    add_grant, add_key, add_person, adopt, clear_adopted, remove_grant, remove_key, remove_person,
    restore,
};

const PAGE: &str = "/ssh";

/// Adds the page's routes.
pub fn routes(routes: Routes) -> Routes {
    use Need::AllHosts;
    use Right::{Administer, View};
    routes
        .get(PAGE, AllHosts(View), page)
        .post("/ssh/people", AllHosts(Administer), add_person)
        .post("/ssh/keys", AllHosts(Administer), add_key)
        .post("/ssh/grants", AllHosts(Administer), add_grant)
        .post(
            "/ssh/grants/{id}/delete",
            AllHosts(Administer),
            remove_grant,
        )
        .post(
            "/ssh/hosts/{agent_id}/restore",
            AllHosts(Administer),
            restore,
        )
        .post(
            "/ssh/hosts/{agent_id}/adopt/{user}",
            AllHosts(Administer),
            adopt,
        )
        .post(
            "/ssh/hosts/{agent_id}/clear-adopted/{user}",
            AllHosts(Administer),
            clear_adopted,
        )
        .post(
            "/ssh/people/{name}/delete",
            AllHosts(Administer),
            remove_person,
        )
        .post("/ssh/keys/delete", AllHosts(Administer), remove_key)
}

/// What the page shows.
#[derive(Debug, Clone)]
pub struct SshView {
    pub people: Vec<PersonView>,
    pub grants: Vec<GrantView>,
    pub hosts: Vec<HostAccessView>,
    pub drift: Vec<DriftView>,
}

fn people_section(view: &SshView, csrf: Option<&str>) -> Markup {
    html! {
        h2 { "People and keys" }
        @if view.people.is_empty() { p.muted { "No people yet." } }
        @else { div.table { table #ssh-people {
            thead { tr { th { "Person" } th { "Fingerprint" } th { "Type" } th { "Comment" } th { "Added" } th {} } }
            tbody { @for person in &view.people {
                @if person.keys.is_empty() { tr { td { (person.name) } td.muted colspan="4" { "no keys" } td {} } }
                @for key in &person.keys { tr {
                    td { (person.name) } td { code { (key.fingerprint) } }
                    td { (key.algorithm) " " (key.bits) } td { (key.comment) }
                    td { (datetime(key.added_at_ms)) " by " (key.added_by) }
                    td { @if let Some(csrf) = csrf {
                        form method="post" action="/ssh/keys/delete" class="inline" data-confirm={ "Remove the key " (key.fingerprint) " from every host?" } {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="fingerprint" value=(key.fingerprint);
                            label { input type="checkbox" name="confirm" value="yes" required; " remove this key everywhere" }
                            button type="submit" class="danger" { "Remove key" }
                        }
                    } }
                } }
                @if let Some(csrf) = csrf { tr { td colspan="6" {
                    form method="post" action={ "/ssh/people/" (url_segment(&person.name)) "/delete" } class="inline" data-confirm={ "Remove " (person.name) ", their keys and every grant of theirs?" } {
                        input type="hidden" name="csrf" value=(csrf);
                        label { input type="checkbox" name="confirm" value="yes" required; " remove " (person.name) ", their keys and every grant of theirs" }
                        button type="submit" class="danger" { "Remove person" }
                    }
                } } }
            } }
        } } }
    }
}

fn grants_section(view: &SshView, csrf: Option<&str>) -> Markup {
    html! {
        h2 { "Grants" }
        @if view.grants.is_empty() { p.muted { "No grants: no managed key logs in anywhere." } }
        @else { div.table { table #ssh-grants {
            thead { tr { th { "Person" } th { "Key" } th { "As" } th { "On" } th { "Options" } th { "Expires" } th {} } }
            tbody { @for grant in &view.grants { tr {
                td { (grant.person) }
                td { @if let Some(key) = &grant.key { code { (key) } } @else { "all keys" } }
                td { (grant.users.join(", ")) }
                td { @if let Some(host) = &grant.host { a href={ "/hosts/" (url_segment(host.as_str())) } { (host) } }
                     @if let Some(group) = &grant.group { "group " (group) } }
                td {
                    @if !grant.from.is_empty() { div { "from " (grant.from.join(",")) } }
                    @if let Some(command) = &grant.command { div { "command " code { (command) } } }
                    @if grant.no_port_forwarding { div { "no port forwarding" } }
                    @if grant.no_agent_forwarding { div { "no agent forwarding" } }
                    @if grant.no_pty { div { "no pty" } }
                }
                td { @match grant.expires_at_ms {
                    None => { "never" }
                    Some(at) => { @if grant.expired { span.badge.muted { "expired" } " " } (datetime(at)) }
                } }
                td { @if let Some(csrf) = csrf {
                    form method="post" action={ "/ssh/grants/" (grant.id) "/delete" } class="inline" data-confirm="Remove this grant? Its logins stop working." {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" class="danger" { "Remove" }
                    }
                } }
            } } }
        } } }
    }
}

fn hosts_section(view: &SshView, csrf: Option<&str>) -> Markup {
    html! {
        h2 { "Hosts" }
        div.table { table #ssh-hosts {
            thead { tr { th { "Host" } th { "Mode" } th { "On drift" } th { "Generation" } th { "Applied" } th { "Users" } } }
            tbody { @for host in &view.hosts { tr {
                td { (host.host) }
                td { (host.mode) } td { (host.on_drift) } td { (host.generation) }
                td { @match (host.applied_generation, host.applied_at_ms) {
                    (Some(generation), Some(at)) => { (generation) " at " (datetime(at)) }
                    _ => { "never" }
                } @if let Some(error) = &host.error { div.sub { (error) } } }
                td { @for user in &host.users { div {
                    (user.user) ": " span class={ "badge " (outcome_class(&user.outcome)) } { (user.outcome) }
                    @if let Some(message) = &user.message { " " (message) }
                } }
                @for (user, lines) in &host.adopted { div.adopted {
                    "adopted for " (user) ":"
                    pre { @for line in lines { (line) "\n" } }
                    @if let Some(csrf) = csrf {
                        form method="post" action={ "/ssh/hosts/" (url_segment(host.host.as_str())) "/clear-adopted/" (url_segment(user)) } class="inline" {
                            input type="hidden" name="csrf" value=(csrf);
                            label { input type="checkbox" name="confirm" value="yes" required; " take these lines out of " (user) "'s keys on this host" }
                            button type="submit" class="danger" { "Clear" }
                        }
                    }
                } } }
            } } }
        } }
    }
}

fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "unchanged" | "written" | "removed" => "ok",
        "failed" => "critical",
        _ => "warning",
    }
}

fn drift_section(view: &SshView, csrf: Option<&str>) -> Markup {
    html! {
        h2 { "Drift" }
        @if view.drift.is_empty() { p.muted { "No hand edits found in managed keys." } }
        @for item in &view.drift { div.card.drift {
            h3 { (item.user) " on " (item.host) }
            p.sub { "Found " (datetime(item.at_ms)) }
            pre { @for line in &item.added { "+ " (line) "\n" } @for line in &item.missing { "- " (line) "\n" } }
            @if let Some(csrf) = csrf {
                @let host = url_segment(item.host.as_str());
                form method="post" action={ "/ssh/hosts/" (host) "/restore" } class="inline" {
                    input type="hidden" name="csrf" value=(csrf);
                    label { input type="checkbox" name="confirm" required; " write Unity's keys back (the lines marked + are removed)" }
                    button type="submit" class="danger" { "Restore" }
                }
                form method="post" action={ "/ssh/hosts/" (host) "/adopt/" (url_segment(&item.user)) } class="inline" {
                    input type="hidden" name="csrf" value=(csrf);
                    label { input type="checkbox" name="confirm" required; " keep the lines marked + for this user on this host" }
                    button type="submit" { "Adopt" }
                }
            }
        } }
    }
}

fn forms(view: &SshView, csrf: &str) -> Markup {
    html! {
        h2 { "Add" }
        form method="post" action="/ssh/people" class="card" id="ssh-add-person" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Person " input name="name" required placeholder="alice"; }
            button type="submit" { "Add person" }
        }
        form method="post" action="/ssh/keys" class="card" id="ssh-add-key" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Person " select name="person" { @for person in &view.people { option { (person.name) } } } }
            label { "Public key (the .pub file) " textarea name="public_key" required rows="3" placeholder="ssh-ed25519 AAAA… alice@laptop" {} }
            button type="submit" { "Add key" }
        }
        form method="post" action="/ssh/grants" class="card" id="ssh-add-grant" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Person " select name="person" { @for person in &view.people { option { (person.name) } } } }
            label { "Log in as (UNIX users, comma-separated) " input name="users" required placeholder="root"; }
            label { "Host " select name="host" { option value="" { "(a host group instead)" } @for host in &view.hosts { option { (host.host) } } } }
            label { "or host group " input name="group" placeholder="all"; }
            label { "Expires after " input name="expires_in" placeholder="30d"; }
            label { "From (patterns or CIDRs, comma-separated) " input name="from" placeholder="192.168.1.0/24"; }
            label { "Forced command " input name="command"; }
            label { input type="checkbox" name="no_port_forwarding" value="on"; " no port forwarding" }
            label { input type="checkbox" name="no_agent_forwarding" value="on"; " no agent forwarding" }
            label { input type="checkbox" name="no_pty" value="on"; " no pty" }
            button type="submit" { "Grant" }
        }
    }
}

/// The page (pure).
pub fn render(view: &SshView, caller: &Caller) -> Markup {
    let csrf = admin_csrf(caller).filter(|_| caller.is_admin());
    let content = html! {
        h1 { "SSH access" }
        p.muted { "Managed authorized keys: the agents write granted keys into a per-user file that sshd is made to read (file mode, the default), or between '# BEGIN UNITY MANAGED KEYS' and '# END UNITY MANAGED KEYS' in each user's authorized_keys (block mode), leaving every other line alone. Hand edits of the managed keys are drift." }
        (drift_section(view, csrf))
        (people_section(view, csrf))
        (grants_section(view, csrf))
        (hosts_section(view, csrf))
        @if let Some(csrf) = csrf { (forms(view, csrf)) }
    };
    layout::page(Frame::new("SSH access", Nav::Ssh), caller, content)
}

/// `GET /ssh`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let view = blocking(&state.ctx, |ctx| {
        Ok::<_, DomainError>(SshView {
            people: ssh::people(ctx)?,
            grants: ssh::grants(ctx)?,
            hosts: apply::status(ctx)?,
            drift: drift::list(ctx)?,
        })
    })
    .await?;
    Ok(render(&view, &caller.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ssh_access::views::OutcomeView;
    use crate::storage::auth::Role;
    use crate::web::layout::tests::caller;
    use unity_shared::proto::AgentId;

    pub fn sample(text: &str) -> SshView {
        let host = AgentId::new("nas-1").unwrap();
        SshView {
            people: vec![PersonView {
                name: "alice".into(),
                keys: vec![crate::domain::ssh_access::KeyView {
                    person: "alice".into(),
                    fingerprint: "SHA256:abc".into(),
                    algorithm: "ssh-ed25519".into(),
                    bits: 256,
                    comment: text.into(),
                    added_by: "ada".into(),
                    added_at_ms: 1,
                }],
                added_by: "ada".into(),
                added_at_ms: 1,
            }],
            grants: vec![GrantView {
                id: 7,
                person: "alice".into(),
                key: None,
                users: vec!["root".into()],
                host: Some(host.clone()),
                group: None,
                expires_at_ms: Some(5),
                expired: true,
                from: vec![],
                command: Some(text.into()),
                no_port_forwarding: true,
                no_agent_forwarding: false,
                no_pty: false,
                added_by: "ada".into(),
                added_at_ms: 1,
            }],
            hosts: vec![HostAccessView {
                host: host.clone(),
                mode: "block".into(),
                on_drift: "report".into(),
                generation: 3,
                applied_generation: Some(3),
                applied_at_ms: Some(1),
                error: None,
                users: vec![OutcomeView {
                    user: "root".into(),
                    outcome: "failed".into(),
                    keys: None,
                    found: vec![],
                    message: Some(text.into()),
                }],
                adopted: vec![("root".into(), vec![text.into()])],
            }],
            drift: vec![DriftView {
                host,
                user: "root".into(),
                found: vec![text.into()],
                expected: vec!["ssh-ed25519 K unity:alice".into()],
                added: vec![text.into()],
                missing: vec!["ssh-ed25519 K unity:alice".into()],
                at_ms: 1,
            }],
        }
    }

    #[test]
    fn issue_16_admins_get_forms_and_confirmed_drift_buttons_viewers_only_read_and_text_is_escaped()
    {
        let evil = "<script>alert(1)</script>";
        let admin = render(&sample(evil), &caller(Role::Admin)).into_string();
        for part in [
            "id=\"ssh-add-grant\"",
            "/ssh/hosts/nas-1/restore",
            "/ssh/hosts/nas-1/adopt/root",
            "/ssh/grants/7/delete",
            "/ssh/hosts/nas-1/clear-adopted/root",
            "/ssh/people/alice/delete",
            "action=\"/ssh/keys/delete\"",
            "name=\"fingerprint\" value=\"SHA256:abc\"",
            "SHA256:abc",
            "expired",
            "required",
        ] {
            assert!(admin.contains(part), "{part}: {admin}");
        }
        assert!(!admin.contains(evil));
        assert!(admin.contains("&lt;script&gt;"));
        assert!(admin.contains("- ssh-ed25519 K unity:alice"));
        let viewer = render(&sample(evil), &caller(Role::Viewer)).into_string();
        assert!(
            !viewer.contains("ssh-add-grant")
                && !viewer.contains("/restore")
                && !viewer.contains("/adopt")
                && !viewer.contains("/clear-adopted")
                && !viewer.contains("/delete")
        );
        assert!(viewer.contains("SHA256:abc"));
    }
}
