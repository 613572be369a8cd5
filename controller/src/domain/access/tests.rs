//! Rights: a user's right on a host is the greatest of their groups' rights on the host
//! groups that contain it; a token never gets more than its scope or outside its host group;
//! refusals say why; and the old roles keep their meaning.

use super::*;
use crate::config::Config;
use crate::storage::access::{GrantRecord, GroupRecord, HostGroupRecord};
use crate::storage::auth::{Role, UserRecord};

fn id(text: &str) -> AgentId {
    AgentId::new(text).unwrap()
}

fn user(name: &str, groups: &[&str]) -> UserRecord {
    UserRecord {
        name: name.into(),
        legacy_role: Role::Viewer,
        password_hash: String::new(),
        created_at_ms: 0,
        groups: groups.iter().map(|group| (*group).to_owned()).collect(),
        oidc: None,
    }
}

/// A household: a media host group by label, a game server listed by id, and groups for a
/// partner (view media), a friend (operate the game server) and a teenager (operate media).
async fn household() -> (tempfile::TempDir, std::sync::Arc<Context>) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::service::offline_context(Config::with_data_dir(dir.path().into()))
        .await
        .unwrap();
    let access = &ctx.store.access;
    access
        .set_labels(&id("nas"), &[("role".into(), "media".into())])
        .unwrap();
    access
        .put_host_group(&HostGroupRecord {
            name: "media".into(),
            labels: vec![("role".into(), "media".into())],
            hosts: vec![],
            created_at_ms: 0,
        })
        .unwrap();
    access
        .put_host_group(&HostGroupRecord {
            name: "games".into(),
            labels: vec![],
            hosts: vec![id("minecraft")],
            created_at_ms: 0,
        })
        .unwrap();
    for (name, host_group, right) in [
        ("partner", "media", Right::View),
        ("friend", "games", Right::Operate),
        ("teen", "media", Right::Operate),
    ] {
        access
            .create_group(&GroupRecord {
                name: name.into(),
                description: String::new(),
                grants: vec![GrantRecord {
                    host_group: host_group.into(),
                    right,
                }],
                created_at_ms: 0,
            })
            .unwrap();
    }
    (dir, ctx)
}

#[track_caller]
fn check_right(ctx: &Context, access: &Access, host: &str, expect: Option<Right>) {
    let labels = ctx.store.access.labels(&id(host)).unwrap();
    assert_eq!(
        access.right_on(&id(host), &labels),
        expect,
        "{} on {host}",
        access.actor
    );
}

#[tokio::test]
async fn issue_21_rights_come_from_groups_per_host_group() {
    let (_dir, ctx) = household().await;
    let of = |groups: &[&str]| of_user(&ctx, &user("u", groups), None).unwrap();
    let admin = of(&["admins"]);
    let viewer = of(&["viewers"]);
    let partner = of(&["partner"]);
    let friend = of(&["friend"]);
    let teen = of(&["teen", "partner"]);
    let table: &[(&Access, &str, Option<Right>)] = &[
        (&admin, "nas", Some(Right::Administer)),
        (&admin, "anything", Some(Right::Administer)),
        (&viewer, "nas", Some(Right::View)),
        (&partner, "nas", Some(Right::View)),
        (&partner, "minecraft", None),
        (&friend, "minecraft", Some(Right::Operate)),
        (&friend, "nas", None),
        (&teen, "nas", Some(Right::Operate)),
    ];
    for (access, host, expect) in table {
        check_right(&ctx, access, host, *expect);
    }
    assert!(admin.is_admin() && !viewer.is_admin());
    assert_eq!(admin.role_word(), "admin");
    assert_eq!(viewer.role_word(), "viewer");
    assert_eq!(friend.role_word(), "member");
    assert_eq!(of(&["no-such-group"]).right_on(&id("nas"), &[]), None);
}

#[tokio::test]
async fn issue_21_tokens_carry_a_subset_of_their_users_rights() {
    let (_dir, ctx) = household().await;
    let admin = user("ada", &["admins"]);
    let read = of_user(&ctx, &admin, Some((TokenScope::Read, None))).unwrap();
    check_right(&ctx, &read, "nas", Some(Right::View));
    let operate_media = of_user(&ctx, &admin, Some((TokenScope::Operate, Some("media")))).unwrap();
    check_right(&ctx, &operate_media, "nas", Some(Right::Operate));
    check_right(&ctx, &operate_media, "minecraft", None);
    assert_eq!(
        operate_media.on_all_hosts(),
        None,
        "a host group is not every host"
    );
    let gone = of_user(&ctx, &admin, Some((TokenScope::Admin, Some("deleted")))).unwrap();
    check_right(&ctx, &gone, "nas", None);
    // A token never has more than its user.
    let friend = user("fred", &["friend"]);
    let full = of_user(&ctx, &friend, Some((TokenScope::Admin, None))).unwrap();
    check_right(&ctx, &full, "minecraft", Some(Right::Operate));
}

#[tokio::test]
async fn issue_21_check_refuses_with_reasons_and_hides_unseen_hosts() {
    let (_dir, ctx) = household().await;
    let partner = of_user(&ctx, &user("pat", &["partner"]), None).unwrap();
    let nas = id("nas");
    assert_eq!(
        check(&ctx, &partner, Need::Host(Right::View), Some(&nas)).unwrap(),
        Some(Right::View)
    );
    let refused = check(&ctx, &partner, Need::Host(Right::Operate), Some(&nas)).unwrap_err();
    assert!(matches!(refused, DomainError::Forbidden(_)), "{refused}");
    let unseen = check(
        &ctx,
        &partner,
        Need::Host(Right::View),
        Some(&id("minecraft")),
    );
    assert!(
        matches!(unseen, Err(DomainError::NotFound(_))),
        "{unseen:?}"
    );
    assert!(check(&ctx, &partner, Need::AllHosts(Right::View), None).is_err());
    let read = of_user(
        &ctx,
        &user("ada", &["admins"]),
        Some((TokenScope::Read, None)),
    )
    .unwrap();
    let message = check(&ctx, &read, Need::AllHosts(Right::Administer), None)
        .unwrap_err()
        .to_string();
    assert!(message.contains("read scope"), "{message}");
    let viewer = of_user(&ctx, &user("vic", &["viewers"]), None).unwrap();
    let message = check(&ctx, &viewer, Need::AllHosts(Right::Administer), None)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("viewers cannot change anything"),
        "{message}"
    );
    assert!(check(
        &ctx,
        &Access::operator(),
        Need::AllHosts(Right::Administer),
        None
    )
    .is_ok());
    let visible = visible(&ctx, &partner).unwrap();
    assert!(visible.sees(&nas) && !visible.sees(&id("minecraft")));
    assert!(!visible.can(&nas, Right::Operate));
}
