//! The managed-certificates page (`/certificates/managed`): declared certificates with their
//! expiry, next renewal and last error; for admins a form to declare one and renew, revoke and
//! delete buttons (CSRF checked by the route guard); for everyone the services CA's root to
//! download with trust-store instructions. No key material: keys live on the hosts.

use super::format::{datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::{admin_csrf, CsrfForm, PageCaller};
use crate::domain::error::DomainError;
use crate::domain::hosts;
use crate::domain::managed_certificates::{
    self as certificates, Declaration, FilesDeclaration, ManagedCertificateView, RootView,
};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

const PAGE: &str = "/certificates/managed";

/// How to trust the services CA's root, per platform.
pub const TRUST_STORES: &[(&str, &str)] = &[
    (
        "Debian, Ubuntu",
        "Copy the PEM to /usr/local/share/ca-certificates/unity-services-ca.crt, then run `update-ca-certificates`.",
    ),
    (
        "Fedora, RHEL",
        "Copy the PEM to /etc/pki/ca-trust/source/anchors/unity-services-ca.crt, then run `update-ca-trust`.",
    ),
    (
        "Firefox",
        "Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import the PEM, tick \"Trust this CA to identify websites\". (Or set security.enterprise_roots.enabled to use the system store.)",
    ),
    (
        "macOS",
        "Open the PEM in Keychain Access, add it to the System keychain, open it and set \"When using this certificate\" to Always Trust. Or: `sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain unity-services-ca.crt`.",
    ),
    (
        "Windows",
        "Double-click the DER file → Install Certificate → Local Machine → Place in \"Trusted Root Certification Authorities\". Or: `certutil -addstore -f Root unity-services-ca.der`.",
    ),
    (
        "Android",
        "Settings → Security → Encryption & credentials → Install a certificate → CA certificate, then pick the downloaded file. Apps must opt in to user CAs; browsers such as Chrome do.",
    ),
    (
        "iOS, iPadOS",
        "Open the PEM in Safari and allow the profile, install it in Settings → General → VPN & Device Management, then turn it on in Settings → General → About → Certificate Trust Settings.",
    ),
];

/// What the page shows.
#[derive(Debug, Clone)]
pub struct ManagedView {
    pub certificates: Vec<ManagedCertificateView>,
    pub hosts: Vec<String>,
    pub root: Option<RootView>,
}

async fn view(state: &AppState) -> Result<ManagedView, ApiError> {
    blocking(&state.ctx, |ctx| {
        Ok::<_, ApiError>(ManagedView {
            certificates: certificates::list(ctx)?,
            hosts: hosts::list(ctx)?
                .into_iter()
                .map(|host| host.agent_id.to_string())
                .collect(),
            root: certificates::root(ctx).ok().map(|(root, _)| root),
        })
    })
    .await
}

fn table(view: &ManagedView, csrf: Option<&str>) -> Markup {
    html! {
        @if view.certificates.is_empty() {
            p.muted { "No managed certificates yet." }
        } @else {
            div.table { table #managed-certificates {
                thead { tr {
                    th { "Name" } th { "Host" } th { "Names" } th { "Status" } th { "Expires" }
                    th { "Renews" } th.wide { "Serial" } th { "Last error" } th {}
                } }
                tbody {
                    @for certificate in &view.certificates {
                        @let path = format!("{PAGE}/{}", url_segment(&certificate.name));
                        tr {
                            td { (certificate.name) div.sub { (certificate.key_type) ", " (certificate.issuer) } }
                            td { a href={ "/hosts/" (url_segment(&certificate.host)) } { (certificate.host) } }
                            td { @for name in certificate.dns_names.iter().chain(&certificate.ip_addresses) { div { (name) } } }
                            td { span class={ "badge " (status_class(&certificate.status)) } { (certificate.status) } }
                            td { (certificate.not_after_unix.map_or("-".into(), |unix| datetime(unix * 1000))) }
                            td { (certificate.renew_at_ms.map_or("-".into(), datetime)) }
                            td.wide { code { (certificate.serial_hex.as_deref().unwrap_or("-")) } }
                            td { (certificate.last_error.as_deref().unwrap_or("")) }
                            td {
                                @if let Some(csrf) = csrf {
                                    @if certificate.status != "revoked" {
                                        form method="post" action={ (path) "/renew" } class="inline" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" { "Renew now" }
                                        }
                                        form method="post" action={ (path) "/revoke" } class="inline" data-confirm={ "Revoke the certificate " (certificate.name) "? Services using it stop being trusted." } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" class="danger" { "Revoke" }
                                        }
                                    }
                                    form method="post" action={ (path) "/delete" } class="inline" data-confirm={ "Delete the managed certificate " (certificate.name) "?" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" class="danger" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

fn status_class(status: &str) -> &'static str {
    match status {
        "issued" => "ok",
        "failing" => "critical",
        "revoked" => "muted",
        _ => "warning",
    }
}

fn declare_form(hosts: &[String], csrf: &str) -> Markup {
    html! {
        h2 { "Declare a certificate" }
        form method="post" action=(PAGE) class="card" id="declare-certificate" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name " input name="name" required pattern="[a-z0-9][a-z0-9-]{0,63}" placeholder="nas-web"; }
            label { "Host " select name="host" { @for host in hosts { option { (host) } } } }
            label { "DNS names (space-separated) " input name="dns_names" placeholder="nas.home.arpa"; }
            label { "IP addresses " input name="ip_addresses" placeholder="192.168.1.10"; }
            label { "Key type " select name="key_type" {
                option value="ecdsa-p256" selected { "ECDSA P-256" }
                option value="rsa-2048" { "RSA 2048" }
                option value="rsa-3072" { "RSA 3072" }
                option value="ed25519" { "Ed25519" }
            } }
            label { "Lifetime " input name="lifetime" placeholder="90d"; }
            label { "Certificate file " input name="cert" placeholder="/etc/nginx/tls/nas.crt"; }
            label { "Full chain file " input name="fullchain" placeholder="/etc/nginx/tls/nas.fullchain.pem"; }
            label { "Key file " input name="key" placeholder="/etc/nginx/tls/nas.key"; }
            label { "Combined file " input name="combined" placeholder="/etc/haproxy/nas.pem"; }
            label { "Owner " input name="owner" placeholder="root"; }
            label { "Group " input name="group" placeholder="www-data"; }
            label { "Key mode " input name="key_mode" placeholder="0600"; }
            label { "Reload (no shell) " input name="reload" placeholder="systemctl reload nginx"; }
            label { "Issuer " input name="issuer" placeholder="services-ca or acme:<provider>"; }
            button type="submit" { "Declare" }
        }
    }
}

fn root_section(root: Option<&RootView>) -> Markup {
    html! {
        h2 { "Services CA root" }
        @if let Some(root) = root {
            p {
                "Trust this root on your devices to trust the certificates above. "
                a href="/api/v1/services-ca/root.pem" download="unity-services-ca.crt" { "Download PEM" }
                " · "
                a href="/api/v1/services-ca/root.der" download="unity-services-ca.der" { "Download DER" }
            }
            p.sub { "SHA-256: " code { (root.sha256) } }
            @if !root.domains.is_empty() || !root.ip_ranges.is_empty() {
                p.sub { "Valid only for: " (root.domains.join(", ")) " " (root.ip_ranges.join(", ")) }
            }
        } @else {
            p.muted { "The services CA could not be loaded; see the controller's log." }
        }
        dl #trust-stores {
            @for (platform, steps) in TRUST_STORES { dt { (platform) } dd { (steps) } }
        }
    }
}

/// The page (pure).
pub fn render(view: &ManagedView, caller: &Caller) -> Markup {
    let csrf = admin_csrf(caller).filter(|_| caller.is_admin());
    let content = html! {
        h1 { "Managed certificates" }
        p.muted { "Issued by the homelab services CA or a public ACME CA ([acme] providers); keys are made on the hosts and never leave them. Renewed at two thirds of their lifetime." }
        (table(view, csrf))
        @if let Some(csrf) = csrf { (declare_form(&view.hosts, csrf)) }
        (root_section(view.root.as_ref()))
    };
    layout::page(
        Frame::new("Managed certificates", Nav::ManagedCertificates),
        caller,
        content,
    )
}

/// `GET /certificates/managed`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    Ok(render(&view(&state).await?, &caller.0))
}

/// The declare form's fields.
#[derive(Debug, Deserialize)]
pub struct DeclareForm {
    pub name: String,
    pub host: String,
    #[serde(default)]
    pub dns_names: String,
    #[serde(default)]
    pub ip_addresses: String,
    #[serde(default)]
    pub key_type: String,
    #[serde(default)]
    pub lifetime: String,
    #[serde(default)]
    pub cert: String,
    #[serde(default)]
    pub fullchain: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub combined: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub key_mode: String,
    #[serde(default)]
    pub reload: String,
    /// `services-ca` (empty) or `acme:<provider>`.
    #[serde(default)]
    pub issuer: String,
}

fn words(text: &str) -> Vec<String> {
    text.split([' ', ',', '\n', '\t'])
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

fn optional(text: String) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

impl DeclareForm {
    fn declaration(self) -> Declaration {
        let reload = words(&self.reload);
        Declaration {
            name: self.name.trim().to_owned(),
            host: self.host.trim().to_owned(),
            dns_names: words(&self.dns_names),
            ip_addresses: words(&self.ip_addresses),
            key_type: optional(self.key_type),
            lifetime: optional(self.lifetime),
            files: FilesDeclaration {
                cert: optional(self.cert),
                chain: None,
                fullchain: optional(self.fullchain),
                key: optional(self.key),
                combined: optional(self.combined),
                owner: optional(self.owner),
                group: optional(self.group),
                key_mode: optional(self.key_mode),
            },
            reload: (!reload.is_empty()).then_some(reload),
            issuer: optional(self.issuer),
        }
    }
}

/// `POST /certificates/managed`.
pub async fn declare(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<DeclareForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    let declaration = form.declaration();
    blocking(&state.ctx, move |ctx| {
        certificates::declare(ctx, &actor, declaration)
    })
    .await?;
    Ok(Redirect::to(PAGE).into_response())
}

/// `POST /certificates/managed/{name}/renew`: the outcome shows in the table (status, error).
pub async fn renew(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    match certificates::renew_now(&state.ctx, &caller.0.actor(), &name).await {
        Ok(_) | Err(DomainError::Unavailable(_) | DomainError::Invalid(_)) => {
            Ok(Redirect::to(PAGE).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /certificates/managed/{name}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        certificates::revoke(ctx, &actor, &name)
    })
    .await?;
    Ok(Redirect::to(PAGE).into_response())
}

/// `POST /certificates/managed/{name}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        certificates::delete(ctx, &actor, &name)
    })
    .await?;
    Ok(Redirect::to(PAGE).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::auth::Role;
    use crate::web::layout::tests::caller;

    fn sample() -> ManagedView {
        ManagedView {
            certificates: vec![ManagedCertificateView {
                name: "web".into(),
                host: "nas-1".into(),
                dns_names: vec!["nas.home.arpa".into()],
                ip_addresses: vec!["192.168.1.2".into()],
                key_type: "ecdsa-p256".into(),
                lifetime_secs: 86400,
                files: FilesDeclaration::default(),
                reload: None,
                issuer: "services-ca".into(),
                status: "failing".into(),
                serial_hex: Some("4a0b".into()),
                not_after_unix: Some(2_000_000_000),
                issued_at_ms: Some(1),
                reloaded: Some(true),
                renew_at_ms: Some(1_900_000_000_000),
                last_attempt_ms: Some(1),
                // What a reload's stderr said reaches the page: escaped.
                last_error: Some("reload failed: <script>alert(1)</script>".into()),
                last_error_at_ms: Some(1),
                failures: 1,
                retry_at_ms: Some(2),
                revoked_at_ms: None,
                declared_by: "ada".into(),
                declared_at_ms: 1,
            }],
            hosts: vec!["nas-1".into()],
            root: Some(RootView {
                pem: "-----BEGIN CERTIFICATE-----".into(),
                sha256: "ab12".into(),
                domains: vec!["home.arpa".into()],
                ip_ranges: Vec::new(),
            }),
        }
    }

    #[test]
    fn issue_15_admins_get_the_forms_viewers_only_read_and_download_the_root() {
        let admin = render(&sample(), &caller(Role::Admin)).into_string();
        assert!(admin.contains("id=\"declare-certificate\""), "{admin}");
        assert!(admin.contains("/certificates/managed/web/renew"));
        assert!(admin.contains("/certificates/managed/web/revoke"));
        assert!(admin.contains("4a0b"));
        assert!(!admin.contains("<script>alert(1)"));
        assert!(admin.contains("&lt;script&gt;alert(1)"));
        for link in [
            "/api/v1/services-ca/root.pem",
            "/api/v1/services-ca/root.der",
        ] {
            assert!(admin.contains(link), "{link}");
        }
        for (platform, _) in TRUST_STORES {
            assert!(admin.contains(platform), "{platform}");
        }
        let viewer = render(&sample(), &caller(Role::Viewer)).into_string();
        assert!(!viewer.contains("declare-certificate"));
        assert!(!viewer.contains("/renew"));
        assert!(!viewer.contains("/revoke") && !viewer.contains("/delete"));
        assert!(viewer.contains("4a0b"));
        assert!(viewer.contains("/api/v1/services-ca/root.pem"));
    }
}
