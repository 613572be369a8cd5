//! Declarations are checked before anything is stored: names inside the services CA's
//! domains, a key or combined file, sane modes and lifetimes, a known host; revoked
//! certificates are not renewed; every change is audited.

use super::*;
use crate::storage::agents::AgentRecord;
use std::sync::Arc;
use unity_shared::proto::AgentId;

async fn context() -> (tempfile::TempDir, Arc<Context>) {
    context_with(|_, _| {}).await
}

async fn context_with(
    change: impl FnOnce(&mut Config, &std::path::Path),
) -> (tempfile::TempDir, Arc<Context>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_data_dir(dir.path().into());
    config.certificates.domains = vec!["home.arpa".into()];
    config.certificates.ip_ranges = vec!["192.168.0.0/16".into()];
    change(&mut config, dir.path());
    let ctx = crate::service::offline_context(config).await.unwrap();
    ctx.store
        .agents
        .put_agent(&AgentRecord::enrolled_for_tests(
            AgentId::new("nas-1").unwrap(),
            "nas",
        ))
        .unwrap();
    (dir, ctx)
}

fn good() -> Declaration {
    Declaration {
        name: "nas-web".into(),
        host: "nas-1".into(),
        dns_names: vec!["NAS.home.arpa.".into(), "nas.home.arpa".into()],
        ip_addresses: vec!["192.168.1.10".into()],
        files: FilesDeclaration {
            fullchain: Some("/etc/nginx/tls/nas.pem".into()),
            key: Some("/etc/nginx/tls/nas.key".into()),
            key_mode: Some("0640".into()),
            ..FilesDeclaration::default()
        },
        reload: Some(vec!["systemctl".into(), "reload".into(), "nginx".into()]),
        ..Declaration::default()
    }
}

