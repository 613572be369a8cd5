//! SCRAM-SHA-256 client (RFC 5802 / RFC 7677) for PostgreSQL password authentication, as pure
//! functions over the exchanged strings (base64 through the `base64` crate).
//!
//! 1. client-first: `n,,n=USER,r=CLIENT_NONCE` (PostgreSQL ignores the user here and uses the
//!    startup message's; the agent sends an empty one, like libpq).
//! 2. server-first: `r=CLIENT_NONCE+SERVER_NONCE,s=SALT,i=ITERATIONS`.
//! 3. client-final: `c=biws,r=NONCE,p=PROOF` where
//!    `SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i)`,
//!    `ClientKey = HMAC(SaltedPassword, "Client Key")`, `StoredKey = SHA-256(ClientKey)`,
//!    `PROOF = ClientKey XOR HMAC(StoredKey, AuthMessage)`.
//! 4. server-final: `v=SIGNATURE`, checked against
//!    `HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage)`, so a server that does not know
//!    the password is not believed.
//!
//! The password is not SASLprep-normalized: ASCII passwords (and any password PostgreSQL
//! stored without normalization) work. Channel binding is not used (no TLS).

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, Engine as _};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The SASL mechanism name.
pub const MECHANISM: &str = "SCRAM-SHA-256";
/// A server asking for more PBKDF2 rounds than this is refused (the default is 4096).
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// Why a SCRAM exchange failed. Never contains the password or keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM server message: {0}")]
    Malformed(&'static str),
    #[error("the server's SCRAM nonce does not extend ours")]
    Nonce,
    #[error("the server asks for {0} PBKDF2 iterations (at most {MAX_ITERATIONS} are accepted)")]
    Iterations(u32),
    #[error("the server rejected the SCRAM proof: {0}")]
    Rejected(String),
    #[error("the server's SCRAM signature is wrong: it does not know the password")]
    ServerSignature,
}

/// The client side of one exchange.
pub struct ScramClient {
    client_first_bare: String,
    nonce: String,
}

/// What the client keeps between client-final and server-final.
pub struct ScramFinal {
    /// The message to send.
    pub message: String,
    expected_server_signature: Vec<u8>,
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Escapes a SCRAM user name (`=` → `=3D`, `,` → `=2C`).
fn escape_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

impl ScramClient {
    /// `nonce` must be printable ASCII without `,` (use [`new_nonce`]).
    pub fn new(user: &str, nonce: &str) -> ScramClient {
        ScramClient {
            client_first_bare: format!("n={},r={nonce}", escape_name(user)),
            nonce: nonce.to_owned(),
        }
    }

    /// The client-first message.
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Answers the server-first message.
    pub fn client_final(
        &self,
        password: &[u8],
        server_first: &str,
    ) -> Result<ScramFinal, ScramError> {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in server_first.split(',') {
            if let Some(value) = attribute.strip_prefix("r=") {
                nonce = Some(value);
            } else if let Some(value) = attribute.strip_prefix("s=") {
                salt = Some(base64_decode(value).ok_or(ScramError::Malformed("salt"))?);
            } else if let Some(value) = attribute.strip_prefix("i=") {
                iterations = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| ScramError::Malformed("iteration count"))?,
                );
            } else if attribute.starts_with("m=") {
                return Err(ScramError::Malformed("mandatory extension"));
            }
        }
        let nonce = nonce.ok_or(ScramError::Malformed("no nonce"))?;
        let salt = salt.ok_or(ScramError::Malformed("no salt"))?;
        let iterations = iterations.ok_or(ScramError::Malformed("no iteration count"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() <= self.nonce.len() {
            return Err(ScramError::Nonce);
        }
        if iterations == 0 || iterations > MAX_ITERATIONS {
            return Err(ScramError::Iterations(iterations));
        }
        let mut salted_password = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, &salt, iterations, &mut salted_password);
        let client_key = hmac_sha256(&salted_password, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hmac_sha256(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac_sha256(&salted_password, b"Server Key");
        Ok(ScramFinal {
            message: format!("{without_proof},p={}", base64_encode(&proof)),
            expected_server_signature: hmac_sha256(&server_key, auth_message.as_bytes()),
        })
    }
}

impl ScramFinal {
    /// Checks the server-final message.
    pub fn verify(&self, server_final: &str) -> Result<(), ScramError> {
        if let Some(error) = server_final.strip_prefix("e=") {
            return Err(ScramError::Rejected(error.to_owned()));
        }
        let signature = server_final
            .split(',')
            .find_map(|attribute| attribute.strip_prefix("v="))
            .ok_or(ScramError::Malformed("no server signature"))?;
        let signature = base64_decode(signature).ok_or(ScramError::Malformed("signature"))?;
        if signature == self.expected_server_signature {
            Ok(())
        } else {
            Err(ScramError::ServerSignature)
        }
    }
}

/// A fresh client nonce: 18 random bytes, base64.
pub fn new_nonce() -> String {
    let bytes: [u8; 18] = rand::random();
    base64_encode(&bytes)
}

/// The decoder: standard base64 without padding ([`base64_decode`] trims it first), ignoring
/// the unused bits of the last character, since servers are not strict about them.
const BASE64_DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard base64 with optional padding (up to two `=`, not necessarily the canonical
/// number); `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let unpadded = text.trim_end_matches('=');
    if text.len() - unpadded.len() > 2 {
        return None;
    }
    BASE64_DECODER.decode(unpadded).ok()
}
