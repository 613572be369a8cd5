//! Issue 16, the /ssh page's destructive buttons through the real web layer (route table,
//! CSRF guard, forms): removing a key and a person needs the CSRF token and the ticked
//! confirmation, takes the person's grants along, and is audited with the signed-in user.

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
