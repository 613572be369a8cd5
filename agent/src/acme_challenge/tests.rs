//! The challenge listener and webroot against real sockets and files.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn get(port: u16, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

fn challenge(token: &str, listener: ChallengeListener, lifetime_secs: u32) -> ServeHttpChallenge {
    ServeHttpChallenge {
        token: token.into(),
        key_authorization: format!("{token}.thumbprint_1"),
        listener,
        lifetime_secs,
    }
}

#[tokio::test]
async fn issue_15_listener_answers_only_its_tokens_then_closes() {
    let port = free_port();
    let serving = serve(challenge("tok-A", ChallengeListener::Port(port), 2))
        .await
        .unwrap();
    assert!(serving.at.ends_with(&format!(":{port}")), "{}", serving.at);
    // A second challenge on the same port shares the listener.
    serve(challenge("tok_B", ChallengeListener::Port(port), 2))
        .await
        .unwrap();
    let a = get(
        port,
        "GET /.well-known/acme-challenge/tok-A HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    assert!(a.ends_with("\r\n\r\ntok-A.thumbprint_1"), "{a}");
    let b = get(
        port,
        "GET /.well-known/acme-challenge/tok_B HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(b.ends_with("tok_B.thumbprint_1"), "{b}");
    let unknown = get(
        port,
        "GET /.well-known/acme-challenge/other HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    let root = get(port, "GET / HTTP/1.1\r\n\r\n").await;
    assert!(root.starts_with("HTTP/1.1 404"), "{root}");
    let junk = get(port, &format!("{}\r\n\r\n", "x".repeat(100))).await;
    assert!(junk.starts_with("HTTP/1.1 400"), "{junk}");
    // After the lifetime the port is closed.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}

#[tokio::test]
async fn issue_15_webroot_file_is_written_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    let serving = serve(challenge(
        "tok-W",
        ChallengeListener::Webroot(root.clone()),
        1,
    ))
    .await
    .unwrap();
    let path = dir.path().join(".well-known/acme-challenge/tok-W");
    assert_eq!(serving.at, path.display().to_string());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "tok-W.thumbprint_1"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!path.exists());
}

#[tokio::test]
async fn issue_15_path_tricks_and_relative_webroots_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    for token in ["../../etc/x", "a/b", ""] {
        let error = serve(challenge(
            token,
            ChallengeListener::Webroot(root.clone()),
            1,
        ))
        .await
        .unwrap_err();
        assert!(error.to_string().contains("base64url"), "{error}");
    }
    let error = serve(challenge(
        "tok",
        ChallengeListener::Webroot("relative/dir".into()),
        1,
    ))
    .await
    .unwrap_err();
    assert!(error.to_string().contains("absolute"), "{error}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
