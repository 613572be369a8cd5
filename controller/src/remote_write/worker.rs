//! One endpoint's exporter: passes over the store from its durable positions, each batch
//! sent until the receiver takes it (or refuses it for good), positions saved as it goes.
//! Ingest never waits for it: it reads the store behind ingest, so a slow or dead receiver
//! only makes it fall behind, and it catches up when the receiver is back.

use super::config::{Auth, RemoteWriteConfig, SecretSource};
use super::encode;
use super::reader::{Batch, PassReader};
use super::retry::{self, Attempt, Decision};
use super::stats::RemoteWriteStats;
use crate::clock::now_ms;
use crate::storage::remote_write::Positions;
use crate::storage::Store;
use anyhow::Context as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// During a long pass (catching up), positions are saved at most this often; a pass always
/// saves at its end.
const SAVE_EVERY: Duration = Duration::from_secs(10);

/// How requests authenticate, with the secrets read.
enum Credentials {
    None,
    Bearer(String),
    Basic { username: String, password: String },
}

/// One endpoint's exporter.
pub struct Exporter {
    store: Arc<Store>,
    config: RemoteWriteConfig,
    client: reqwest::Client,
    credentials: Credentials,
    stats: Arc<RemoteWriteStats>,
    positions: Positions,
    last_save: Instant,
}

/// A secret's value: the file's content without the trailing newline, or the inline value.
fn read_secret(source: &SecretSource) -> anyhow::Result<String> {
    match source {
        SecretSource::Inline(secret) => Ok(secret.0.clone()),
        SecretSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(text.trim_end_matches(['\r', '\n']).to_owned())
        }
    }
}

impl Exporter {
    /// The exporter of `config`: its secrets read, its client made. Note that this uses
    /// blocking I/O (the secret files).
    pub fn new(
        store: Arc<Store>,
        config: RemoteWriteConfig,
        stats: Arc<RemoteWriteStats>,
    ) -> anyhow::Result<Exporter> {
        let credentials = match &config.auth {
            Auth::None => Credentials::None,
            Auth::Bearer(token) => Credentials::Bearer(read_secret(token)?),
            Auth::Basic { username, password } => Credentials::Basic {
                username: username.clone(),
                password: read_secret(password)?,
            },
        };
        let client = crate::alerts::notify::http::client().context("HTTP client")?;
        stats.update(&config.name, |stats| stats.caught_up_at_ms = now_ms());
        Ok(Exporter {
            store,
            config,
            client,
            credentials,
            stats,
            positions: Positions::new(),
            last_save: Instant::now(),
        })
    }

    /// Loads the positions, then runs passes forever, one every `interval` once caught up.
    pub async fn run(mut self) {
        let name = self.config.name.clone();
        loop {
            let store = self.store.clone();
            let endpoint = name.clone();
            match tokio::task::spawn_blocking(move || store.remote_write.load(&endpoint)).await {
                Ok(Ok(positions)) => {
                    self.positions = positions;
                    break;
                }
                Ok(Err(error)) => {
                    tracing::error!(endpoint = %name, %error, "Remote write positions unreadable.")
                }
                Err(error) => {
                    tracing::error!(endpoint = %name, %error, "Remote write task failed.")
                }
            }
            tokio::time::sleep(self.config.interval).await;
        }
        tracing::info!(endpoint = %name, n_series = self.positions.len(), "Remote write running.");
        loop {
            if let Err(error) = self.pass().await {
                tracing::warn!(endpoint = %name, error = %format!("{error:#}"), "Remote write pass failed.");
            }
            tokio::time::sleep(self.config.interval).await;
        }
    }

    /// Sends everything stored before the pass started that this endpoint has not had.
    pub async fn pass(&mut self) -> anyhow::Result<()> {
        let started_ms = now_ms();
        let store = self.store.clone();
        let positions = self.positions.clone();
        let labels = self.config.labels.clone();
        let mut reader =
            tokio::task::spawn_blocking(move || PassReader::start(&store, &positions, labels))
                .await??;
        let mut changed = false;
        loop {
            let store = self.store.clone();
            let max_samples = self.config.batch_max_samples;
            let (returned, batch) = tokio::task::spawn_blocking(move || {
                let batch = reader.next_batch(&store, max_samples);
                (reader, batch)
            })
            .await?;
            reader = returned;
            let Some(batch) = batch? else {
                break;
            };
            self.deliver(&batch).await?;
            for &(series_id, newest) in &batch.advances {
                self.positions.insert(series_id, newest);
            }
            changed = true;
            if self.last_save.elapsed() >= SAVE_EVERY && reader.n_series_left() > 0 {
                self.save().await?;
                changed = false;
            }
        }
        if changed {
            self.save().await?;
        }
        self.stats.update(&self.config.name, |stats| {
            stats.caught_up_at_ms = stats.caught_up_at_ms.max(started_ms)
        });
        Ok(())
    }

    async fn save(&mut self) -> anyhow::Result<()> {
        let store = self.store.clone();
        let endpoint = self.config.name.clone();
        let positions = self.positions.clone();
        tokio::task::spawn_blocking(move || store.remote_write.save(&endpoint, &positions))
            .await?
            .context("saving the remote write positions")?;
        self.last_save = Instant::now();
        Ok(())
    }

    /// Sends `batch` until it is delivered or refused for good; retries wait with backoff.
    async fn deliver(&self, batch: &Batch) -> anyhow::Result<()> {
        if batch.n_samples == 0 {
            return Ok(());
        }
        let body = bytes::Bytes::from(encode::body(&batch.request)?);
        let name = &self.config.name;
        let mut failures: u32 = 0;
        loop {
            let attempt = self.send(body.clone()).await;
            let jitter: f64 = rand::random();
            match retry::decide(attempt, failures, jitter, self.config.max_backoff) {
                Decision::Delivered => {
                    self.stats
                        .update(name, |stats| stats.samples_sent += batch.n_samples);
                    return Ok(());
                }
                Decision::Drop => {
                    self.stats
                        .update(name, |stats| stats.samples_dropped += batch.n_samples);
                    tracing::error!(endpoint = %name, ?attempt, n_samples = batch.n_samples, "Remote write batch refused; its samples are dropped.");
                    return Ok(());
                }
                Decision::Retry(wait) => {
                    self.stats
                        .update(name, |stats| stats.samples_failed += batch.n_samples);
                    tracing::warn!(endpoint = %name, ?attempt, ?wait, "Remote write failed, retrying.");
                    failures = failures.saturating_add(1);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One attempt. Errors are reduced to [`Attempt::Network`]; the URL (which may hold
    /// credentials) is never logged.
    async fn send(&self, body: bytes::Bytes) -> Attempt {
        let mut request = self
            .client
            .post(&self.config.url.0)
            .timeout(self.config.timeout)
            .body(body);
        for (name, value) in encode::HEADERS {
            request = request.header(name, value);
        }
        request = match &self.credentials {
            Credentials::None => request,
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Basic { username, password } => {
                request.basic_auth(username, Some(password))
            }
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry::retry_after(
                    response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|value| value.to_str().ok()),
                );
                if !response.status().is_success() {
                    let text = response.text().await.unwrap_or_default();
                    let text: String = text.chars().take(300).collect();
                    tracing::debug!(endpoint = %self.config.name, status, answer = %text, "Remote write answer.");
                }
                Attempt::Status {
                    status,
                    retry_after,
                }
            }
            Err(error) => {
                let error = error.without_url();
                tracing::debug!(endpoint = %self.config.name, %error, "Remote write request failed.");
                Attempt::Network
            }
        }
    }
}
