//! The overview's live channel (issue 19): `GET /events/overview`, server-sent events carrying
//! each changed host's card part (`overview_card::live`, rendered and escaped by maud) so the
//! page updates without reloading.
//!
//! One renderer per controller, started when the first browser listens: it waits for hosts
//! the ingest writer marked changed (`transport::live`), lets a burst settle for [`COALESCE`],
//! renders each changed host once and broadcasts the part. Each stream forwards the parts of
//! the hosts its caller sees (the route guard checked the session as for the page). Bounds: a
//! stream that falls [`CHANNEL`] cards behind is ended (the browser reconnects), never waited
//! for; at most [`MAX_STREAMS_PER_CALLER`] streams per session or token and [`MAX_STREAMS`]
//! in all (429 beyond); a stream ends after [`STREAM_LIFETIME`] so that a signed-out or
//! demoted session stops receiving (`EventSource` reconnects through the guard); a comment
//! every [`HEARTBEAT`] keeps proxies from closing an idle stream.

use super::overview_card;
use super::PageCaller;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::hosts;
use crate::http::auth::{Caller, Credential};
use crate::http::error::ApiError;
use crate::http::extract::blocking;
use crate::http::state::AppState;
use crate::transport::live::LiveCard;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use unity_shared::proto::AgentId;

/// How long a burst of reports settles before the changed cards are rendered.
pub const COALESCE: Duration = Duration::from_millis(300);
/// Cards a stream may fall behind before it is ended.
pub const CHANNEL: usize = 1024;
/// Open streams per session (or API token): tabs, and pages left whose closed connection the
/// server notices at the next heartbeat.
pub const MAX_STREAMS_PER_CALLER: usize = 16;
/// Open streams in all.
pub const MAX_STREAMS: usize = 1000;
/// How long one stream lasts before the browser reconnects.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(600);
/// How often an idle stream gets a comment.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// The open streams by caller.
static OPEN: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

/// One open stream, counted until dropped.
struct StreamPermit {
    caller: String,
}

impl StreamPermit {
    fn take(caller: String) -> Result<StreamPermit, ApiError> {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        let open = open.get_or_insert_with(HashMap::new);
        let total: usize = open.values().sum();
        let mine = open.entry(caller.clone()).or_default();
        if *mine >= MAX_STREAMS_PER_CALLER || total >= MAX_STREAMS {
            return Err(ApiError::TooManyRequests {
                retry_after_secs: 30,
            });
        }
        *mine += 1;
        Ok(StreamPermit { caller })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = open.as_mut() {
            if let Some(count) = open.get_mut(&self.caller) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.caller);
                }
            }
        }
    }
}

/// Who a stream is counted against: the session (by its hash) or the API token.
fn caller_key(caller: &Caller) -> String {
    match &caller.credential {
        Credential::Session { session_hash, .. } => session_hash
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
        Credential::Bearer { token_id, .. } => format!("token:{token_id}"),
    }
}

/// Renders the changed hosts' parts until the controller is gone.
async fn render_loop(ctx: std::sync::Weak<Context>, sender: broadcast::Sender<LiveCard>) {
    let Some(feed) = ctx.upgrade().map(|ctx| ctx.ingest.live.clone()) else {
        return;
    };
    loop {
        let mut changed = feed.next_changed().await;
        tokio::time::sleep(COALESCE).await;
        changed.append(&mut feed.take_changed());
        if sender.receiver_count() == 0 {
            continue;
        }
        let Some(ctx) = ctx.upgrade() else { return };
        let feed = feed.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            let now = now_ms();
            let mut cards = Vec::with_capacity(changed.len());
            for agent in changed {
                let Ok(agent_id) = AgentId::new(agent) else {
                    continue;
                };
                match hosts::one(&ctx, &agent_id) {
                    Ok(host) => {
                        let recent = feed.recent(agent_id.as_str());
                        let html = overview_card::live(&host, &recent, now).into_string();
                        cards.push(LiveCard {
                            agent_id,
                            html: html.into(),
                        });
                    }
                    Err(error) => tracing::debug!(%error, "No live card for a changed host."),
                }
            }
            cards
        })
        .await;
        match rendered {
            Ok(cards) => {
                for card in cards {
                    // No receiver left is fine: nobody is looking.
                    let _ = sender.send(card);
                }
            }
            Err(error) => tracing::error!(%error, "Rendering live cards failed."),
        }
    }
}

/// A new receiver of the rendered parts, starting the renderer on first use.
fn subscribe(ctx: &Arc<Context>) -> broadcast::Receiver<LiveCard> {
    ctx.ingest
        .live
        .cards
        .get_or_init(|| {
            let (sender, _) = broadcast::channel(CHANNEL);
            tokio::spawn(render_loop(Arc::downgrade(ctx), sender.clone()));
            sender
        })
        .subscribe()
}

/// `GET /events/overview`: the live parts of the hosts the caller sees, as `card` events.
pub async fn events(
    State(state): State<AppState>,
    caller: PageCaller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let permit = StreamPermit::take(caller_key(&caller.0))?;
    let access = caller.0.access.clone();
    let visible = blocking(&state.ctx, move |ctx| {
        crate::domain::access::visible(ctx, &access)
    })
    .await?;
    let receiver = subscribe(&state.ctx);
    let deadline = tokio::time::Instant::now() + STREAM_LIFETIME;
    let cards = stream::unfold(
        (receiver, permit, visible),
        move |(mut receiver, permit, visible)| async move {
            loop {
                let card = match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Ok(card)) => card,
                    Ok(Err(RecvError::Lagged(n_missed))) => {
                        tracing::debug!(n_missed, "A slow overview stream was dropped.");
                        return None;
                    }
                    Ok(Err(RecvError::Closed)) | Err(_) => return None,
                };
                if visible.sees(&card.agent_id) {
                    let event = Event::default().event("card").data(&*card.html);
                    return Some((Ok::<_, Infallible>(event), (receiver, permit, visible)));
                }
            }
        },
    );
    let opening =
        stream::once(async { Ok::<_, Infallible>(Event::default().retry(Duration::from_secs(2))) });
    Ok(Sse::new(stream::StreamExt::chain(opening, cards))
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_bounded_per_caller_and_freed_when_dropped() {
        let caller = "test-session-bounds".to_owned();
        let permits: Vec<StreamPermit> = (0..MAX_STREAMS_PER_CALLER)
            .map(|_| StreamPermit::take(caller.clone()).unwrap())
            .collect();
        assert!(matches!(
            StreamPermit::take(caller.clone()),
            Err(ApiError::TooManyRequests { .. })
        ));
        let other = StreamPermit::take("another-session".to_owned());
        assert!(other.is_ok(), "another session is not limited by this one");
        drop(permits);
        assert!(StreamPermit::take(caller).is_ok());
    }
}
