//! ACME's bad input against real Pebble and BIND (issue 15): the server's errors as it said
//! them (a bad name, a missing External Account Binding, an unknown directory), a TSIG key BIND
//! refuses, a server that never answers given up on in time; and `acme check` as a process.

use super::*;

#[tokio::test]
async fn issue_15_acme_server_errors_as_said_and_timeouts_bounded() {
    unity_tests::init_logging();
    let lab = AcmeLab::start(&[]).await;
    let provider = rfc2136_provider(&lab);
    let data = tempfile::tempdir().unwrap();
    let accounts = AcmeAccounts::new(data.path());

    // A name Pebble refuses: its problem document comes through as it said it.
    let (_, csr) = host_csr(&["bad_name.home.test"]);
    let error = issue(
        &provider,
        &accounts,
        &csr,
        &["bad_name.home.test".to_owned()],
        &NoHttp01,
    )
    .await
    .unwrap_err();
    let AcmeError::Server { kind, detail, .. } = &error else {
        panic!("{error:?}")
    };
    eprintln!("pebble said: {error}");
    assert!(kind.starts_with("urn:ietf:params:acme:error:"), "{error}");
    assert!(!detail.is_empty(), "{error}");
    assert!(error.to_string().contains(detail.as_str()), "{error}");

    // A directory URL the server does not have.
    let unknown = provider_with(&lab, &format!("{}-nope", lab.directory), TIMEOUTS);
    let error = unknown.check(&accounts).await.unwrap_err();
    eprintln!("unknown directory: {error}");
    assert!(error.to_string().contains("404"), "{error}");
    // The same through an order: the directory's 404, not a JSON error about its page.
    let (_, csr) = host_csr(&["x.home.test"]);
    std::fs::create_dir(data.path().join("fresh")).unwrap();
    let fresh = AcmeAccounts::new(&data.path().join("fresh"));
    let error = issue(
        &unknown,
        &fresh,
        &csr,
        &["x.home.test".to_owned()],
        &NoHttp01,
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("HTTP 404"), "{error}");

    // A server that accepts connections and never answers: bounded by request_timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            connections.push(stream);
        }
    });
    let stuck = provider_with(
        &lab,
        &format!("https://{silent_addr}/dir"),
        "request_timeout = \"1s\"\norder_timeout = \"3s\"",
    );
    let started = Instant::now();
    let (_, csr) = host_csr(&["y.home.test"]);
    let error = issue(
        &stuck,
        &accounts,
        &csr,
        &["y.home.test".to_owned()],
        &NoHttp01,
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let shown = error.to_string();
    eprintln!("silent server: {shown}");
    assert!(
        shown.contains("timed out") || shown.contains("longer than"),
        "{shown}"
    );
    held.abort();
}

fn provider_with(lab: &AcmeLab, directory: &str, timeouts: &str) -> AcmeProvider {
    provider(
        directory,
        &lab.ca_file,
        &format!(
            "{{ type = \"dns-rfc2136\", server = \"{}\", zone = \"home.test\", key_name = \"acme-key\", secret_file = \"{}\" }}",
            lab.dns,
            lab.key_file.display()
        ),
        timeouts,
    )
}

/// `unity-controller acme check <provider>` as a process: the directory, then the account,
/// registered once and reused the second time; a wrong TSIG key is refused by BIND.
#[tokio::test]
async fn issue_15_acme_check_cli_and_a_wrong_tsig_key() {
    unity_tests::init_logging();
    let lab = AcmeLab::start(&[]).await;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("controller.toml");
    std::fs::write(
        &config,
        format!(
            "[acme]\n[[acme.providers]]\nname = \"pebble\"\ndirectory = \"{}\"\nca_file = \"{}\"\nterms_agreed = true\nchallenge = {{ type = \"http-01\" }}\n",
            lab.directory,
            lab.ca_file.display()
        ),
    )
    .unwrap();
    let cli = |args: &[&str]| {
        #[allow(clippy::disallowed_methods)] // The real controller binary.
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_unity-e2e-controller"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env("UNITY_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), stdout, stderr)
    };
    let (ok, first, stderr) = cli(&["acme", "check", "pebble"]);
    assert!(ok, "{stderr}");
    assert!(first.contains("newAccount"), "{first}");
    assert!(first.contains("registered now"), "{first}");
    let (ok, second, stderr) = cli(&["acme", "check", "pebble"]);
    assert!(ok, "{stderr}");
    assert!(second.contains("reused"), "{second}");
    let (ok, _, stderr) = cli(&["acme", "check", "nope"]);
    assert!(
        !ok && stderr.contains("no [[acme.providers]] named \"nope\""),
        "{stderr}"
    );

    // A TSIG secret BIND does not know: the update is refused and the order says so.
    let wrong_key = data.path().join("wrong.key");
    std::fs::write(&wrong_key, "c29tZXRoaW5nIGVsc2UgZW50aXJlbHkgMTIzNDU2Nzg=\n").unwrap();
    let provider = provider(
        &lab.directory,
        &lab.ca_file,
        &format!(
            "{{ type = \"dns-rfc2136\", server = \"{}\", zone = \"home.test\", key_name = \"acme-key\", secret_file = \"{}\" }}",
            lab.dns,
            wrong_key.display()
        ),
        TIMEOUTS,
    );
    let (_, csr) = host_csr(&["z.home.test"]);
    let error = issue(
        &provider,
        &AcmeAccounts::new(data.path()),
        &csr,
        &["z.home.test".to_owned()],
        &NoHttp01,
    )
    .await
    .unwrap_err();
    eprintln!("wrong TSIG key: {error}");
    assert!(matches!(error, AcmeError::Dns(_)), "{error}");
    assert!(
        error.to_string().contains("NOTAUTH") || error.to_string().contains("refused"),
        "{error}"
    );
}

/// External Account Binding (as ZeroSSL requires): refused without it, in the server's words;
/// registered with it.
#[tokio::test]
async fn issue_15_acme_external_account_binding() {
    unity_tests::init_logging();
    let hmac_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let lab = AcmeLab::start_with(&[], Some(("kid-1", hmac_key))).await;
    let data = tempfile::tempdir().unwrap();
    let accounts = AcmeAccounts::new(data.path());
    let without = provider(
        &lab.directory,
        &lab.ca_file,
        "{ type = \"http-01\" }",
        TIMEOUTS,
    );
    let error = without.check(&accounts).await.unwrap_err();
    eprintln!("without EAB: {error}");
    let AcmeError::Server { kind, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        kind, "urn:ietf:params:acme:error:externalAccountRequired",
        "{error}"
    );

    let key_file = data.path().join("eab.key");
    std::fs::write(&key_file, format!("{hmac_key}\n")).unwrap();
    let text = format!(
        "[acme]\n[[acme.providers]]\nname = \"pebble\"\ndirectory = \"{}\"\nca_file = \"{}\"\nterms_agreed = true\neab_key_id = \"kid-1\"\neab_hmac_key_file = \"{}\"\nchallenge = {{ type = \"http-01\" }}\n",
        lab.directory,
        lab.ca_file.display(),
        key_file.display()
    );
    let config = Config::from_raw(toml::from_str::<RawConfig>(&text).unwrap()).unwrap();
    assert!(!format!("{config:?}").contains(hmac_key));
    let with = AcmeProvider::new(config.acme.provider("pebble").unwrap().clone()).unwrap();
    let check = with.check(&accounts).await.unwrap();
    assert!(check.created);
}
