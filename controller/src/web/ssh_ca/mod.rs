//! The SSH CA page (`/ssh/ca`): the CA's public key and the `@cert-authority` line for
//! `known_hosts` as text to copy, the hosts it configures with their state (hosts.rs: enable,
//! disable), the user certificates it signed (certificates.rs: revoke), and for admins a form
//! that signs a user certificate for a pasted public key (CSRF checked by the route guard)
//! and shows the certificate to copy. The CA key never reaches a page.

pub mod certificates;
pub mod hosts;

use super::format::datetime;
use super::layout::{self, Frame, Nav};
use super::{admin_csrf, PageCaller};
use crate::domain::actor::Actor;
use crate::domain::ssh_ca::hosts::SshHostView;
use crate::domain::ssh_ca::revocations::{self, IssuedView};
use crate::domain::ssh_ca::{self, SignUserRequest, SignedUserCertificate, SshCaView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm};
use crate::http::state::AppState;
use axum::extract::State;
use maud::{html, Markup};
use serde::Deserialize;

const PAGE: &str = "/ssh/ca";

/// What the page shows.
#[derive(Debug, Clone)]
pub struct SshCaPage {
    /// `Err`: why there is no CA (disabled, unreadable).
    pub ca: Result<SshCaView, String>,
    pub hosts: Vec<SshHostView>,
    /// Every user certificate signed, newest first.
    pub certificates: Vec<IssuedView>,
    /// The certificate just signed, or why it was not.
    pub signed: Option<Result<SignedUserCertificate, String>>,
    /// How an enable, disable or revoke just went.
    pub notice: Option<Result<String, String>>,
}

async fn view(state: &AppState, actor: Actor) -> Result<SshCaPage, ApiError> {
    blocking(&state.ctx, move |ctx| {
        Ok::<_, ApiError>(SshCaPage {
            ca: ssh_ca::show(ctx, &actor).map_err(|error| error.to_string()),
            hosts: crate::domain::ssh_ca::hosts::list(ctx)?,
            certificates: revocations::list(ctx)?,
            signed: None,
            notice: None,
        })
    })
    .await
}

/// The page again after an action, with how it went.
async fn outcome_page(
    state: &AppState,
    caller: &PageCaller,
    notice: Result<String, String>,
) -> Result<Markup, ApiError> {
    let mut page = view(state, caller.0.actor()).await?;
    page.notice = Some(notice);
    Ok(render(&page, &caller.0))
}

fn sign_form(csrf: &str, signed: Option<&Result<SignedUserCertificate, String>>) -> Markup {
    html! {
        h2 { "Sign a user certificate" }
        form method="post" action={ (PAGE) "/sign" } class="card" id="ssh-sign" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Public key " textarea name="public_key" required rows="3" placeholder="ssh-ed25519 AAAA… you@laptop" {} }
            label { "For (person) " input name="user" placeholder="you"; }
            label { "Principals (login names) " input name="principals" required placeholder="root"; }
            label { "Only on host (agent id) " input name="host"; }
            label { "TTL " input name="ttl" placeholder="8h"; }
            button type="submit" { "Sign" }
        }
        @match signed {
            Some(Ok(signed)) => {
                h3 { "Certificate (save as KEY-cert.pub beside your key)" }
                pre #ssh-certificate { (signed.certificate) }
                p.sub { "Serial " (signed.serial) ", principals " (signed.principals.join(", "))
                    ", valid until " (datetime(signed.valid_before as i64 * 1000)) }
            }
            Some(Err(error)) => p.critical #ssh-sign-error { (error) },
            None => {}
        }
    }
}

/// The page (pure).
pub fn render(view: &SshCaPage, caller: &Caller) -> Markup {
    let csrf = admin_csrf(caller).filter(|_| caller.is_admin());
    let content = html! {
        h1 { "SSH certificate authority" }
        @match &view.notice {
            Some(Ok(text)) => p.notice #ssh-ca-notice { (text) },
            Some(Err(text)) => p.critical #ssh-ca-notice { (text) },
            None => {}
        }
        @match &view.ca {
            Ok(ca) => {
                p.muted { "Hosts it is enabled for present host certificates; add this line to your known_hosts and host-key prompts stop." }
                h2 { "known_hosts" }
                pre #ssh-known-hosts { (ca.known_hosts_line) }
                p.sub { "CA key " code { (ca.fingerprint) } }
            }
            Err(error) => p.muted { (error) },
        }
        (hosts::hosts_table(&view.hosts, csrf.filter(|_| view.ca.is_ok())))
        @if let (Some(csrf), Ok(_)) = (csrf, &view.ca) { (sign_form(csrf, view.signed.as_ref())) }
        (certificates::certificates_table(&view.certificates, csrf))
    };
    layout::page(Frame::new("SSH CA", Nav::SshCa), caller, content)
}

/// `GET /ssh/ca`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    Ok(render(&view(&state, caller.0.actor()).await?, &caller.0))
}

/// The sign form's fields.
#[derive(Debug, Deserialize)]
pub struct SignForm {
    pub public_key: String,
    #[serde(default)]
    pub user: String,
    pub principals: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub ttl: String,
}

