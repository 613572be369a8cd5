//! Issue 13: `unity-quickstart --config FILE` honours the file (dashboard address, metrics
//! token, ...) instead of starting with built-in defaults. Runs the real binary.

use std::time::Duration;
use unity_tests::http::HttpClient;
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-quickstart");

/// Kills the child when the test ends, passed or not.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_quickstart_honours_the_config_file() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let config_path = dir.path().join("controller.toml");
    std::fs::write(
        &config_path,
        format!(
            "api_listen = \"127.0.0.1:{api_port}\"\n\
             metrics_token = \"quickstart-metrics-token\"\n\
             session_ttl = \"1h\"\n\
             allowed_hosts = [\"127.0.0.1\"]\n"
        ),
    )
    .unwrap();
    let stdout_path = dir.path().join("stdout.txt");
    #[allow(clippy::disallowed_methods)]
    let child = std::process::Command::new(BINARY)
        .arg("--config")
        .arg(&config_path)
        .arg("--dir")
        .arg(dir.path().join("quickstart"))
        .args([
            "--listen",
            &free_udp_address().to_string(),
            "--interval",
            "1s",
        ])
        .env("UNITY_LOG", "warn")
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .spawn()
        .expect("quickstart starts");
    let _child = Child(child);

    let address = std::net::SocketAddr::from(([127, 0, 0, 1], api_port));
    eventually_explained(
        "the dashboard on the api_listen port of the file",
        Duration::from_secs(30),
        || async move {
            let mut client = HttpClient::new(address);
            match client.request("GET", "/login", &[], None).await {
                Ok(response) if response.status == 200 => Ok(()),
                Ok(response) => Err(format!("status {}", response.status)),
                Err(error) => Err(format!("{error:#}")),
            }
        },
    )
    .await;
    let mut scraper = HttpClient::new(address);
    assert_eq!(scraper.get("/metrics").await.status, 401, "metrics_token");
    scraper.bearer = Some("quickstart-metrics-token".into());
    assert_eq!(scraper.get("/metrics").await.status, 200);
    let mut rebound = HttpClient::new(address);
    rebound.host = Some("attacker.example".into());
    assert_eq!(rebound.get("/login").await.status, 421, "allowed_hosts");

    // It printed the dashboard and a first login; with them the local host shows, reporting.
    let printed = eventually_explained("the printed login", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        async move {
            let login = text
                .lines()
                .find_map(|line| line.trim().strip_prefix("Dashboard login:"))
                .map(|rest| rest.split_whitespace().collect::<Vec<_>>());
            match login {
                Some(words) if words.len() >= 3 && words[1] == "/" => {
                    Ok((words[0].to_owned(), words[2].to_owned(), text.clone()))
                }
                _ => Err(text),
            }
        }
    })
    .await;
    let (user, password, text) = printed;
    assert!(
        text.contains(&format!("http://127.0.0.1:{api_port}/")),
        "dashboard URL: {text}"
    );
    let mut admin = HttpClient::new(address);
    assert_eq!(admin.login(&user, &password).await.status, 200, "{text}");
    eventually_explained("the local agent reporting", Duration::from_secs(30), || {
        let mut admin = HttpClient::new(address);
        let (user, password) = (user.clone(), password.clone());
        async move {
            admin.login(&user, &password).await;
            let hosts = admin.get("/api/v1/hosts").await.json();
            let online = hosts
                .as_array()
                .is_some_and(|hosts| hosts.iter().any(|host| host["status"] == "online"));
            if online {
                Ok(())
            } else {
                Err(hosts.to_string())
            }
        }
    })
    .await;
}
