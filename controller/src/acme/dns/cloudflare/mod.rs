//! DNS-01 through Cloudflare's API (v4): find the zone that holds the name (`GET /zones?name=`,
//! from the longest candidate down), create the TXT record (`POST /zones/{id}/dns_records`),
//! delete it by id afterwards (`DELETE /zones/{id}/dns_records/{record}`). The token is sent
//! as a bearer token and never logged. Errors are Cloudflare's own `errors[]` messages.
//!
//! Cloudflare publishes a record to its edge within seconds; the solver does not query
//! public DNS before telling the ACME server to look.

use super::{DnsError, DnsSolver, PresentedRecord, SolverFuture};
use crate::acme::settings::CloudflareSettings;
use serde::Deserialize;

const PROVIDER: &str = "Cloudflare";
/// TTL of the challenge record (Cloudflare's minimum outside "automatic").
const RECORD_TTL: u32 = 120;

/// Cloudflare's envelope around every answer.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    /// Left out of some answers (the documented delete answer has only `result`): then the
    /// HTTP status decides.
    success: Option<bool>,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    result: Option<T>,
}

#[derive(Debug, Deserialize)]
struct ApiMessage {
    code: i64,
    message: String,
}

#[derive(Debug, Deserialize)]
struct Zone {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Record {
    id: String,
}

/// Cloudflare, through its API at `api_base`.
pub struct CloudflareSolver {
    http: reqwest::Client,
    settings: CloudflareSettings,
}

/// The zone names that could hold `record`, longest first, down to two labels
/// (`_acme-challenge.a.b.example.com` → `a.b.example.com`, `b.example.com`, `example.com`).
/// Pure.
pub fn zone_candidates(record: &str) -> Vec<String> {
    let labels: Vec<&str> = record.trim_end_matches('.').split('.').collect();
    (1..labels.len().saturating_sub(1))
        .map(|start| labels[start..].join("."))
        .collect()
}

fn api_error(message: impl Into<String>) -> DnsError {
    DnsError::Api {
        provider: PROVIDER,
        message: message.into(),
    }
}

/// The result of an answer, or Cloudflare's errors as it gave them.
fn unwrap<T>(status: reqwest::StatusCode, envelope: Envelope<T>) -> Result<Option<T>, DnsError> {
    if envelope.success.unwrap_or(status.is_success()) && envelope.errors.is_empty() {
        return Ok(envelope.result);
    }
    let said: Vec<String> = envelope
        .errors
        .iter()
        .map(|error| format!("{} (code {})", error.message, error.code))
        .collect();
    Err(api_error(if said.is_empty() {
        format!("HTTP {status} without errors")
    } else {
        format!("HTTP {status}: {}", said.join("; "))
    }))
}

impl CloudflareSolver {
    pub fn new(http: reqwest::Client, settings: CloudflareSettings) -> CloudflareSolver {
        CloudflareSolver { http, settings }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<T>, DnsError> {
        let response = request
            .bearer_auth(&self.settings.api_token.0)
            .send()
            .await
            .map_err(|error| DnsError::Transport {
                server: self.settings.api_base.clone(),
                message: crate::acme::http::error_chain(&error),
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| DnsError::Transport {
                server: self.settings.api_base.clone(),
                message: error.to_string(),
            })?;
        let envelope: Envelope<T> = serde_json::from_slice(&bytes)
            .map_err(|error| api_error(format!("HTTP {status}, unreadable answer: {error}")))?;
        unwrap(status, envelope)
    }

    async fn zone_for(&self, record: &str) -> Result<Zone, DnsError> {
        for candidate in zone_candidates(record) {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("name", &candidate)
                .finish();
            let url = format!("{}/zones?{query}", self.settings.api_base);
            let zones: Vec<Zone> = self.call(self.http.get(&url)).await?.unwrap_or_default();
            if let Some(zone) = zones.into_iter().find(|zone| zone.name == candidate) {
                return Ok(zone);
            }
        }
        Err(api_error(format!(
            "no zone this token can see holds {record}"
        )))
    }

    async fn create(&self, record: &str, value: &str) -> Result<PresentedRecord, DnsError> {
        let zone = self.zone_for(record).await?;
        let url = format!("{}/zones/{}/dns_records", self.settings.api_base, zone.id);
        let body = serde_json::json!({
            "type": "TXT",
            "name": record,
            "content": value,
            "ttl": RECORD_TTL,
            "comment": "ACME DNS-01 challenge (Unity); removed after validation",
        });
        let created: Record = self
            .call(
                self.http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string()),
            )
            .await?
            .ok_or_else(|| api_error("created record without an id"))?;
        tracing::info!(zone = %zone.name, record, "DNS-01 record added through Cloudflare.");
        Ok(PresentedRecord {
            name: record.to_owned(),
            value: value.to_owned(),
            id: Some(format!("{}/{}", zone.id, created.id)),
        })
    }

    async fn delete(&self, record: &PresentedRecord) -> Result<(), DnsError> {
        let Some((zone_id, record_id)) = record.id.as_deref().and_then(|id| id.split_once('/'))
        else {
            return Err(api_error(format!(
                "{} has no record id to delete",
                record.name
            )));
        };
        let url = format!(
            "{}/zones/{zone_id}/dns_records/{record_id}",
            self.settings.api_base
        );
        let _: Option<Record> = self.call(self.http.delete(&url)).await?;
        tracing::info!(record = %record.name, "DNS-01 record removed through Cloudflare.");
        Ok(())
    }
}

impl DnsSolver for CloudflareSolver {
    fn present<'a>(&'a self, name: &'a str, value: &'a str) -> SolverFuture<'a, PresentedRecord> {
        Box::pin(self.create(name, value))
    }

    fn cleanup<'a>(&'a self, record: &'a PresentedRecord) -> SolverFuture<'a, ()> {
        Box::pin(self.delete(record))
    }
}

#[cfg(test)]
mod tests;