fn optional(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// `POST /ssh/ca/sign`: the page again, with the certificate (or why not).
pub async fn sign(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<SignForm>,
) -> Result<Markup, ApiError> {
    let actor = caller.0.actor();
    let request = SignUserRequest {
        public_key: form.public_key.trim().to_owned(),
        user: optional(&form.user).unwrap_or_else(|| actor.user_name().to_owned()),
        principals: form
            .principals
            .split([' ', ','])
            .filter(|word| !word.is_empty())
            .map(str::to_owned)
            .collect(),
        host: optional(&form.host),
        ttl: optional(&form.ttl),
    };
    let signer = actor.clone();
    let signed = blocking(&state.ctx, move |ctx| {
        Ok::<_, ApiError>(
            ssh_ca::sign_user(ctx, &signer, request).map_err(|error| error.to_string()),
        )
    })
    .await?;
    let mut page = view(&state, actor).await?;
    page.signed = Some(signed);
    Ok(render(&page, &caller.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::auth::Role;
    use crate::web::layout::tests::caller;

    fn sample(signed: Option<Result<SignedUserCertificate, String>>) -> SshCaPage {
        SshCaPage {
            ca: Ok(SshCaView {
                public_key: "ssh-ed25519 AAAA unity-ssh-ca".into(),
                fingerprint: "SHA256:abc".into(),
                known_hosts_line: "@cert-authority * ssh-ed25519 AAAA unity-ssh-ca".into(),
                host_certificate_days: 30,
                max_user_ttl_secs: 86400,
                default_user_ttl_secs: 28800,
            }),
            hosts: vec![SshHostView {
                agent_id: "nas-1".into(),
                host_certificates: true,
                trust_user_ca: true,
                extra_names: Vec::new(),
                users: vec!["root".into()],
                configured_at_ms: None,
                valid_before: None,
                renew_at: None,
                serials: Vec::new(),
                last_error: Some("<script>sshd -t</script>".into()),
                failures: 1,
            }],
            certificates: vec![IssuedView {
                serial: 7,
                key_id: "k".into(),
                for_user: "<i>alice</i>".into(),
                signed_by: "admin".into(),
                signed_at_ms: 0,
                principals: vec!["root".into()],
                valid_after: 0,
                valid_before: 4_000_000_000,
                key_fingerprint: "SHA256:lost".into(),
                expired: false,
                revoked_at_ms: None,
                revoked_by: None,
            }],
            signed,
            notice: None,
        }
    }

    #[test]
    fn admins_get_the_form_and_text_is_escaped() {
        let html = render(&sample(None), &caller(Role::Admin)).into_string();
        assert!(html.contains("@cert-authority * ssh-ed25519 AAAA unity-ssh-ca"));
        assert!(html.contains("id=\"ssh-sign\""));
        assert!(html.contains("&lt;script&gt;sshd -t&lt;/script&gt;"));
        assert!(!html.contains("<script>sshd"));
        assert!(html.contains("action=\"/ssh/ca/hosts/nas-1/disable\""));
        assert!(html.contains("id=\"ssh-ca-enable\""));
        assert!(html.contains("action=\"/ssh/ca/certificates/7/revoke\""));
        assert!(html.contains("&lt;i&gt;alice&lt;/i&gt;"));
        let html = render(&sample(None), &caller(Role::Viewer)).into_string();
        assert!(!html.contains("id=\"ssh-sign\""));
        assert!(!html.contains("/disable"));
        assert!(!html.contains("/revoke"));
        assert!(!html.contains("id=\"ssh-ca-enable\""));
        assert!(html.contains("SHA256:lost"));
        assert!(html.contains("@cert-authority"));
    }

    #[test]
    fn revoked_certificates_show_who_and_offer_no_button_and_notices_are_escaped() {
        let mut page = sample(None);
        page.certificates[0].revoked_at_ms = Some(0);
        page.certificates[0].revoked_by = Some("bob".into());
        page.notice = Some(Err("<b>offline</b>".into()));
        let html = render(&page, &caller(Role::Admin)).into_string();
        assert!(html.contains("by bob"));
        assert!(!html.contains("/certificates/7/revoke"));
        assert!(html.contains("&lt;b&gt;offline&lt;/b&gt;"));
    }

    #[test]
    fn a_signed_certificate_or_its_error_is_shown() {
        let signed = SignedUserCertificate {
            certificate: "ssh-ed25519-cert-v01@openssh.com AAAA".into(),
            serial: 3,
            key_id: "k".into(),
            principals: vec!["root".into()],
            valid_after: 0,
            valid_before: 3600,
            key_fingerprint: "SHA256:x".into(),
        };
        let html = render(&sample(Some(Ok(signed))), &caller(Role::Admin)).into_string();
        assert!(html.contains("ssh-ed25519-cert-v01@openssh.com AAAA"));
        let html =
            render(&sample(Some(Err("<b>no</b>".into()))), &caller(Role::Admin)).into_string();
        assert!(html.contains("&lt;b&gt;no&lt;/b&gt;"));
    }
}
