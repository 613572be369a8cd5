//! The secret cache without a controller: requests queued for the session, replies routed to
//! their waiter, withdrawals, a new session's empty start, and the 0600 file removed on drop.

use super::*;
use std::sync::Arc;

fn name(text: &str) -> SecretName {
    SecretName::new(text).unwrap()
}

#[tokio::test]
async fn issue_16_cache_asks_once_routes_replies_and_forgets_withdrawn_values() {
    let cache = Arc::new(SecretCache::new(Duration::from_secs(5)));
    // Not connected and nothing cached: nothing, at once.
    assert_eq!(cache.get(&name("pg")).await, None);
    cache.session_started();
    let asking = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get(&name("pg")).await })
    };
    // The session's side: wait for the request, answer it.
    cache.wanted.notified().await;
    let requests = cache.take_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].names, vec![name("pg")]);
    cache.answered(SecretReply {
        id: requests[0].id,
        answers: vec![SecretAnswer {
            name: name("pg"),
            value: Some(SecretValue::new("hunter2")),
        }],
    });
    assert_eq!(asking.await.unwrap(), Some(SecretValue::new("hunter2")));
    // Cached now: no second request.
    assert_eq!(
        cache.get(&name("pg")).await,
        Some(SecretValue::new("hunter2"))
    );
    assert!(cache.take_requests().is_empty());
    assert!(!format!("{cache:?}").contains("hunter2"));
    // Withdrawn: asked again (and this time refused).
    cache.withdraw(&[name("pg")]);
    let asking = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get(&name("pg")).await })
    };
    cache.wanted.notified().await;
    let request = cache.take_requests().remove(0);
    cache.answered(SecretReply {
        id: request.id,
        answers: vec![SecretAnswer {
            name: name("pg"),
            value: None,
        }],
    });
    assert_eq!(asking.await.unwrap(), None);
}

#[tokio::test]
async fn issue_16_a_lost_session_wakes_waiters_and_a_new_one_starts_empty() {
    let cache = Arc::new(SecretCache::new(Duration::from_secs(30)));
    cache.session_started();
    cache.answered(SecretReply {
        id: 0,
        answers: vec![SecretAnswer {
            name: name("kept"),
            value: Some(SecretValue::new("v")),
        }],
    });
    let asking = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get(&name("other")).await })
    };
    cache.wanted.notified().await;
    cache.session_ended();
    assert_eq!(asking.await.unwrap(), None);
    assert!(cache.take_requests().is_empty());
    // Kept while away, forgotten when the next session starts.
    assert_eq!(cache.get(&name("kept")).await, Some(SecretValue::new("v")));
    cache.session_started();
    assert_eq!(cache.cached(&name("kept")), None);
}

#[test]
fn issue_16_secret_files_are_private_and_removed_on_drop() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = SecretFile::create(dir.path(), &SecretValue::new("s3cret")).unwrap();
    let path = file.path().to_path_buf();
    assert_eq!(std::fs::read(&path).unwrap(), b"s3cret");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(file);
    assert!(!path.exists());
}
