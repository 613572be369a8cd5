//! The `[acme]` section parsed from TOML: each challenge, secrets from files kept out of
//! `Debug`, and the values refused.

use super::*;

fn parse(text: &str) -> Result<AcmeConfig, ConfigError> {
    #[derive(Deserialize)]
    struct File {
        acme: RawAcme,
    }
    let file: File = toml::from_str(text).unwrap();
    AcmeConfig::from_raw(file.acme)
}

#[test]
fn providers_with_each_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.conf");
    std::fs::write(
        &key,
        "key \"acme-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0\";\n};\n",
    )
    .unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "cf-token\n").unwrap();
    let text = format!(
        r#"
[acme]
[[acme.providers]]
name = "le"
directory = "https://acme-v02.api.letsencrypt.org/directory"
terms_agreed = true
challenge = {{ type = "dns-rfc2136", server = "127.0.0.1:53", zone = "Home.Test.", key_name = "acme-key", secret_file = "{}" }}
[[acme.providers]]
name = "cf"
directory = "https://acme.example/dir"
terms_agreed = true
challenge = {{ type = "dns-cloudflare", api_token_file = "{}" }}
[[acme.providers]]
name = "web"
directory = "https://acme.example/dir"
terms_agreed = true
challenge = {{ type = "http-01" }}
"#,
        key.display(),
        token.display()
    );
    let config = parse(&text).unwrap();
    let ChallengeSettings::Rfc2136(rfc) = &config.providers[0].challenge else {
        panic!()
    };
    assert_eq!(rfc.secret.0, "c2VjcmV0");
    assert_eq!(rfc.zone, "home.test");
    assert_eq!(rfc.algorithm, "hmac-sha256");
    let ChallengeSettings::Cloudflare(cf) = &config.providers[1].challenge else {
        panic!()
    };
    assert_eq!(cf.api_token.0, "cf-token");
    assert_eq!(cf.api_base, CLOUDFLARE_API);
    assert!(matches!(
        config.providers[2].challenge,
        ChallengeSettings::Http01(unity_shared::model::certificate::ChallengeListener::Port(
            80
        ))
    ));
    // Secrets stay out of Debug.
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("cf-token") && !shown.contains("c2VjcmV0"),
        "{shown}"
    );
}

#[test]
fn refuses_missing_terms_and_bad_names() {
    let base = |extra: &str| {
        format!(
            "[acme]\n[[acme.providers]]\n{extra}\ndirectory = \"https://a/dir\"\nchallenge = {{ type = \"http-01\" }}\n"
        )
    };
    assert!(parse(&base("name = \"x\"")).is_err());
    assert!(parse(&base("name = \"X y\"\nterms_agreed = true")).is_err());
    assert!(parse(&base("name = \"x\"\nterms_agreed = true")).is_ok());
    assert!(parse("[acme]\n").unwrap().providers.is_empty());
}