#[tokio::test]
async fn issue_15_declarations_are_checked_before_they_are_stored() {
    let (_dir, ctx) = context().await;
    let cases: Vec<(Declaration, &str)> = vec![
        (
            Declaration {
                dns_names: vec!["nas.example.com".into()],
                ..good()
            },
            "outside the services CA's domains",
        ),
        (
            Declaration {
                ip_addresses: vec!["10.0.0.1".into()],
                ..good()
            },
            "outside the services CA's IP ranges",
        ),
        (
            Declaration {
                dns_names: vec!["bad name".into()],
                ..good()
            },
            "not a DNS name",
        ),
        (
            Declaration {
                name: "../etc".into(),
                ..good()
            },
            "invalid certificate name",
        ),
        (
            Declaration {
                host: "ghost".into(),
                ..good()
            },
            "no host",
        ),
        (
            Declaration {
                lifetime: Some("1h".into()),
                ..good()
            },
            "min_lifetime",
        ),
        (
            Declaration {
                key_type: Some("dsa".into()),
                ..good()
            },
            "unknown key type",
        ),
        (
            Declaration {
                files: FilesDeclaration {
                    cert: Some("/etc/nginx/nas.crt".into()),
                    ..FilesDeclaration::default()
                },
                ..good()
            },
            "key file or a combined file",
        ),
        (
            Declaration {
                files: FilesDeclaration {
                    key: Some("etc/nginx/nas.key".into()),
                    ..FilesDeclaration::default()
                },
                ..good()
            },
            "absolute",
        ),
        (
            Declaration {
                files: FilesDeclaration {
                    key: Some("/etc/nginx/nas.key".into()),
                    key_mode: Some("0200".into()),
                    ..FilesDeclaration::default()
                },
                ..good()
            },
            "key_mode",
        ),
        (
            Declaration {
                issuer: Some("someone".into()),
                ..good()
            },
            "unknown issuer",
        ),
    ];
    for (declaration, why) in cases {
        let error = declare(&ctx, &crate::domain::actor::Actor::user("ada"), declaration)
            .unwrap_err()
            .to_string();
        assert!(error.contains(why), "{why}: {error}");
    }
    assert!(list(&ctx).unwrap().is_empty());

    let view = declare(&ctx, &crate::domain::actor::Actor::user("ada"), good()).unwrap();
    assert_eq!(view.dns_names, ["nas.home.arpa"]);
    assert_eq!(view.status, "pending");
    assert_eq!(view.key_type, "ecdsa-p256");
    assert_eq!(view.lifetime_secs, 90 * 86400);
    assert_eq!(view.files.key_mode.as_deref(), Some("0640"));
    let again = declare(&ctx, &crate::domain::actor::Actor::user("ada"), good()).unwrap_err();
    assert!(matches!(again, DomainError::Conflict(_)), "{again}");

    // Revoked: never renewed again, not even on request.
    let revoked = revoke(&ctx, &crate::domain::actor::Actor::user("ada"), "nas-web").unwrap();
    assert_eq!(revoked.status, "revoked");
    assert!(revoked.renew_at_ms.is_none());
    let record = record(&ctx, &parse_name("nas-web").unwrap()).unwrap();
    assert!(!schedule::due(&record, i64::MAX, 0.66));
    let refused = request_renewal(
        &ctx,
        &crate::domain::actor::Actor::user("ada"),
        "nas-web",
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(matches!(refused, DomainError::Conflict(_)), "{refused}");
    delete(&ctx, &crate::domain::actor::Actor::user("ada"), "nas-web").unwrap();
    assert!(matches!(
        show(&ctx, "nas-web"),
        Err(DomainError::NotFound(_))
    ));
    let actions: Vec<String> = audit::recent(&ctx, 10)
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    for action in [
        "managed_certificate.declare",
        "managed_certificate.revoke",
        "managed_certificate.delete",
    ] {
        assert!(actions.iter().any(|done| done == action), "{actions:?}");
    }
    // The root is there for download once asked for, with its constraints.
    let (root, der) = root(&ctx).unwrap();
    assert_eq!(root.domains, ["home.arpa"]);
    assert!(!der.is_empty() && root.pem.contains("BEGIN CERTIFICATE"));
}

/// `[acme]` with an HTTP-01 provider `web` and a DNS-01 (Cloudflare) provider `dns`.
fn with_acme(config: &mut Config, dir: &std::path::Path) {
    let token = dir.join("cloudflare-token");
    std::fs::write(&token, "token").unwrap();
    let text = format!(
        r#"[[providers]]
name = "web"
directory = "https://acme.invalid/dir"
email = "admin@home.test"
terms_agreed = true
challenge = {{ type = "http-01", port = 80 }}
[[providers]]
name = "dns"
directory = "https://acme.invalid/dir"
email = "admin@home.test"
terms_agreed = true
challenge = {{ type = "dns-cloudflare", api_token_file = "{}" }}
"#,
        token.display()
    );
    config.acme =
        crate::acme::settings::AcmeConfig::from_raw(toml::from_str(&text).unwrap()).unwrap();
}

#[tokio::test]
async fn issue_15_acme_declarations_name_a_configured_provider_dns_names_and_wildcards_only_with_dns01(
) {
    let (_dir, ctx) = context_with(with_acme).await;
    let acme = |issuer: &str, dns: &[&str], ips: &[&str]| Declaration {
        issuer: Some(issuer.into()),
        dns_names: dns.iter().map(|name| name.to_string()).collect(),
        ip_addresses: ips.iter().map(|ip| ip.to_string()).collect(),
        ..good()
    };
    let cases = [
        (
            acme("acme:nope", &["nas.example.com"], &[]),
            "no ACME provider named \"nope\": [acme] configures web, dns",
        ),
        (
            acme("acme:web", &["nas.example.com"], &["192.168.1.10"]),
            "an ACME CA issues for DNS names only",
        ),
        (
            acme("acme:web", &["*.example.com"], &[]),
            "wildcard names need a DNS-01 provider",
        ),
    ];
    for (declaration, why) in cases {
        let error = declare(&ctx, &crate::domain::actor::Actor::user("ada"), declaration)
            .unwrap_err()
            .to_string();
        assert!(error.contains(why), "{why}: {error}");
    }
    assert!(list(&ctx).unwrap().is_empty());
    // Names outside the services CA's domains are fine for an ACME CA.
    let view = declare(
        &ctx,
        &crate::domain::actor::Actor::user("ada"),
        acme("acme:web", &["nas.example.com"], &[]),
    )
    .unwrap();
    assert_eq!(view.issuer, "acme:web");
    let wildcard = Declaration {
        name: "wild".into(),
        ..acme("acme:dns", &["*.example.com", "example.com"], &[])
    };
    assert_eq!(
        declare(&ctx, &crate::domain::actor::Actor::user("ada"), wildcard)
            .unwrap()
            .dns_names[0],
        "*.example.com"
    );
}
