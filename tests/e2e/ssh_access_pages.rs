//! Issue 16, the owner's tools besides the REST API: the /ssh page's destructive buttons
//! through the real web layer (route table, CSRF guard, forms): removing a key and a person
//! needs the CSRF token and the ticked confirmation, takes the person's grants along, and is
//! audited with the signed-in user; and the CLI's admin requests refusing malformed keys and
//! options, and a clear of adopted lines where none were adopted, with clear errors.

use serde_json::json;
use unity_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_keys_and_people_are_removed_on_the_ssh_page_with_csrf_and_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let (controller, password) = crate::api::controller_with_admin(dir.path()).await;
    let mut admin = logged_in_client(&controller, "ada", &password).await;
    let public = include_str!("../../controller/src/domain/ssh_access/testdata/ecdsa384.pub");
    for (path, body) in [
        ("/api/v1/ssh/people", json!({ "name": "alice" })),
        (
            "/api/v1/ssh/people/alice/keys",
            json!({ "public_key": public }),
        ),
        (
            "/api/v1/ssh/grants",
            json!({ "person": "alice", "users": ["root"], "group": "all" }),
        ),
    ] {
        let response = admin.post_json(path, &body).await;
        assert_eq!(response.status, 201, "{path}: {}", response.text());
    }
    let people = admin.get("/api/v1/ssh/people").await.json();
    let fingerprint = people[0]["keys"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = admin.get("/ssh").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Remove person") && page.text().contains("Remove key"));

    // The token goes in the form, as the page sends it.
    let csrf = admin.csrf.take().unwrap();
    let key_count = |people: serde_json::Value| people[0]["keys"].as_array().unwrap().len();
    let response = admin
        .post_form(
            "/ssh/keys/delete",
            &[("fingerprint", &fingerprint), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status, 403, "no CSRF token: {}", response.text());
    let response = admin
        .post_form(
            "/ssh/keys/delete",
            &[("csrf", &csrf), ("fingerprint", &fingerprint)],
        )
        .await;
    assert_eq!(response.status, 400, "not confirmed: {}", response.text());
    assert_eq!(key_count(admin.get("/api/v1/ssh/people").await.json()), 1);
    let response = admin
        .post_form(
            "/ssh/keys/delete",
            &[
                ("csrf", &csrf),
                ("fingerprint", &fingerprint),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(response.status, 303, "{}", response.text());
    assert_eq!(key_count(admin.get("/api/v1/ssh/people").await.json()), 0);

    let response = admin
        .post_form("/ssh/people/alice/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(response.status, 400, "not confirmed: {}", response.text());
    let response = admin
        .post_form(
            "/ssh/people/alice/delete",
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status, 303, "{}", response.text());
    admin.csrf = Some(csrf);
    assert_eq!(admin.get("/api/v1/ssh/people").await.json(), json!([]));
    assert_eq!(
        admin.get("/api/v1/ssh/grants").await.json(),
        json!([]),
        "the person's grants go with them"
    );
    let audit = admin.get("/api/v1/audit").await.json();
    for action in ["ssh.key_remove", "ssh.person_remove"] {
        let entry = audit
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["action"] == action)
            .unwrap_or_else(|| panic!("{action} not audited: {audit}"));
        assert_eq!(entry["actor"], "ada", "{entry}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_the_cli_refuses_malformed_keys_and_options_with_clear_errors() {
    use unity_controller::admin::ssh_protocol::{GrantRequest, SshAccessAnswer, SshAccessRequest};
    use unity_controller::admin::{AdminRequest, AdminResponse};
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let ssh = |request| admin_request(&controller, AdminRequest::SshAccess(request));
    let error = |response: AdminResponse| match response {
        AdminResponse::Error(message) => message,
        other => panic!("accepted: {other:?}"),
    };
    assert!(matches!(
        ssh(SshAccessRequest::AddPerson {
            name: "alice".into()
        })
        .await,
        AdminResponse::SshAccess(_)
    ));
    assert!(
        error(ssh(SshAccessRequest::AddPerson { name: "a/b".into() }).await)
            .contains("invalid person name")
    );
    for (bad, expected) in [
        ("ssh-rsa AAAAB3NzaC1yc2E=", "not an OpenSSH public key"),
        (
            include_str!("../../controller/src/domain/ssh_access/testdata/cert.pub"),
            "certificate",
        ),
        (
            include_str!("../../controller/src/domain/ssh_access/testdata/rsa1024.pub"),
            "1024 bits is too short",
        ),
    ] {
        let message = error(
            ssh(SshAccessRequest::AddKey {
                person: "alice".into(),
                public_key: bad.into(),
            })
            .await,
        );
        assert!(message.contains(expected), "{bad:?}: {message}");
    }
    let good = include_str!("../../controller/src/domain/ssh_access/testdata/ecdsa384.pub");
    match ssh(SshAccessRequest::AddKey {
        person: "alice".into(),
        public_key: good.into(),
    })
    .await
    {
        AdminResponse::SshAccess(answer) => match *answer {
            SshAccessAnswer::Key(key) => assert_eq!(key.bits, 384),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let message = error(
        ssh(SshAccessRequest::AddKey {
            person: "alice".into(),
            public_key: good.into(),
        })
        .await,
    );
    assert!(message.contains("registered already"), "{message}");
    let grant = |from: &str| {
        SshAccessRequest::AddGrant(Box::new(GrantRequest {
            person: "alice".into(),
            users: vec!["root".into()],
            group: Some("all".into()),
            from: vec![from.into()],
            ..GrantRequest::default()
        }))
    };
    let message = error(
        ssh(SshAccessRequest::ClearAdopted {
            host: "nas".into(),
            user: "root".into(),
        })
        .await,
    );
    assert!(message.contains("no adopted lines"), "{message}");
    let message = error(ssh(grant("10.0.0.0/8\" ,command=\"sh")).await);
    assert!(message.contains("from pattern"), "{message}");
    assert!(matches!(
        ssh(grant("10.0.0.0/8")).await,
        AdminResponse::SshAccess(_)
    ));
}
