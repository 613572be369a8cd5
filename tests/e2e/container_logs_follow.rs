//! Issue 19 §4, following a container's log in headless Chromium with real parts: Debian's
//! dockerd runs a quiet busybox container; an administrator opens its page, goes to its log
//! and turns on Follow; then the container prints a new line (HTML in it), and the line shows
//! in the page within seconds, as text: no element is made from it.

use serde_json::Value;
use std::time::Duration;
use unity_testbed::engine::{ContainerEngine, Dockerd};
use unity_testbed::image::{ImportBusybox as _, BUSYBOX};
use unity_tests::lab::{container_agent, containers_of, wait_for_containers};
use unity_tests::page_checks::log_in;
use unity_tests::webdriver::Browser;
use unity_tests::*;

/// Prints one line, then waits; the test writes more lines to its standard output.
const SCRIPT: &str = "echo 'first line'; while true; do sleep 1; done";

/// The new line: markup that would make an element (and run script) if inserted as HTML.
const HOSTILE: &str = "<b id=injected>live</b><img src=x onerror=alert(1)>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_following_a_container_log_in_a_browser_shows_new_lines_as_text() {
    init_logging();
    let docker = Dockerd::start();
    docker.import_busybox().unwrap();
    docker
        .cli(&["run", "-d", "--name", "quiet", BUSYBOX, "sh", "-c", SCRIPT])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (agent_id, agent) =
        container_agent(&controller, &dir.path().join("agent"), docker.socket_path()).await;
    let password = add_user(&controller, "admin", "admin").await;
    let admin = logged_in_client(&controller, "admin", &password).await;
    wait_for_containers(
        &admin,
        controller.api_addr,
        &agent_id,
        "the inventory has the container",
        Duration::from_secs(30),
        |view| containers_of(view).iter().any(|c| c["name"] == "quiet"),
    )
    .await;

    let base = format!("http://{}", controller.api_addr);
    let mut browser = Browser::start()
        .await
        .expect("headless Chromium and chromedriver start");
    let outcome = async {
        log_in(&mut browser, &base, "admin", &password).await?;
        // From the container's page to its log, as a person would.
        browser
            .goto(&format!("{base}/hosts/{agent_id}/containers/quiet"))
            .await?;
        let to_log = browser
            .wait_for("#logs-form button[type=submit]", Duration::from_secs(10))
            .await?;
        browser.click(&to_log).await?;
        let lines = browser.wait_for("#log-lines", Duration::from_secs(20)).await?;
        let shown = browser.text(&lines).await?;
        assert!(shown.contains("first line"), "{shown}");

        let follow = browser.find("#follow-start").await?;
        browser.click(&follow).await?;
        let status = browser.find("#follow-status").await?;
        let said = browser.text(&status).await?;
        assert!(said.contains("Following"), "{said}");
        // Let the follow's first poll pass, so the line is new to it.
        tokio::time::sleep(Duration::from_secs(1)).await;

        docker.cli(&["exec", "quiet", "sh", "-c", &format!("echo '{HOSTILE}' > /proc/1/fd/1")])?;
        let printed = tokio::time::Instant::now();
        let deadline = printed + Duration::from_secs(8);
        let last = loop {
            let last = browser
                .execute(
                    "const items = document.querySelectorAll('#log-lines li .log-text');\
                     return items.length ? items[items.length - 1].textContent : null;",
                )
                .await?;
            if last.as_str() == Some(HOSTILE) {
                break last;
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("the new line did not appear within 8 s; last line: {last}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        eprintln!("followed line after {:?}: {last}", printed.elapsed());
        let made = browser
            .execute(
                "return { b: document.querySelectorAll('#log-lines b, #injected').length,\
                          img: document.querySelectorAll('#log-lines img').length,\
                          stream: document.querySelector('#log-lines li:last-child').dataset.stream };",
            )
            .await?;
        assert_eq!(made["b"], Value::from(0), "markup became elements: {made}");
        assert_eq!(made["img"], Value::from(0), "markup became elements: {made}");
        assert_eq!(made["stream"], "stdout", "{made}");
        let stop = browser.find("#follow-stop").await?;
        browser.click(&stop).await?;
        let said = browser.text(&status).await?;
        assert!(said.contains("Stopped"), "{said}");
        browser
            .screenshot(&test_output_dir().join("container-log-followed.png"))
            .await?;
        anyhow::Ok(())
    }
    .await;
    browser.finish(outcome, "container-log-follow").await;
    agent.stop().await;
    controller.shutdown().await.unwrap();
}
