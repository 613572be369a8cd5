//! The `[updates.summary]` section: the optional language-model summary of release notes over
//! an OpenAI-compatible chat-completions endpoint. Off by default; the key comes from a secret
//! of the secrets store or a file, never from the configuration file itself. Defaults are in
//! `packaging/controller.toml` and `docs/updates.md`, "Language-model summary".

use crate::config::error::ConfigError;
use crate::updates::notes::settings::{duration, http_url};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSummary {
    /// Ask the model at all; default false.
    pub enabled: Option<bool>,
    /// The chat-completions URL; default `http://127.0.0.1:11434/v1/chat/completions` (Ollama).
    pub url: Option<String>,
    /// The model's name; default "llama3.1".
    pub model: Option<String>,
    /// A secret in the secrets store holding the API key (sent as a bearer token).
    pub api_key_secret: Option<String>,
    /// A file holding the API key (or `KEY=value` lines, the first value is taken).
    pub api_key_file: Option<PathBuf>,
    /// The whole exchange; default "20s".
    pub timeout: Option<String>,
    /// Bytes of the answer kept; default 4096.
    pub max_answer_bytes: Option<usize>,
    /// Bytes of release notes sent; default 12000.
    pub max_prompt_bytes: Option<usize>,
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummarySettings {
    pub enabled: bool,
    pub url: String,
    pub model: String,
    pub api_key_secret: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub timeout: Duration,
    pub max_answer_bytes: usize,
    pub max_prompt_bytes: usize,
}

impl Default for SummarySettings {
    fn default() -> Self {
        SummarySettings {
            enabled: false,
            url: "http://127.0.0.1:11434/v1/chat/completions".into(),
            model: "llama3.1".into(),
            api_key_secret: None,
            api_key_file: None,
            timeout: Duration::from_secs(20),
            max_answer_bytes: 4096,
            max_prompt_bytes: 12_000,
        }
    }
}

impl SummarySettings {
    pub fn from_raw(raw: RawSummary) -> Result<SummarySettings, ConfigError> {
        let defaults = SummarySettings::default();
        Ok(SummarySettings {
            enabled: raw.enabled.unwrap_or(defaults.enabled),
            url: match raw.url {
                Some(url) => http_url("updates.summary.url", url)?,
                None => defaults.url,
            },
            model: raw.model.unwrap_or(defaults.model),
            api_key_secret: raw.api_key_secret,
            api_key_file: raw.api_key_file,
            timeout: duration("updates.summary.timeout", raw.timeout, defaults.timeout)?,
            max_answer_bytes: raw
                .max_answer_bytes
                .unwrap_or(defaults.max_answer_bytes)
                .clamp(256, 64 * 1024),
            max_prompt_bytes: raw
                .max_prompt_bytes
                .unwrap_or(defaults.max_prompt_bytes)
                .clamp(1024, 256 * 1024),
        })
    }
}
