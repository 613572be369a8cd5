//! Group commit: one writer takes every report queued by any agent session, stores them in one
//! call (one flush) and only then releases their acknowledgements. Each stored report's system
//! figures then go to the overview's live feed (`live.rs`), which never makes the writer wait.

use super::live::LiveFeed;
use crate::storage::series::{IngestOutcome, IngestReport};
use crate::storage::Store;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most reports stored under one flush.
const MAX_GROUP: usize = 4096;

type Done = oneshot::Sender<Result<IngestOutcome, String>>;

/// A report waiting for the writer; `wrote_state` says the session put typed state or events
/// into the database for it, which must be flushed before the acknowledgement.
struct Queued {
    report: IngestReport,
    wrote_state: bool,
    done: Done,
}

/// Where sessions queue reports.
#[derive(Clone)]
pub struct IngestHandle {
    queue: mpsc::Sender<Queued>,
    /// What the stored reports said, for the overview's live cards.
    pub live: Arc<LiveFeed>,
}

impl IngestHandle {
    /// Queues a report; the receiver resolves once it is durable (or failed): its samples and,
    /// when `wrote_state`, the typed state and events its session wrote to the database.
    pub async fn submit(
        &self,
        report: IngestReport,
        wrote_state: bool,
    ) -> oneshot::Receiver<Result<IngestOutcome, String>> {
        let (done, receiver) = oneshot::channel();
        let queued = Queued {
            report,
            wrote_state,
            done,
        };
        if let Err(mpsc::error::SendError(queued)) = self.queue.send(queued).await {
            let _ = queued
                .done
                .send(Err("the controller is shutting down".into()));
        }
        receiver
    }
}

/// Starts the writer task. It ends when every handle is dropped.
pub fn spawn_writer(store: Arc<Store>) -> (IngestHandle, tokio::task::JoinHandle<()>) {
    let (queue, mut receiver) = mpsc::channel::<Queued>(MAX_GROUP);
    let live = Arc::new(LiveFeed::default());
    let feed = live.clone();
    let task = tokio::spawn(async move {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while receiver.recv_many(&mut group, MAX_GROUP).await > 0 {
            let flush_state = group.iter().any(|queued| queued.wrote_state);
            let (reports, waiters): (Vec<IngestReport>, Vec<Done>) = group
                .drain(..)
                .map(|queued| (queued.report, queued.done))
                .unzip();
            let store = store.clone();
            let feed = feed.clone();
            let stored = tokio::task::spawn_blocking(move || {
                if flush_state {
                    store.flush()?;
                }
                let outcomes = store.series.ingest(&reports)?;
                for (report, outcome) in reports.iter().zip(&outcomes) {
                    if *outcome == IngestOutcome::Stored {
                        feed.observe(&report.agent, &report.samples);
                    }
                }
                Ok::<_, crate::storage::StorageError>(outcomes)
            })
            .await;
            match stored {
                Ok(Ok(outcomes)) => {
                    for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
                        let _ = waiter.send(Ok(outcome));
                    }
                }
                Ok(Err(error)) => {
                    tracing::error!(%error, n_reports = waiters.len(), "Storing reports failed.");
                    for waiter in waiters {
                        let _ = waiter.send(Err(error.to_string()));
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "Storage writer panicked.");
                    for waiter in waiters {
                        let _ = waiter.send(Err("storage writer failed".into()));
                    }
                }
            }
        }
    });
    (IngestHandle { queue, live }, task)
}
