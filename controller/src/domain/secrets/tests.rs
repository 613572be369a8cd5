//! The secrets store on a real (temporary) database: write-only values with versions and
//! keyed fingerprints, scope evaluation (hosts, groups by label and list, `all`), delivery
//! only in scope and never to a revoked host, every delivery and refusal audited, and the
//! rotation re-sealing secrets and registry credentials.

use super::*;
use crate::config::Config;
use crate::storage::agents::AgentRecord;

pub(super) fn id(text: &str) -> AgentId {
    AgentId::new(text).unwrap()
}

pub(super) fn name(text: &str) -> SecretName {
    SecretName::new(text).unwrap()
}

pub(super) async fn store() -> (tempfile::TempDir, std::sync::Arc<Context>) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::service::offline_context(Config::with_data_dir(dir.path().into()))
        .await
        .unwrap();
    for agent in ["nas", "web", "game"] {
        ctx.store
            .agents
            .put_agent(&AgentRecord::enrolled_for_tests(id(agent), agent))
            .unwrap();
    }
    ctx.store
        .access
        .set_labels(&id("web"), &[("role".into(), "web".into())])
        .unwrap();
    ctx.store
        .access
        .put_host_group(&HostGroupRecord {
            name: "webs".into(),
            labels: vec![("role".into(), "web".into())],
            hosts: vec![],
            created_at_ms: 0,
        })
        .unwrap();
    (dir, ctx)
}

pub(super) fn audit_lines(ctx: &Context) -> Vec<String> {
    audit::recent(ctx, 100)
        .unwrap()
        .into_iter()
        .map(|entry| format!("{} {} {}", entry.actor, entry.action, entry.target))
        .collect()
}

#[test]
fn issue_16_scope_evaluation() {
    let record = |hosts: &[&str], groups: &[&str]| SecretRecord {
        name: "s".into(),
        kind: SecretKind::Token,
        sealed: vec![],
        fingerprint: String::new(),
        version: 1,
        created_at_ms: 0,
        updated_at_ms: 0,
        scope_hosts: hosts.iter().map(|host| id(host)).collect(),
        scope_groups: groups.iter().map(|group| (*group).to_owned()).collect(),
        last_delivered_ms: 0,
        last_delivered_to: None,
    };
    let groups = vec![HostGroupRecord {
        name: "webs".into(),
        labels: vec![("role".into(), "web".into())],
        hosts: vec![id("listed")],
        created_at_ms: 0,
    }];
    let web_labels = [("role".to_owned(), "web".to_owned())];
    // Empty scope: no host.
    assert!(!in_scope(&record(&[], &[]), &id("nas"), &[], &groups));
    assert!(in_scope(&record(&["nas"], &[]), &id("nas"), &[], &groups));
    assert!(!in_scope(
        &record(&["nas"], &[]),
        &id("web"),
        &web_labels,
        &groups
    ));
    // A group by label and by list; an unknown group matches nobody; `all` everybody.
    assert!(in_scope(
        &record(&[], &["webs"]),
        &id("web"),
        &web_labels,
        &groups
    ));
    assert!(in_scope(
        &record(&[], &["webs"]),
        &id("listed"),
        &[],
        &groups
    ));
    assert!(!in_scope(&record(&[], &["webs"]), &id("nas"), &[], &groups));
    assert!(!in_scope(
        &record(&[], &["gone"]),
        &id("web"),
        &web_labels,
        &groups
    ));
    assert!(in_scope(&record(&[], &["all"]), &id("nas"), &[], &groups));
}

