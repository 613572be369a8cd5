//! The store's one delivery path as the layers below the domain reach it (the context's
//! `deliver_secret`): an agent's request answered per context (two controllers in one process
//! share nothing), and a registry credential that names a secret, used for an update an agent
//! pulls: a host outside the secret's scope gets no credentials and its update fails saying
//! why, a host in scope gets them, and both are audited with the host as actor and the
//! operation as purpose.

use super::tests::{audit_lines, id, name, store};
use super::*;
use crate::domain::registries::{self, NewCredentials};
use crate::updates::dispatch::attach_credentials;
use unity_shared::model::update::{ContainerCommand, HealthPolicy, OperationId, UpdateRequest};

fn update(image: &str) -> ContainerCommand {
    ContainerCommand::Update(UpdateRequest {
        id: OperationId("op-7".into()),
        container: "web".into(),
        image: image.into(),
        auth: None,
        health: HealthPolicy::default(),
        force: false,
        volume_archive_limit_bytes: None,
        vulnerability_gate: None,
    })
}

fn auth(command: &ContainerCommand) -> Option<(String, String)> {
    match command {
        ContainerCommand::Update(request) => request
            .auth
            .as_ref()
            .map(|auth| (auth.username.clone(), auth.password.clone())),
        _ => None,
    }
}

#[tokio::test]
async fn issue_16_registry_credentials_reach_a_host_only_through_delivery_audited() {
    let (_dir, ctx) = store().await;
    let token = name("registry-token");
    set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &token,
        None,
        &SecretValue::new(b"robot-token-v1".to_vec()),
    )
    .unwrap();
    registries::set(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        "registry.lan:5000",
        NewCredentials {
            username: "robot".into(),
            secret: String::new(),
            secret_name: Some("registry-token".into()),
            plain_http: true,
        },
    )
    .unwrap();
    let image = "registry.lan:5000/homelab/web:2";

    // Outside the scope (empty): no credentials, the operation fails with a clear reason.
    let mut command = update(image);
    let error = attach_credentials(&ctx, &id("nas"), "op-7", &mut command).unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.contains("registry-token") && text.contains("scope does not include host nas"),
        "{text}"
    );
    assert!(!text.contains("robot-token-v1"), "{text}");
    assert_eq!(auth(&command), None);

    // In scope: the value for this pull, audited as a delivery to the host.
    set_scope(
        &ctx,
        &crate::domain::actor::Actor::user("alice"),
        &token,
        vec![id("nas")],
        vec![],
    )
    .unwrap();
    let mut command = update(image);
    attach_credentials(&ctx, &id("nas"), "op-7", &mut command).unwrap();
    assert_eq!(
        auth(&command),
        Some(("robot".into(), "robot-token-v1".into()))
    );
    // Another host is still refused; a registry without credentials needs no secret.
    let mut other = update(image);
    assert!(attach_credentials(&ctx, &id("web"), "op-8", &mut other).is_err());
    let mut public = update("docker.io/library/nginx:1");
    attach_credentials(&ctx, &id("web"), "op-9", &mut public).unwrap();
    assert_eq!(auth(&public), None);

    let lines = audit_lines(&ctx);
    let purpose = "for registry credentials of registry.lan:5000 for operation";
    assert!(
        lines.iter().any(|line| line
            == &format!("agent:nas secret.deliver registry-token version 1 {purpose} op-7")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|line| line.starts_with(&format!(
            "agent:nas secret.refused registry-token {purpose} op-7: host not in scope"
        ))),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|line| line.starts_with(&format!(
            "agent:web secret.refused registry-token {purpose} op-8"
        ))),
        "{lines:#?}"
    );
    let view = show(&ctx, &token).unwrap();
    assert_eq!(view.last_delivered_to, Some(id("nas")));
}

#[tokio::test]
async fn issue_16_two_contexts_in_one_process_answer_from_their_own_stores() {
    let (_first_dir, first) = store().await;
    let (_second_dir, second) = store().await;
    let pass = name("db-pass");
    set(
        &first,
        &crate::domain::actor::Actor::user("alice"),
        &pass,
        None,
        &SecretValue::new(b"first-only".to_vec()),
    )
    .unwrap();
    set_scope(
        &first,
        &crate::domain::actor::Actor::user("alice"),
        &pass,
        vec![id("nas")],
        vec![],
    )
    .unwrap();
    let answers = |ctx: &Context| {
        crate::transport::secrets::answer(ctx, &id("nas"), vec![pass.clone()])
            .into_iter()
            .map(|answer| answer.value.map(|value| value.expose().to_vec()))
            .collect::<Vec<_>>()
    };
    assert_eq!(answers(&first), vec![Some(b"first-only".to_vec())]);
    assert_eq!(answers(&second), vec![None]);
    assert!(audit_lines(&first)
        .iter()
        .any(|line| line == "agent:nas secret.deliver db-pass version 1 for agent request"));
    assert!(audit_lines(&second)
        .iter()
        .any(|line| line == "agent:nas secret.refused db-pass for agent request: no such secret"));
    assert!(!audit_lines(&second)
        .iter()
        .any(|line| line.contains("secret.deliver")));
}
