//! A tiny W3C WebDriver client for the browser test: starts Debian's `chromedriver` on a free
//! port with headless Chromium and speaks the JSON wire protocol through [`crate::http`].
//! Fails loudly (never skips) when Chromium or chromedriver is missing.

use crate::http::HttpClient;
use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The key W3C WebDriver uses for element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running chromedriver with one browser session; both end on drop.
pub struct Browser {
    driver: std::process::Child,
    client: HttpClient,
    session: String,
    _profile: tempfile::TempDir,
}

/// Presses the left mouse button (a step of [`Browser::mouse`]).
pub fn mouse_down() -> Value {
    json!({ "type": "pointerDown", "button": 0 })
}

/// Releases the left mouse button (a step of [`Browser::mouse`]).
pub fn mouse_up() -> Value {
    json!({ "type": "pointerUp", "button": 0 })
}

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> anyhow::Result<Browser> {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            if !Path::new(path).exists() {
                bail!("{path} is missing: install it with `apt-get install -y --no-install-recommends {package} fonts-dejavu-core` (scripts/test does this as root)");
            }
        }
        let port = crate::free_port();
        #[allow(clippy::disallowed_methods)]
        let driver = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {CHROMEDRIVER}"))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut client = HttpClient::new(addr);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = client.request("GET", "/status", &[], None).await {
                if response.json()["value"]["ready"] == json!(true) {
                    break;
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!("chromedriver did not become ready on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir()?;
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1280,1000",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        });
        let mut browser = Browser {
            driver,
            client,
            session: String::new(),
            _profile: profile,
        };
        let value = browser.call("POST", "/session", Some(capabilities)).await?;
        browser.session = value["sessionId"]
            .as_str()
            .with_context(|| format!("no session id in {value}"))?
            .to_owned();
        Ok(browser)
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let body = body.map(|body| {
            (
                "application/json",
                serde_json::to_vec(&body).unwrap_or_default(),
            )
        });
        let response = self.client.request(method, path, &[], body).await?;
        let value = response.json();
        if response.status != 200 {
            bail!(
                "WebDriver {method} {path}: {} {}",
                response.status,
                value["value"]["message"]
            );
        }
        Ok(value["value"].clone())
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub async fn goto(&mut self, url: &str) -> anyhow::Result<()> {
        let path = self.path("/url");
        self.call("POST", &path, Some(json!({ "url": url })))
            .await
            .map(drop)
    }

    pub async fn current_url(&mut self) -> anyhow::Result<String> {
        self.get_string("/url").await
    }

    /// GETs `route` of the session, whose value is a string.
    async fn get_string(&mut self, route: &str) -> anyhow::Result<String> {
        let path = self.path(route);
        Ok(self
            .call("GET", &path, None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn find(&mut self, css: &str) -> anyhow::Result<Element> {
        let path = self.path("/element");
        let value = self
            .call(
                "POST",
                &path,
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
            .with_context(|| format!("finding {css:?}"))?;
        Ok(Element(
            value[ELEMENT_KEY]
                .as_str()
                .context("no element reference")?
                .to_owned(),
        ))
    }

    /// Waits up to `timeout` for `css` to match.
    pub async fn wait_for(&mut self, css: &str, timeout: Duration) -> anyhow::Result<Element> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.find(css).await {
                Ok(element) => return Ok(element),
                Err(error) if tokio::time::Instant::now() > deadline => return Err(error),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn type_into(&mut self, element: &Element, text: &str) -> anyhow::Result<()> {
        let path = self.path(&format!("/element/{}/value", element.0));
        self.call("POST", &path, Some(json!({ "text": text })))
            .await
            .map(drop)
    }

    pub async fn click(&mut self, element: &Element) -> anyhow::Result<()> {
        let path = self.path(&format!("/element/{}/click", element.0));
        self.call("POST", &path, Some(json!({}))).await.map(drop)
    }

    pub async fn text(&mut self, element: &Element) -> anyhow::Result<String> {
        self.get_string(&format!("/element/{}/text", element.0))
            .await
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    pub async fn execute(&mut self, script: &str) -> anyhow::Result<Value> {
        let path = self.path("/execute/sync");
        self.call("POST", &path, Some(json!({ "script": script, "args": [] })))
            .await
    }

    /// Runs `script` as an asynchronous function body: it ends by calling its last argument
    /// (`arguments[arguments.length - 1](value)`), whose value is the result.
    pub async fn execute_async(&mut self, script: &str) -> anyhow::Result<Value> {
        let path = self.path("/execute/async");
        self.call("POST", &path, Some(json!({ "script": script, "args": [] })))
            .await
    }

    /// Performs mouse actions (W3C WebDriver `actions`): `steps` are pointer actions such as
    /// those [`Browser::mouse_to`], [`mouse_down`] and [`mouse_up`] make, played in order.
    pub async fn mouse(&mut self, steps: Vec<Value>) -> anyhow::Result<()> {
        let path = self.path("/actions");
        let body = json!({ "actions": [{
            "type": "pointer",
            "id": "mouse",
            "parameters": { "pointerType": "mouse" },
            "actions": steps,
        }]});
        self.call("POST", &path, Some(body)).await.map(drop)
    }

    /// A pointer move to `x`, `y` CSS pixels from the centre of `element`, taking `ms`.
    pub fn mouse_to(element: &Element, x: i64, y: i64, ms: u64) -> Value {
        json!({
            "type": "pointerMove",
            "duration": ms,
            "origin": { ELEMENT_KEY: element.0 },
            "x": x,
            "y": y,
        })
    }

    /// Makes the page's viewport `width` × `height` CSS pixels (Chromium's device emulation;
    /// `mobile` also honours the viewport meta tag as a phone does). Stays until changed.
    pub async fn set_viewport(
        &mut self,
        width: u32,
        height: u32,
        mobile: bool,
    ) -> anyhow::Result<()> {
        let path = self.path("/goog/cdp/execute");
        let params =
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile });
        self.call(
            "POST",
            &path,
            Some(json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": params })),
        )
        .await
        .map(drop)
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&mut self, path: &Path) -> anyhow::Result<PathBuf> {
        let route = self.path("/screenshot");
        let value = self.call("GET", &route, None).await?;
        let png = base64_decode(value.as_str().context("screenshot is not a string")?)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(path.to_owned())
    }
}

impl Browser {
    /// Adds a virtual authenticator to the session (the WebDriver WebAuthn extension): CTAP2,
    /// built in (`internal`), keeping resident keys, verifying the user; returns its id.
    pub async fn add_virtual_authenticator(&mut self) -> anyhow::Result<String> {
        let path = self.path("/webauthn/authenticator");
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "isUserConsenting": true,
        });
        let value = self.call("POST", &path, Some(options)).await?;
        value
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no authenticator id in {value}"))
    }

    /// The credentials the virtual authenticator `id` holds (WebDriver's JSON).
    pub async fn authenticator_credentials(&mut self, id: &str) -> anyhow::Result<Vec<Value>> {
        let path = self.path(&format!("/webauthn/authenticator/{id}/credentials"));
        let value = self.call("GET", &path, None).await?;
        Ok(value.as_array().cloned().unwrap_or_default())
    }

    /// Ends the browser session (Chromium exits) and stops chromedriver.
    pub async fn quit(mut self) {
        let path = self.path("");
        let _ = self.call("DELETE", &path, None).await;
    }

    /// Ends a browser test's part that ran in the browser: on failure, saves what the page
    /// showed (`screenshots/{name}-failure.png` under [`crate::test_output_dir`], with its
    /// address and text on stderr); then quits, and returns the part's value or fails the
    /// test with the whole error chain.
    pub async fn finish<T>(mut self, outcome: anyhow::Result<T>, name: &str) -> T {
        if outcome.is_err() {
            self.save_failure(name).await;
        }
        self.quit().await;
        match outcome {
            Ok(value) => value,
            Err(error) => panic!("{name}: {error:#}"),
        }
    }

    /// [`Browser::finish`] for a part after which the test goes on with the browser: on
    /// failure the same (quit and fail), on success the browser back with the value.
    pub async fn finish_on_error<T>(self, outcome: anyhow::Result<T>, name: &str) -> (Browser, T) {
        match outcome {
            Ok(value) => (self, value),
            Err(error) => match self.finish::<Infallible>(Err(error), name).await {},
        }
    }

    /// Saves a screenshot of a failed test's page and prints where, the address and the text.
    async fn save_failure(&mut self, name: &str) {
        let shot = crate::test_output_dir()
            .join("screenshots")
            .join(format!("{name}-failure.png"));
        match self.screenshot(&shot).await {
            Ok(path) => eprintln!("failure screenshot: {}", path.display()),
            Err(error) => eprintln!("no failure screenshot: {error:#}"),
        }
        if let Ok(url) = self.current_url().await {
            eprintln!("failure page: {url}");
        }
        if let Ok(text) = self.execute("return document.body.innerText;").await {
            eprintln!("failure page text:\n{}", text.as_str().unwrap_or_default());
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
pub fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut n_bits = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => bail!("bad base64 byte {byte}"),
        };
        buffer = (buffer << 6) | u32::from(value);
        n_bits += 6;
        if n_bits >= 8 {
            n_bits -= 8;
            out.push((buffer >> n_bits) as u8);
        }
    }
    Ok(out)
}