#[tokio::test]
async fn issue_16_values_are_write_only_delivered_in_scope_and_audited() {
    let (_dir, ctx) = store().await;
    let pg = name("pg-monitor");
    let view = set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &pg,
        None,
        &SecretValue::new("weak-pass"),
    )
    .unwrap();
    assert_eq!((view.version, view.kind), (1, SecretKind::Password));
    assert!(!format!("{view:?}").contains("weak-pass"));
    assert!(!serde_json::to_string(&list(&ctx).unwrap())
        .unwrap()
        .contains("weak-pass"));
    assert!(set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &pg,
        None,
        &SecretValue::new("")
    )
    .is_err());

    // Empty scope: nobody; then a host and a group by label.
    assert_eq!(deliver(&ctx, &pg, &id("nas"), "test").unwrap(), None);
    set_scope(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &pg,
        vec![id("nas")],
        vec!["webs".into()],
    )
    .unwrap();
    assert!(set_scope(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &pg,
        vec![],
        vec!["nope".into()]
    )
    .is_err());
    assert!(set_scope(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &pg,
        vec![id("ghost")],
        vec![]
    )
    .is_err());
    let value = deliver(&ctx, &pg, &id("nas"), "database probe")
        .unwrap()
        .unwrap();
    assert_eq!(value.expose(), b"weak-pass");
    assert!(deliver(&ctx, &pg, &id("web"), "test").unwrap().is_some());
    assert_eq!(deliver(&ctx, &pg, &id("game"), "test").unwrap(), None);
    assert_eq!(
        deliver(&ctx, &name("missing"), &id("nas"), "test").unwrap(),
        None
    );
    assert_eq!(show(&ctx, &pg).unwrap().last_delivered_to, Some(id("web")));

    // A new value: a new version and fingerprint; the same value: the same fingerprint.
    let first = show(&ctx, &pg).unwrap().fingerprint;
    let second = set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &pg,
        Some(SecretKind::Token),
        &SecretValue::new("other"),
    )
    .unwrap();
    assert_eq!((second.version, second.kind), (2, SecretKind::Token));
    assert_ne!(second.fingerprint, first);
    assert_eq!(
        set(
            &ctx,
            &crate::domain::actor::Actor::user("alice"),
            &pg,
            None,
            &SecretValue::new("weak-pass")
        )
        .unwrap()
        .fingerprint,
        first
    );

    // Revoked: nothing.
    crate::domain::agents::revoke(&ctx, &id("nas")).unwrap();
    assert_eq!(deliver(&ctx, &pg, &id("nas"), "test").unwrap(), None);

    let lines = audit_lines(&ctx);
    for expected in [
        "agent:nas secret.deliver pg-monitor version 1 for database probe",
        "agent:game secret.refused pg-monitor for test: host not in scope",
        "agent:nas secret.refused missing for test: no such secret",
        "agent:nas secret.refused pg-monitor for test: unknown or revoked host",
        "alice secret.scope_set pg-monitor: host nas, group webs",
        "alice secret.set pg-monitor version 2",
    ] {
        assert!(
            lines.iter().any(|line| line == expected),
            "{expected:?} in {lines:#?}"
        );
    }
    assert!(!lines.iter().any(|line| line.contains("weak-pass")));

    delete(&ctx, &crate::domain::actor::Actor::user("alice"), &pg).unwrap();
    assert!(show(&ctx, &pg).is_err());
    assert!(delete(&ctx, &crate::domain::actor::Actor::user("alice"), &pg).is_err());
}

