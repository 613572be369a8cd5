//! Each HTTP service's request, sent for real to a receiver on loopback and checked against
//! the shape in the service's public API documentation. The real services (discord.com,
//! hooks.slack.com, api.telegram.org, api.pushover.net, a Gotify, Matrix or ntfy server, a
//! Teams workflow) cannot be reached from the test machine, so the receiver stands in for all
//! of them: the hosted ones through [`Endpoints`], the self-hosted ones by their URL.

use super::tests::{event, start_receiver};
use super::*;
use crate::alerts::config::{AlertsConfig, RawAlerts};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_chat_services_send_requests_in_their_documented_shape() {
    let (addr, receiver) = start_receiver().await;
    let raw: RawAlerts = toml::from_str(&format!(
        r#"dashboard_url = "https://unity.lan/"
[[receiver]]
url = "gotify://{addr}/gotify/AppTok?tls=no"
[[receiver]]
url = "discord://WebhookTok@987654"
[[receiver]]
url = "slack://T000/B000/SlackTok"
[[receiver]]
url = "telegram://123:BotTok@telegram?chats=@alerts,-100200"
[[receiver]]
url = "matrix://:MxTok@{addr}/?rooms=!room:home.lan&tls=no"
[[receiver]]
url = "pushover://shoutrrr:AppTok@UserKey/?devices=phone"
[[receiver]]
url = "teams+http://{addr}/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=Sig"
[[receiver]]
url = "ntfy://:NtfyTok@{addr}/nas-alerts?tls=no"
"#
    ))
    .unwrap();
    let config = AlertsConfig::from_raw(raw, Duration::from_secs(60)).unwrap();
    let local = format!("http://{addr}");
    let sender = Sender {
        client: http::client().unwrap(),
        endpoints: Endpoints {
            discord: local.clone(),
            slack: local.clone(),
            telegram: local.clone(),
            pushover: local,
        },
        dashboard_url: config.dashboard_url.clone(),
    };
    let event = event("tank: DEGRADED");
    for receiver in &config.receivers {
        sender.send(receiver, &event, 42).await.unwrap();
    }
    let got = receiver.received.lock().unwrap().clone();
    let json = |i: usize| -> Value { serde_json::from_str(&got[i].body).unwrap() };
    let header = |i: usize, name: &str| got[i].headers[name].to_str().unwrap().to_owned();
    let title = "nas01: tank: DEGRADED";
    assert_eq!(got.len(), 9, "{got:#?}");

    // Gotify: POST /message, token header, title/message/priority, click URL in extras.
    assert_eq!(
        (got[0].method.as_str(), got[0].path_and_query.as_str()),
        ("POST", "/gotify/message")
    );
    assert_eq!(header(0, "x-gotify-key"), "AppTok");
    assert_eq!(json(0)["title"], title);
    assert_eq!(json(0)["priority"], 8);
    assert_eq!(
        json(0)["extras"]["client::notification"]["click"]["url"],
        "https://unity.lan/hosts/nas"
    );

    // Discord: execute webhook with an embed.
    assert_eq!(got[1].path_and_query, "/api/webhooks/987654/WebhookTok");
    assert_eq!(json(1)["embeds"][0]["title"], title);
    assert_eq!(json(1)["embeds"][0]["url"], "https://unity.lan/hosts/nas");
    assert_eq!(json(1)["allowed_mentions"]["parse"], serde_json::json!([]));

    // Slack: incoming webhook, mrkdwn text with the link.
    assert_eq!(got[2].path_and_query, "/services/T000/B000/SlackTok");
    let text = json(2)["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with(&format!("*{title}*\n"))
            && text.ends_with("<https://unity.lan/hosts/nas|Open in Unity>"),
        "{text}"
    );

    // Telegram: one sendMessage per chat.
    for (i, chat) in [(3, "@alerts"), (4, "-100200")] {
        assert_eq!(got[i].path_and_query, "/bot123:BotTok/sendMessage");
        assert_eq!(json(i)["chat_id"], chat);
        assert!(json(i)["text"].as_str().unwrap().starts_with(title));
    }

    // Matrix: PUT with the room id encoded and a transaction id, bearer token.
    assert_eq!(got[5].method, "PUT");
    assert_eq!(
        got[5].path_and_query,
        "/_matrix/client/v3/rooms/%21room%3Ahome.lan/send/m.room.message/unity-42-0"
    );
    assert_eq!(header(5, "authorization"), "Bearer MxTok");
    assert_eq!(json(5)["msgtype"], "m.text");

    // Pushover: a form with token, user, message, title, priority, url, device.
    assert_eq!(got[6].path_and_query, "/1/messages.json");
    assert_eq!(
        header(6, "content-type"),
        "application/x-www-form-urlencoded"
    );
    let form: std::collections::BTreeMap<String, String> =
        form_urlencoded::parse(got[6].body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["token"], "AppTok");
    assert_eq!(form["user"], "UserKey");
    assert_eq!(form["title"], title);
    assert_eq!(form["priority"], "1");
    assert_eq!(form["device"], "phone");
    assert_eq!(form["url"], "https://unity.lan/hosts/nas");

    // Teams: the workflow URL as given, an Adaptive Card attachment.
    assert_eq!(
        got[7].path_and_query,
        "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=Sig"
    );
    assert_eq!(json(7)["type"], "message");
    let attachment = &json(7)["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["content"]["type"], "AdaptiveCard");
    assert_eq!(attachment["content"]["body"][0]["text"], title);
    assert_eq!(
        attachment["content"]["actions"][0]["url"],
        "https://unity.lan/hosts/nas"
    );

    // ntfy: text body, Title/Priority/Tags/Click headers, bearer token.
    assert_eq!(got[8].path_and_query, "/nas-alerts");
    assert_eq!(header(8, "title"), title);
    assert_eq!(header(8, "priority"), "urgent");
    assert_eq!(header(8, "click"), "https://unity.lan/hosts/nas");
    assert_eq!(header(8, "authorization"), "Bearer NtfyTok");
    assert!(got[8].body.starts_with("Critical since"), "{}", got[8].body);
}
