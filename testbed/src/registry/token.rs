//! A bearer-token server for the registry, as Docker Hub's `auth.docker.io` works: `GET
//! /token?service=…&scope=repository:app:pull` with Basic credentials answers
//! `{"token": <JWT>, "expires_in": 300}`. The JWT is ES256 with an `x5c` header carrying the
//! self-signed certificate the registry trusts (`auth.token.rootcertbundle`).
//!
//! A std `TcpListener` on its own thread; one request per connection. Requests without
//! credentials or with wrong ones get `401`.

use anyhow::Context;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The registry's `auth.token.service`.
pub const SERVICE: &str = "unity-testbed-registry";
/// The registry's `auth.token.issuer`.
pub const ISSUER: &str = "unity-testbed-token-server";

struct Signer {
    key: EcdsaKeyPair,
    certificate_der: Vec<u8>,
    user: String,
    pass: String,
    issued: AtomicUsize,
}

/// The running token server; stops when dropped.
pub struct TokenServer {
    signer: Arc<Signer>,
    certificate_pem: String,
    port: u16,
    stop: Arc<AtomicBool>,
}

impl TokenServer {
    pub fn start(user: &str, pass: &str) -> anyhow::Result<TokenServer> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let params = rcgen::CertificateParams::new(vec!["unity-testbed-token".to_string()])?;
        let certificate = params.self_signed(&key_pair)?;
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &SystemRandom::new(),
        )
        .map_err(|error| anyhow::anyhow!("loading the token key: {error}"))?;
        let signer = Arc::new(Signer {
            key,
            certificate_der: certificate.der().to_vec(),
            user: user.into(),
            pass: pass.into(),
            issued: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_signer, thread_stop) = (Arc::clone(&signer), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("token-server".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if thread_stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = serve(&thread_signer, stream);
                    }
                }
            })
            .context("spawning the token server")?;
        Ok(TokenServer {
            signer,
            certificate_pem: certificate.pem(),
            port,
            stop,
        })
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Tokens issued over HTTP so far.
    pub fn issued(&self) -> usize {
        self.signer.issued.load(Ordering::SeqCst)
    }

    /// A token for `subject` granting the requested scopes (`repository:NAME:ACTIONS`).
    pub fn mint(&self, subject: &str, scopes: &[String]) -> anyhow::Result<String> {
        self.signer.mint(subject, scopes)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Signer {
    fn mint(&self, subject: &str, scopes: &[String]) -> anyhow::Result<String> {
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|scope| {
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                Some(serde_json::json!({
                    "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()
                }))
            })
            .collect();
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let header = serde_json::json!({
            "alg": "ES256", "typ": "JWT", "x5c": [STANDARD.encode(&self.certificate_der)]
        });
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
            "iat": now, "jti": format!("{now}-{}", self.issued.load(Ordering::SeqCst)),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|error| anyhow::anyhow!("signing: {error}"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

fn serve(signer: &Signer, mut stream: TcpStream) -> anyhow::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let query = target.split_once('?').map_or("", |(_, query)| query);
    let scopes: Vec<String> = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("scope="))
        .map(percent_decode)
        .collect();
    let expected = format!("{}:{}", signer.user, signer.pass);
    let presented = authorization
        .as_deref()
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok());
    let (status, body) = if presented.as_deref() == Some(expected.as_bytes()) {
        let token = signer.mint(&signer.user, &scopes)?;
        signer.issued.fetch_add(1, Ordering::SeqCst);
        let body = serde_json::json!({"token": token, "access_token": token, "expires_in": 300});
        ("200 OK", body.to_string())
    } else {
        (
            "401 Unauthorized",
            r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_string(),
        )
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    Ok(())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                match u8::from_str_radix(&text[index + 1..index + 3], 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
