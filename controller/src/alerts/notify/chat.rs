//! The HTTP services' requests, built from a [`Message`] by pure functions, each in the shape
//! of the service's public API documentation:
//! Gotify `POST /message` (gotify.net/api-docs), Discord "Execute Webhook"
//! (discord.com/developers/docs/resources/webhook), Slack incoming webhooks
//! (api.slack.com/messaging/webhooks), Telegram Bot API `sendMessage`
//! (core.telegram.org/bots/api#sendmessage), Matrix client-server API
//! `PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}` (spec.matrix.org),
//! Pushover `POST /1/messages.json` (pushover.net/api), Microsoft Teams workflow webhooks with
//! an Adaptive Card attachment (learn.microsoft.com, "Create incoming webhooks with
//! Workflows"), ntfy publishing with headers (docs.ntfy.sh/publish), and the generic webhook.

use super::http::{Body, Method, Request};
use super::message::Message;
use super::url::Channel;
use super::{ntfy, webhook};
use crate::alerts::Event;
use crate::config::secret::Secret;
use crate::storage::alerts::Severity;
use serde_json::json;

/// Where the hosted services live; tests point them at a receiver on loopback.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub discord: String,
    pub slack: String,
    pub telegram: String,
    pub pushover: String,
}

impl Default for Endpoints {
    fn default() -> Endpoints {
        Endpoints {
            discord: "https://discord.com".into(),
            slack: "https://hooks.slack.com".into(),
            telegram: "https://api.telegram.org".into(),
            pushover: "https://api.pushover.net".into(),
        }
    }
}

/// Title, body and link as one plain text.
fn plain(message: &Message) -> String {
    let mut text = format!("{}\n{}", message.title, message.body);
    if let Some(link) = &message.link {
        text.push('\n');
        text.push_str(link);
    }
    text
}

fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn post(url: String, body: Body) -> Request {
    Request {
        method: Method::Post,
        url,
        headers: Vec::new(),
        body,
    }
}

/// Red, amber, green: by severity, green once resolved.
fn color(message: &Message) -> u32 {
    match (message.resolved, message.severity) {
        (true, _) => 0x2e7d32,
        (false, Severity::Critical) => 0xc62828,
        (false, Severity::Warning) => 0xef8f00,
    }
}

/// The requests that deliver `message` (`None` for channels that are not HTTP). `txn` is
/// unique per queued notification and the same on every retry (Matrix transaction ids);
/// `now_s` is the webhook signature's timestamp.
#[allow(clippy::too_many_arguments)]
pub fn requests(
    channel: &Channel,
    secret: Option<&Secret>,
    message: &Message,
    event: &Event,
    dashboard_url: Option<&str>,
    endpoints: &Endpoints,
    txn: u64,
    now_s: i64,
) -> Option<Vec<Request>> {
    let requests = match channel {
        Channel::Gotify { base, token } => {
            let priority = match (message.resolved, message.severity) {
                (true, _) => 2,
                (false, Severity::Warning) => 5,
                (false, Severity::Critical) => 8,
            };
            let mut body =
                json!({"title": message.title, "message": message.body, "priority": priority});
            if let Some(link) = &message.link {
                body["extras"] = json!({"client::notification": {"click": {"url": link}}});
            }
            let mut request = post(format!("{}/message", base.0), Body::Json(body));
            request
                .headers
                .push(("X-Gotify-Key".into(), token.0.clone()));
            vec![request]
        }
        Channel::Discord { id, token } => {
            let mut embed = json!({
                "title": cut(&message.title, 256),
                "description": cut(&message.body, 4096),
                "color": color(message),
            });
            if let Some(link) = &message.link {
                embed["url"] = json!(link);
            }
            vec![post(
                format!("{}/api/webhooks/{id}/{}", endpoints.discord, token.0),
                Body::Json(json!({"embeds": [embed], "allowed_mentions": {"parse": []}})),
            )]
        }
        Channel::Slack { path } => {
            let mut text = format!("*{}*\n{}", message.title, message.body);
            if let Some(link) = &message.link {
                text.push_str(&format!("\n<{link}|Open in Unity>"));
            }
            vec![post(
                format!("{}/services/{}", endpoints.slack, path.0),
                Body::Json(json!({"text": text})),
            )]
        }
        Channel::Telegram { token, chats } => chats
            .iter()
            .map(|chat| {
                post(
                    format!("{}/bot{}/sendMessage", endpoints.telegram, token.0),
                    Body::Json(json!({
                        "chat_id": chat,
                        "text": cut(&plain(message), 4096),
                        "disable_web_page_preview": true,
                    })),
                )
            })
            .collect(),
        Channel::Matrix { base, token, rooms } => rooms
            .iter()
            .enumerate()
            .map(|(i, room)| {
                let room: String = form_urlencoded::byte_serialize(room.as_bytes()).collect();
                Request {
                    method: Method::Put,
                    url: format!(
                        "{base}/_matrix/client/v3/rooms/{room}/send/m.room.message/unity-{txn}-{i}"
                    ),
                    headers: vec![("Authorization".into(), format!("Bearer {}", token.0))],
                    body: Body::Json(json!({"msgtype": "m.text", "body": plain(message)})),
                }
            })
            .collect(),
        Channel::Pushover {
            token,
            user,
            devices,
        } => {
            let priority = match (message.resolved, message.severity) {
                (true, _) => "-1",
                (false, Severity::Warning) => "0",
                (false, Severity::Critical) => "1",
            };
            let mut form = vec![
                ("token".to_owned(), token.0.clone()),
                ("user".to_owned(), user.0.clone()),
                ("title".to_owned(), cut(&message.title, 250)),
                ("message".to_owned(), cut(&message.body, 1024)),
                ("priority".to_owned(), priority.to_owned()),
            ];
            if let Some(link) = &message.link {
                form.push(("url".into(), link.clone()));
                form.push(("url_title".into(), "Open in Unity".into()));
            }
            if !devices.is_empty() {
                form.push(("device".into(), devices.join(",")));
            }
            vec![post(
                format!("{}/1/messages.json", endpoints.pushover),
                Body::Form(form),
            )]
        }
        Channel::Teams { url } => {
            let body = vec![
                json!({"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "wrap": true}),
                json!({"type": "TextBlock", "text": message.body, "wrap": true}),
            ];
            let mut card = json!({
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
            });
            if let Some(link) = &message.link {
                card["actions"] =
                    json!([{"type": "Action.OpenUrl", "title": "Open in Unity", "url": link}]);
            }
            card["body"] = json!(body);
            vec![post(
                url.0.clone(),
                Body::Json(json!({
                    "type": "message",
                    "attachments": [{
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "contentUrl": null,
                        "content": card,
                    }],
                })),
            )]
        }
        Channel::Ntfy { url, token } => vec![ntfy::request(url, token.as_ref(), message)],
        Channel::Webhook { url } => {
            vec![webhook::request(url, secret, event, dashboard_url, now_s)]
        }
        Channel::Smtp { .. } | Channel::Mqtt { .. } => return None,
    };
    Some(requests)
}
