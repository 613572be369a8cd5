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
    /// Shared with the blocking calls that read it, so each call costs a reference count, not
    /// a copy of every series' position; an insert copies only while such a call still runs.
    positions: Arc<Positions>,
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
        // Credentials go to the configured URL only: no redirects.
        let options = crate::outbound::HttpOptions {
            connect_timeout: config.timeout.min(std::time::Duration::from_secs(10)),
            ..crate::outbound::HttpOptions::new(config.timeout)
        };
        let client = crate::outbound::http_client(&options).context("HTTP client")?;
        stats.update(&config.name, |stats| stats.started_at_ms = now_ms());
        Ok(Exporter {
            store,
            config,
            client,
            credentials,
            stats,
            positions: Arc::new(Positions::new()),
        })
    }

    /// Loads the positions, sends the batch that was in flight when the exporter last
    /// stopped, then runs passes forever, one every `interval` once caught up.
    pub async fn run(mut self) {
        let name = self.config.name.clone();
        loop {
            match self.resume().await {
                Ok(()) => break,
                Err(error) => {
                    let error = format!("{error:#}");
                    tracing::error!(endpoint = %name, %error, "Remote write cannot resume.");
                }
            }
            tokio::time::sleep(self.config.interval).await;
        }
        tracing::info!(endpoint = %name, n_series = self.positions.len(), "Remote write running.");
        loop {
            match self.pass().await {
                // Catching up (at least a full batch was found): look again at once.
                Ok(n_samples) if n_samples >= self.config.batch_max_samples as u64 => continue,
                Ok(_) => {}
                Err(error) => {
                    let error = format!("{error:#}");
                    tracing::warn!(endpoint = %name, %error, "Remote write pass failed.");
                }
            }
            tokio::time::sleep(self.config.interval).await;
        }
    }

    /// Loads the positions and, when a batch was in flight at the last stop, sends it again
    /// with exactly its ranges (the receiver may have it already: its samples are identical).
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        let store = self.store.clone();
        let endpoint = self.config.name.clone();
        let (positions, in_flight) =
            tokio::task::spawn_blocking(move || store.remote_write.load(&endpoint))
                .await?
                .context("loading the remote write positions")?;
        self.positions = Arc::new(positions);
        if let Some(ranges) = in_flight {
            let store = self.store.clone();
            let labels = self.config.labels.clone();
            let reader =
                tokio::task::spawn_blocking(move || PassReader::replay(&store, &ranges, labels))
                    .await??;
            self.send_all(reader, usize::MAX).await?;
        }
        Ok(())
    }

    /// Sends everything stored before the pass started that this endpoint has not had;
    /// returns the number of samples read.
    pub async fn pass(&mut self) -> anyhow::Result<u64> {
        let started_ms = now_ms();
        let store = self.store.clone();
        let positions = self.positions.clone();
        let labels = self.config.labels.clone();
        let reader =
            tokio::task::spawn_blocking(move || PassReader::start(&store, &positions, labels))
                .await??;
        let n_samples = self.send_all(reader, self.config.batch_max_samples).await?;
        self.stats.update(&self.config.name, |stats| {
            stats.caught_up_at_ms = stats.caught_up_at_ms.max(Some(started_ms))
        });
        Ok(n_samples)
    }

    /// Sends every batch of `reader`: each recorded as in flight (durably) before it is
    /// sent, the positions advanced after it was delivered or refused for good.
    async fn send_all(
        &mut self,
        mut reader: PassReader,
        max_samples: usize,
    ) -> anyhow::Result<u64> {
        let mut changed = false;
        let mut n_samples = 0;
        loop {
            let store = self.store.clone();
            let (returned, batch) = tokio::task::spawn_blocking(move || {
                let batch = reader.next_batch(&store, max_samples);
                (reader, batch)
            })
            .await?;
            reader = returned;
            let Some(batch) = batch? else {
                break;
            };
            if batch.n_samples > 0 {
                self.positions_call(batch.ranges.clone(), |store, endpoint, ranges, _| {
                    store.remote_write.begin(endpoint, &ranges)
                })
                .await
                .context("recording the batch in flight")?;
                self.deliver(&batch).await?;
            }
            for &(series_id, _, newest) in &batch.ranges {
                Arc::make_mut(&mut self.positions).insert(series_id, newest);
            }
            self.positions_call(batch.ranges, |store, endpoint, ranges, positions| {
                store
                    .remote_write
                    .commit(endpoint, ranges.iter().map(|range| range.0), positions)
            })
            .await
            .context("saving the remote write positions")?;
            changed = true;
            n_samples += batch.n_samples;
        }
        if changed {
            self.positions_call(Vec::new(), |store, _, _, _| store.remote_write.flush())
                .await
                .context("flushing the remote write positions")?;
        }
        Ok(n_samples)
    }

    /// Runs `call` on the store's positions off the async threads.
    async fn positions_call(
        &self,
        ranges: Vec<crate::storage::remote_write::Range>,
        call: impl FnOnce(
                &Store,
                &str,
                Vec<crate::storage::remote_write::Range>,
                &Positions,
            ) -> Result<(), crate::storage::StorageError>
            + Send
            + 'static,
    ) -> anyhow::Result<()> {
        let store = self.store.clone();
        let endpoint = self.config.name.clone();
        let positions = Arc::clone(&self.positions);
        tokio::task::spawn_blocking(move || call(&store, &endpoint, ranges, &positions)).await??;
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
                    if (400..500).contains(&status) && status != 429 {
                        tracing::warn!(endpoint = %self.config.name, status, answer = %text, "Remote write refused.");
                    } else {
                        tracing::debug!(endpoint = %self.config.name, status, answer = %text, "Remote write answer.");
                    }
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
