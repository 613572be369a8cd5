//! One collection of the textfiles and exporters: the textfiles are read off the async threads,
//! the exporters scraped all at once (each within its own timeout, so a slow one delays
//! nothing but itself) and each body parsed off the async threads as it arrives.

use super::batch::BatchBuilder;
use super::exporters::{self, Target};
use super::samples::{self, Origin};
use super::{scrape, textfile, PluginsConfig};
use crate::clock::now_ms;
use crate::collect::databases::proc_net;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt as _;
use std::time::Instant;
use unity_shared::model::plugin::{SeriesBatch, SourceKind, SourceStatus};

/// What the textfiles and exporters gave.
#[derive(Debug, Default)]
pub struct Collected {
    pub collected_at_ms: i64,
    /// By source.
    pub sources: Vec<SourceStatus>,
    pub batch: SeriesBatch,
}

/// Exporters listening on well-known ports (`/proc/net/tcp` and `tcp6`).
async fn discover(config: &PluginsConfig) -> Vec<Target> {
    let mut listening = Vec::new();
    for file in ["tcp", "tcp6"] {
        let path = config.proc_dir.join("net").join(file);
        if let Ok(text) = tokio::fs::read_to_string(&path).await {
            let (sockets, _warnings) = proc_net::parse_proc_net_tcp(&text);
            listening.extend(
                sockets
                    .into_iter()
                    .map(|socket| (socket.address, socket.port)),
            );
        }
    }
    exporters::discover(&listening, &config.exporters)
}

/// The exporters to scrape now: the configured ones, and the discovered ones when asked.
pub async fn targets(config: &PluginsConfig) -> Vec<Target> {
    let mut targets = config.exporters.clone();
    if config.discover_exporters {
        targets.extend(discover(config).await);
    }
    targets
}

/// Reads every textfile and scrapes every exporter once.
pub async fn collect(config: &PluginsConfig) -> Collected {
    let collected_at_ms = now_ms();
    let caps = config.caps;
    let dirs = config.textfile_dirs.clone();
    let read = tokio::task::spawn_blocking(move || {
        let mut batch = BatchBuilder::default();
        let statuses = textfile::read_dirs(&dirs, &caps, collected_at_ms, &mut batch);
        (batch, statuses)
    })
    .await;
    let (mut batch, mut sources) = match read {
        Ok(read) => read,
        Err(error) => {
            tracing::error!(%error, "Reading the textfiles failed.");
            (BatchBuilder::default(), Vec::new())
        }
    };
    let targets = targets(config).await;
    let mut scrapes: FuturesUnordered<_> = targets
        .iter()
        .map(|target| async move {
            let started = Instant::now();
            let body = scrape::scrape(target, caps.max_bytes, config.timeout).await;
            (target, body, started)
        })
        .collect();
    while let Some((target, body, started)) = scrapes.next().await {
        let source = target.source();
        let location = target.url.to_string();
        let mut status = match body {
            Err(why) => samples::failed(origin(&source, &location), why, 0),
            Ok(body) => {
                let parsed = tokio::task::spawn_blocking(move || {
                    let status = samples::ingest(
                        &mut batch,
                        origin(&source, &location),
                        &body.bytes,
                        body.format,
                        &caps,
                        collected_at_ms,
                    );
                    (batch, status)
                })
                .await;
                match parsed {
                    Ok((returned, status)) => {
                        batch = returned;
                        status
                    }
                    Err(error) => {
                        tracing::error!(%error, "Parsing an exporter's answer failed.");
                        batch = BatchBuilder::default();
                        samples::failed(
                            origin(&target.source(), &target.url.to_string()),
                            "parsing failed".into(),
                            0,
                        )
                    }
                }
            }
        };
        status.duration_ms = started.elapsed().as_millis() as u64;
        sources.push(status);
    }
    sources.sort_by(|a, b| a.source.cmp(&b.source));
    Collected {
        collected_at_ms,
        sources,
        batch: batch.finish(),
    }
}

fn origin<'a>(source: &'a str, location: &'a str) -> Origin<'a> {
    Origin {
        kind: SourceKind::Exporter,
        source,
        location,
        line_offset: 0,
    }
}
