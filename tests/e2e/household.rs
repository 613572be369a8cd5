//! Issue 21 end to end: a household set up through the admin socket (what `unity-controller
//! user` and `group` send), then used over HTTP. A partner in the `family` group may operate
//! the media host and nothing else: the host list shows only it, the other host answers 404,
//! revoking is refused; a read-scoped token of theirs may look but not act, and one limited to
//! a host group sees only that group. The audit log names who did what on which host. Then
//! TOTP through the API: enrolment confirmed by a code, a login that waits for the second
//! factor, a wrong code refused, a recovery code accepted once.

use std::time::Duration;
use unity_controller::admin::{AdminRequest, AdminResponse};
use unity_tests::http::HttpClient;
use unity_tests::*;

async fn done(controller: &unity_controller::service::RunningController, request: AdminRequest) {
    match admin_request(controller, request.clone()).await {
        AdminResponse::Done(_) | AdminResponse::UserAdded { .. } => {}
        other => panic!("{request:?}: {other:?}"),
    }
}

fn agent_ids(response: &unity_tests::http::HttpResponse) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.text());
    let mut ids: Vec<String> = response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|host| host["agent_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_a_household_gets_rights_per_host_and_the_audit_log_says_where() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let interval = Duration::from_millis(250);
    let (media, media_agent) = enrolled_agent(&controller, &dir.path().join("a1"), interval).await;
    let (other, other_agent) = enrolled_agent(&controller, &dir.path().join("a2"), interval).await;
    let admin_password = add_user(&controller, "ada", "admin").await;

    // What `unity-controller group label|set-hosts|create|grant` and `user add` send.
    done(
        &controller,
        AdminRequest::SetLabels {
            agent_id: media.to_string(),
            labels: vec!["role=media".into()],
        },
    )
    .await;
    done(
        &controller,
        AdminRequest::PutHostGroup {
            name: "media".into(),
            labels: vec!["role=media".into()],
            hosts: vec![],
        },
    )
    .await;
    done(
        &controller,
        AdminRequest::CreateGroup {
            name: "family".into(),
            description: "partner and kids".into(),
        },
    )
    .await;
    done(
        &controller,
        AdminRequest::SetRight {
            group: "family".into(),
            host_group: "media".into(),
            right: "operate".into(),
        },
    )
    .await;
    let partner_password = "a long partner password".to_owned();
    done(
        &controller,
        AdminRequest::AddUser {
            name: "sam".into(),
            role: "viewer".into(),
            password: partner_password.clone(),
            groups: Some(vec!["family".into()]),
        },
    )
    .await;
    let AdminResponse::HostGroups(host_groups) =
        admin_request(&controller, AdminRequest::ListHostGroups).await
    else {
        panic!("expected host groups")
    };
    let media_group = host_groups.iter().find(|g| g.name == "media").unwrap();
    assert_eq!(media_group.members, vec![media.clone()]);
    let AdminResponse::Users(users) = admin_request(&controller, AdminRequest::ListUsers).await
    else {
        panic!("expected users")
    };
    let sam = users.iter().find(|user| user.name == "sam").unwrap();
    assert_eq!(
        (sam.role.as_str(), sam.groups.clone()),
        ("member", vec!["family".to_owned()])
    );

    let mut partner = logged_in_client(&controller, "sam", &partner_password).await;
    assert_eq!(
        agent_ids(&partner.get("/api/v1/hosts").await),
        vec![media.to_string()]
    );
    assert_eq!(
        partner.get(&format!("/api/v1/hosts/{media}")).await.status,
        200
    );
    check_error(
        &partner.get(&format!("/api/v1/hosts/{other}")).await,
        404,
        "no host",
    );
    let collect = partner
        .post_json(
            &format!("/api/v1/hosts/{media}/collect"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(collect.status, 200, "{}", collect.text());
    check_error(
        &partner
            .post_json(
                &format!("/api/v1/hosts/{other}/collect"),
                &serde_json::json!({}),
            )
            .await,
        404,
        "no host",
    );
    check_error(
        &partner
            .post_json(
                &format!("/api/v1/hosts/{media}/revoke"),
                &serde_json::json!({}),
            )
            .await,
        403,
        "may not administer",
    );
    check_error(&partner.get("/api/v1/users").await, 403, "every host");

    // Only admins make API tokens.
    check_error(
        &partner
            .post_json("/api/v1/api-tokens", &serde_json::json!({ "name": "x" }))
            .await,
        403,
        "every host",
    );
    // A read token of the partner's: looks, never acts.
    let mut admin = logged_in_client(&controller, "ada", &admin_password).await;
    let created = admin
        .post_json(
            "/api/v1/api-tokens",
            &serde_json::json!({ "name": "grafana", "scope": "read", "user": "sam" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let mut reader = HttpClient::new(controller.api_addr);
    reader.bearer = Some(created.json()["token"].as_str().unwrap().to_owned());
    assert_eq!(
        agent_ids(&reader.get("/api/v1/hosts").await),
        vec![media.to_string()]
    );
    check_error(
        &reader
            .post_json(
                &format!("/api/v1/hosts/{media}/collect"),
                &serde_json::json!({}),
            )
            .await,
        403,
        "read scope",
    );
    // A token mints no other token.
    check_error(
        &reader
            .post_json(
                "/api/v1/api-tokens",
                &serde_json::json!({ "name": "wider", "scope": "admin" }),
            )
            .await,
        403,
        "read scope",
    );

    // An admin's token limited to the media hosts: only those, even for an admin.
    let AdminResponse::ApiToken { token, .. } = admin_request(
        &controller,
        AdminRequest::CreateApiToken {
            user: "ada".into(),
            name: "media only".into(),
            scope: Some("admin".into()),
            expires_in: None,
            host_group: Some("media".into()),
        },
    )
    .await
    else {
        panic!("expected a token")
    };
    let mut limited = HttpClient::new(controller.api_addr);
    limited.bearer = Some(token);
    assert_eq!(
        agent_ids(&limited.get("/api/v1/hosts").await),
        vec![media.to_string()]
    );
    check_error(
        &limited.get(&format!("/api/v1/hosts/{other}")).await,
        404,
        "no host",
    );

    // The audit log: who did what on which host.
    let audit = admin.get("/api/v1/audit").await;
    assert_eq!(audit.status, 200);
    let entries: Vec<(String, String, String)> = audit
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let field = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
            (field("actor"), field("action"), field("target"))
        })
        .collect();
    let has = |actor: &str, action: &str, target: &str| {
        entries
            .iter()
            .any(|(a, b, c)| a == actor && b == action && c.contains(target))
    };
    assert!(has("sam", "agent.collect", media.as_str()), "{entries:?}");
    assert!(
        has("cli", "group.right_set", "family on media: operate"),
        "{entries:?}"
    );
    assert!(has("cli", "host.labels_set", media.as_str()), "{entries:?}");
    assert!(has("ada", "api_token.create", "grafana"), "{entries:?}");
    assert!(
        !entries
            .iter()
            .any(|(a, b, _)| a == "sam" && b == "agent.revoke"),
        "{entries:?}"
    );

    // Removing the partner from the group takes the host away at once.
    done(
        &controller,
        AdminRequest::SetUserGroups {
            name: "sam".into(),
            groups: vec![],
        },
    )
    .await;
    assert_eq!(
        agent_ids(&partner.get("/api/v1/hosts").await),
        Vec::<String>::new()
    );

    media_agent.stop().await;
    other_agent.stop().await;
    controller.shutdown().await.unwrap();
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_totp_over_the_api_enrols_then_guards_the_login() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let password = add_user(&controller, "ada", "admin").await;
    let mut client = logged_in_client(&controller, "ada", &password).await;

    let started = client
        .post_json("/api/v1/account/totp", &serde_json::json!({}))
        .await;
    assert_eq!(started.status, 200, "{}", started.text());
    let uri = started.json()["uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with("otpauth://totp/Unity:ada?secret="), "{uri}");
    let secret = controller
        .context
        .store
        .auth
        .factors("ada")
        .unwrap()
        .totp_pending
        .unwrap();
    let code_at = unity_controller::domain::second_factor::code_at;
    check_error(
        &client
            .post_json(
                "/api/v1/account/totp/confirm",
                &serde_json::json!({ "code": "000000" }),
            )
            .await,
        400,
        "wrong code",
    );
    let confirmed = client
        .post_json(
            "/api/v1/account/totp/confirm",
            &serde_json::json!({ "code": code_at(&secret, now_s()) }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    let recovery: Vec<String> = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    // Only hashes are stored.
    let stored = controller.context.store.auth.factors("ada").unwrap();
    assert!(stored
        .recovery_codes
        .iter()
        .all(|hash| hash.starts_with("$argon2")));
    assert!(!stored.recovery_codes.contains(&recovery[0]));

    // A new login waits for the second factor; the password alone opens no session.
    let mut second = HttpClient::new(controller.api_addr);
    let pending = second.login("ada", &password).await;
    assert_eq!(pending.status, 202, "{}", pending.text());
    assert_eq!(pending.json()["second_factor_required"], true);
    assert_eq!(second.get("/api/v1/session").await.status, 401);
    check_error(
        &second
            .post_json(
                "/api/v1/login/second-factor",
                &serde_json::json!({ "code": "123456" }),
            )
            .await,
        401,
        "",
    );
    // The next step's code (one step of skew is allowed; the enrolment used this one).
    let passed = second
        .post_json(
            "/api/v1/login/second-factor",
            &serde_json::json!({ "code": code_at(&secret, now_s() + 30) }),
        )
        .await;
    assert_eq!(passed.status, 200, "{}", passed.text());
    assert_eq!(second.get("/api/v1/session").await.json()["user"], "ada");

    // A recovery code works once.
    for expected in [200, 401] {
        let mut third = HttpClient::new(controller.api_addr);
        assert_eq!(third.login("ada", &password).await.status, 202);
        let answer = third
            .post_json(
                "/api/v1/login/second-factor",
                &serde_json::json!({ "code": recovery[0] }),
            )
            .await;
        assert_eq!(answer.status, expected, "{}", answer.text());
    }
    controller.shutdown().await.unwrap();
}
