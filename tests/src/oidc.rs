//! A real OpenID Connect provider on loopback for the sign-in tests: npm `oidc-provider`
//! (panva's, OpenID-certified) run by `tests/oidc/server.mjs` with Node. Its packages come
//! from `npm ci --prefix tests/oidc` (scripts/test runs it); without them the tests fail with
//! that command rather than skip.
//!
//! The provider has the client `unity` / `unity-secret` and the users `alice` / `alicepw`
//! (group `family`) and `bob` / `bobpw` (group `strangers`).

use crate::http::{HttpClient, HttpResponse};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub const CLIENT_ID: &str = "unity";
pub const CLIENT_SECRET: &str = "unity-secret";

/// The provider process; killed when dropped.
pub struct OidcProvider {
    child: std::process::Child,
    pub addr: SocketAddr,
}

impl OidcProvider {
    /// Starts the provider for a client that redirects to `redirect_uri` and comes back to
    /// `post_logout_uri` after logging out; returns once discovery answers.
    pub async fn start(redirect_uri: &str, post_logout_uri: &str) -> OidcProvider {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID Connect provider is not installed: run `npm ci --prefix tests/oidc`"
        );
        let port = crate::free_port();
        #[allow(clippy::disallowed_methods)] // The test provider is a Node process.
        let child = std::process::Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg(port.to_string())
            .arg(redirect_uri)
            .arg(post_logout_uri)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node runs (apt-get install nodejs)");
        let provider = OidcProvider {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let mut client = provider.client();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let answer = client
                .request("GET", "/.well-known/openid-configuration", &[], None)
                .await;
            if answer.is_ok_and(|response| response.status == 200) {
                return provider;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the OpenID Connect provider did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes the provider's token endpoint answer with bad ID tokens (`tampered`, `audience`,
    /// `expired`) or good ones again (`good`); see tests/oidc/server.mjs.
    pub async fn id_tokens(&self, mode: &str) {
        let answer = self
            .client()
            .request("POST", &format!("/test/id-token?mode={mode}"), &[], None)
            .await
            .expect("the provider answers");
        assert_eq!(answer.status, 204, "{}", answer.text());
    }

    /// A browser's view of the provider: its own cookie jar.
    pub fn client(&self) -> HttpClient {
        HttpClient::new(self.addr)
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path (and query) of `location` when it points at `addr`, else `None`.
pub fn path_at(location: &str, addr: SocketAddr) -> Option<String> {
    if location.starts_with('/') {
        return Some(location.to_owned());
    }
    location
        .strip_prefix(&format!("http://{addr}"))
        .map(|path| {
            if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            }
        })
}

/// Signs in at the provider as a browser would, starting from Unity's `/login/oidc` with
/// `unity` (its cookie jar is the browser's for Unity) and `provider` (for the provider):
/// follows the redirects, fills the provider's form, and stops at the redirect back to Unity.
/// Returns the path (with the query) of Unity's callback.
pub async fn through_provider(
    unity: &mut HttpClient,
    provider: &mut HttpClient,
    provider_addr: SocketAddr,
    user: &str,
    password: &str,
) -> String {
    let start = unity.get("/login/oidc").await;
    assert_eq!(start.status, 303, "{}", start.text());
    let mut location = location(&start);
    let mut posted = false;
    for _ in 0..10 {
        let Some(path) = path_at(&location, provider_addr) else {
            return location_path(&location);
        };
        let response = if path.starts_with("/interaction/") && !posted {
            let form = provider.get(&path).await;
            assert_eq!(form.status, 200, "{}", form.text());
            posted = true;
            provider
                .post_form(&path, &[("login", user), ("password", password)])
                .await
        } else {
            provider.get(&path).await
        };
        assert!(
            (300..400).contains(&response.status),
            "{path}: {} {}",
            response.status,
            response.text()
        );
        location = self::location(&response);
    }
    panic!("the provider never sent the browser back: {location}");
}

fn location(response: &HttpResponse) -> String {
    response
        .header("location")
        .unwrap_or_else(|| panic!("no Location: {} {}", response.status, response.text()))
        .to_owned()
}

/// The path and query of an absolute URL.
fn location_path(location: &str) -> String {
    let after_scheme = location
        .split_once("://")
        .map_or(location, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("/".to_owned(), |at| after_scheme[at..].to_owned())
}
