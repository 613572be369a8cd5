//! Live error paths: wrong and missing credentials, an unreachable registry and a bad label
//! beside working ones in one `check_all`, and rate limits. The rate-limit test alone uses a
//! tiny in-process fake, because docker-registry never sends `429`, `Retry-After` or
//! `ratelimit-remaining`.

use super::{container, outcome, policy, OLD};
use crate::updates::credentials::Credentials;
use crate::updates::detect::{check_all, CheckError, CheckJob, Outcome, Spread};
use crate::updates::policy::Policy;
use crate::updates::registry::{ClientOptions, RegistryClient, RegistryError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use unity_testbed::registry::{Auth, ImageSpec, Registry};

#[tokio::test]
async fn credential_errors_and_unreachable_registries_are_per_container() {
    let basic = Registry::start(Auth::Basic {
        user: "alice".into(),
        pass: "right".into(),
    });
    let bearer = Registry::start(Auth::Bearer {
        user: "bob".into(),
        pass: "right".into(),
    });
    let anonymous = Registry::start(Auth::Anonymous);
    let mut jobs = Vec::new();
    for registry in [&basic, &bearer, &anonymous] {
        let pushed = registry
            .push_image("lab/app", "1.0.0", &ImageSpec::new("x", OLD))
            .await
            .unwrap();
        let image = format!("{}/lab/app:1.0.0", registry.host());
        let digest = Some(format!("{}/lab/app@{}", registry.host(), pushed.digest));
        jobs.push(container(
            &image,
            digest,
            &pushed.config_digest,
            "amd64",
            &[],
        ));
    }
    let closed_port = unity_testbed::registry::free_port().unwrap();
    let closed = format!("127.0.0.1:{closed_port}");
    jobs.push(container(
        &format!("{closed}/lab/app:1.0.0"),
        Some(format!("{closed}/lab/app@sha256:{}", "0".repeat(64))),
        "",
        "amd64",
        &[],
    ));
    let mut bad_label = jobs[2].clone();
    bad_label.labels = vec![("unity.update.level".into(), "mjor".into())];

    let mut wrong: HashMap<String, Credentials> = HashMap::new();
    for registry in [&basic, &bearer] {
        wrong.insert(
            registry.host(),
            Credentials {
                username: "alice".into(),
                secret: "wrong".into(),
            },
        );
    }
    let client = Arc::new(RegistryClient::new(ClientOptions::default(), Arc::new(wrong)).unwrap());
    let mut check_jobs: Vec<CheckJob> = jobs
        .iter()
        .enumerate()
        .map(|(index, container)| CheckJob {
            key: format!("job-{index}"),
            container: container.clone(),
            policy: Ok(policy(&[])),
            first_seen: Default::default(),
            known_bad: Default::default(),
        })
        .collect();
    let labels = &bad_label.labels;
    check_jobs.push(CheckJob {
        key: "bad-label".into(),
        policy: Policy::for_container(
            &Default::default(),
            &Default::default(),
            labels,
            &Default::default(),
        ),
        container: bad_label.clone(),
        first_seen: Default::default(),
        known_bad: Default::default(),
    });
    let spread = Spread {
        jitter: Duration::from_millis(200),
        concurrency: 2,
    };
    let results = check_all(Arc::clone(&client), check_jobs, spread).await;
    let messages: Vec<String> = results
        .iter()
        .map(|(_, outcome)| match outcome {
            Outcome::Error(error) => error.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        results
            .iter()
            .map(|(key, _)| key.as_str())
            .collect::<Vec<_>>(),
        ["job-0", "job-1", "job-2", "job-3", "bad-label"]
    );
    assert_eq!(
        messages[0],
        format!("registry {} refused the credentials (401)", basic.host())
    );
    assert_eq!(
        messages[1],
        format!("registry {} refused the credentials (401)", bearer.host())
    );
    assert_eq!(messages[2], "UpToDate");
    assert_eq!(
        messages[3],
        format!("registry {closed} unreachable: connection refused")
    );
    assert_eq!(
        messages[4],
        "update policy: unity.update.level: unknown level \"mjor\" (expected digest, patch, minor or major)"
    );

    // Without any credentials: a clear "requires credentials".
    let none = Arc::new(
        RegistryClient::new(
            ClientOptions::default(),
            Arc::new(HashMap::<String, Credentials>::new()),
        )
        .unwrap(),
    );
    let Outcome::Error(CheckError::Registry(error)) = outcome(&none, &jobs[1], &[]).await else {
        panic!("expected an error");
    };
    assert_eq!(
        error,
        RegistryError::CredentialsRequired {
            registry: bearer.host(),
            status: 401
        }
    );
}

/// docker-registry never rate-limits, so this one uses a fake that answers every request with
/// `429`, `Retry-After: 120` and Docker Hub's `ratelimit-remaining`.
#[tokio::test]
async fn rate_limits_back_off_the_registry() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nratelimit-limit: 100;w=21600\r\nratelimit-remaining: 0;w=21600\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let client = Arc::new(
        RegistryClient::new(
            ClientOptions::default(),
            Arc::new(HashMap::<String, Credentials>::new()),
        )
        .unwrap(),
    );
    let running = container(
        &format!("{host}/lab/app:1.0.0"),
        Some(format!("{host}/lab/app@sha256:{}", "1".repeat(64))),
        "",
        "amd64",
        &[],
    );
    let before = SystemTime::now();
    for _ in 0..2 {
        let Outcome::Error(CheckError::Registry(RegistryError::RateLimited { registry, until })) =
            outcome(&client, &running, &[]).await
        else {
            panic!("expected rate limited");
        };
        assert_eq!(registry, host);
        assert!(
            until >= before + Duration::from_secs(119)
                && until <= SystemTime::now() + Duration::from_secs(121)
        );
    }
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "no request while backing off"
    );
    let status = client.rate_limit(&host);
    assert_eq!(
        (status.remaining, status.window_seconds),
        (Some(0), Some(21600))
    );
    let message = outcome(&client, &running, &[]).await;
    let Outcome::Error(error) = message else {
        panic!()
    };
    assert!(
        error
            .to_string()
            .starts_with(&format!("registry {host} rate limited until 20")),
        "{error}"
    );
}