#[tokio::test]
async fn issue_16_rotation_reseals_secrets_and_registry_credentials() {
    let (dir, ctx) = store().await;
    let pg = name("pg");
    set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &pg,
        None,
        &SecretValue::new("v1-value"),
    )
    .unwrap();
    set_scope(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &pg,
        vec![id("nas")],
        vec![],
    )
    .unwrap();
    crate::domain::registries::set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        "ghcr.io",
        crate::domain::registries::NewCredentials {
            username: "robot".into(),
            secret: "token".into(),
            secret_name: None,
            plain_http: false,
        },
    )
    .unwrap();
    // A registry whose password is a secret of the store, resolved when the controller uses
    // it; the listing names the secret, never a value.
    crate::domain::registries::set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        "registry.lan:5000",
        crate::domain::registries::NewCredentials {
            username: "ci".into(),
            secret: String::new(),
            secret_name: Some("pg".into()),
            plain_http: true,
        },
    )
    .unwrap();
    let missing = crate::domain::registries::NewCredentials {
        username: "ci".into(),
        secret: String::new(),
        secret_name: Some("nope".into()),
        plain_http: true,
    };
    assert!(crate::domain::registries::set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        "x.lan",
        missing
    )
    .is_err());
    let resolved = |ctx: &Context| {
        let key = crate::updates::credentials::CredentialKey::open_or_create(&ctx.config.data_dir)
            .unwrap();
        let record = ctx
            .store
            .credentials
            .get("registry.lan:5000")
            .unwrap()
            .unwrap();
        let opened = key.open("registry.lan:5000", &record.sealed).unwrap();
        crate::updates::credentials::resolve(&ctx.store, key.sealing(), "registry.lan:5000", opened)
            .unwrap()
    };
    assert_eq!(resolved(&ctx).secret, "v1-value");
    // An agentless host's generated login key is sealed with the same key.
    let appliance = id("appliance");
    let generated = crate::agentless::keys::generate(dir.path(), &appliance).unwrap();
    ctx.store
        .agentless
        .put(&crate::storage::agentless::AgentlessRecord {
            host: appliance.clone(),
            address: "192.168.1.30".into(),
            port: 22,
            user: "monitor".into(),
            proxy: id("nas"),
            key: crate::storage::agentless::AgentlessKey::Generated {
                sealed_private: generated.sealed_private.clone(),
                public: generated.public.clone(),
            },
            host_key: None,
            presented_key: None,
            collectors: unity_shared::model::agentless::AgentlessCollectors {
                system: true,
                smart: false,
                zfs: false,
                raid: false,
            },
            interval_secs: 60,
            command_timeout_secs: 30,
            created_at_ms: 0,
            status: None,
        })
        .unwrap();
    let agentless_key = |ctx: &Context| {
        let record = ctx.store.agentless.get(&appliance).unwrap().unwrap();
        let crate::storage::agentless::AgentlessKey::Generated { sealed_private, .. } = record.key
        else {
            panic!("a generated key")
        };
        crate::agentless::keys::open(&ctx.config.data_dir, &appliance, &sealed_private)
            .unwrap()
            .expose()
            .to_vec()
    };
    let private_before = agentless_key(&ctx);
    let before = std::fs::read(dir.path().join(crate::sealing::KEY_FILE)).unwrap();
    let report =
        crate::domain::sealing::rotate_key(&ctx, &crate::domain::actor::Actor::user("alice"))
            .unwrap();
    assert!(report.new_key);
    assert_eq!((report.secrets, report.registry_credentials), (1, 2));
    assert_eq!(report.agentless_keys, 1);
    assert_eq!(resolved(&ctx).secret, "v1-value");
    assert_eq!(agentless_key(&ctx), private_before);
    assert_ne!(
        std::fs::read(dir.path().join(crate::sealing::KEY_FILE)).unwrap(),
        before
    );
    assert!(!dir.path().join(crate::sealing::OLD_KEY_FILE).exists());
    assert_eq!(
        deliver(&ctx, &pg, &id("nas"), "test")
            .unwrap()
            .unwrap()
            .expose(),
        b"v1-value"
    );
    let registries = crate::domain::registries::list(&ctx).unwrap();
    assert_eq!(registries[0].username.as_deref(), Some("robot"));
    assert_eq!(registries[1].secret_name.as_deref(), Some("pg"));
    assert!(!format!("{registries:?}").contains("v1-value"));
    // Nothing left to do: a second rotation re-seals everything again with a newer key.
    let again =
        crate::domain::sealing::rotate_key(&ctx, &crate::domain::actor::Actor::user("alice"))
            .unwrap();
    assert_eq!((again.secrets, again.registry_credentials), (1, 2));
    assert!(audit_lines(&ctx)
        .iter()
        .any(|line| line.starts_with("alice sealing_key.rotate 1 secrets, 2 registry")));
}

#[tokio::test]
async fn issue_16_rotation_reseals_acme_accounts_and_lists_orphans() {
    use crate::updates::credentials::{open_credentials, seal_credentials, Credentials};
    let dir = tempfile::tempdir().unwrap();
    let mut raw: crate::config::RawConfig = toml::from_str(
        "[acme]\n[[acme.providers]]\nname = \"le\"\nterms_agreed = true\n\
         directory = \"https://acme.test/dir\"\nchallenge = { type = \"http-01\" }\n",
    )
    .unwrap();
    raw.data_dir = Some(dir.path().into());
    let config = Config::from_raw(raw).unwrap();
    let ctx = crate::service::offline_context(config).await.unwrap();
    let provider = ctx.config.acme.providers[0].clone();
    let key = SealingKey::open_or_create(dir.path()).unwrap();
    let aad = crate::acme::account::associated_data(&provider);
    let account = Credentials {
        username: "acme-account".into(),
        secret: "{\"id\":\"https://acme.test/acct/1\"}".into(),
    };
    let path = ctx.acme_accounts.path(&provider);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, seal_credentials(&key, &aad, &account).unwrap()).unwrap();
    let orphan = path.with_file_name("gone-0000.account");
    std::fs::write(&orphan, b"sealed by a provider no longer configured").unwrap();

    let report =
        crate::domain::sealing::rotate_key(&ctx, &crate::domain::actor::Actor::user("alice"))
            .unwrap();
    assert_eq!(report.acme_accounts, 1);
    assert_eq!(
        report.acme_accounts_skipped,
        vec![orphan.display().to_string()]
    );
    let rotated = SealingKey::open_or_create(dir.path()).unwrap();
    assert!(!rotated.rotation_pending());
    let sealed = std::fs::read(&path).unwrap();
    assert!(rotated.is_current(&sealed));
    assert_eq!(open_credentials(&rotated, &aad, &sealed).unwrap(), account);
}
