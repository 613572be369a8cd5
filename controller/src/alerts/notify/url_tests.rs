//! Receiver URLs: one of each scheme, and the mistakes people make, with errors that never
//! show the secret parts.

use super::url::*;
use crate::config::secret::Secret;

fn secret(text: &str) -> Secret {
    Secret(text.to_owned())
}

#[test]
fn issue_18_every_scheme_parses_into_its_variant() {
    assert_eq!(
        parse("smtp://alerts%40home.test:pa%3Ass@mail.home.test/?to=me@home.test,you@home.test")
            .unwrap(),
        Channel::Smtp {
            host: "mail.home.test".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            username: Some("alerts@home.test".into()),
            password: Some(secret("pa:ss")),
            from: "alerts@home.test".into(),
            to: vec!["me@home.test".into(), "you@home.test".into()],
            ca_file: None,
        }
    );
    match parse("smtps://mail.home.test/?from=a@b.test&to=c@d.test").unwrap() {
        Channel::Smtp {
            port: 465,
            tls: SmtpTls::Implicit,
            username: None,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    match parse("smtp://127.0.0.1:2525/?from=a@b.test&to=c@d.test&starttls=no").unwrap() {
        Channel::Smtp {
            port: 2525,
            tls: SmtpTls::Plain,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse("gotify://push.lan:8080/sub/AbC123?tls=no").unwrap(),
        Channel::Gotify {
            base: secret("http://push.lan:8080/sub"),
            token: secret("AbC123")
        }
    );
    assert_eq!(
        parse("discord://tok-en@123456").unwrap(),
        Channel::Discord {
            id: "123456".into(),
            token: secret("tok-en")
        }
    );
    assert_eq!(
        parse("slack://T000/B000/XXXX").unwrap(),
        Channel::Slack {
            path: secret("T000/B000/XXXX")
        }
    );
    assert_eq!(
        parse("telegram://123:ABC-def@telegram?chats=@alerts,-100123").unwrap(),
        Channel::Telegram {
            token: secret("123:ABC-def"),
            chats: vec!["@alerts".into(), "-100123".into()]
        }
    );
    assert_eq!(
        parse("matrix://:syt_tok@matrix.lan:8448/?rooms=!abc:matrix.lan").unwrap(),
        Channel::Matrix {
            base: "https://matrix.lan:8448".into(),
            token: secret("syt_tok"),
            rooms: vec!["!abc:matrix.lan".into()]
        }
    );
    assert_eq!(
        parse("pushover://shoutrrr:apptoken@userkey/?devices=phone").unwrap(),
        Channel::Pushover {
            token: secret("apptoken"),
            user: secret("userkey"),
            devices: vec!["phone".into()]
        }
    );
    assert_eq!(
        parse("teams://prod.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=S1G").unwrap(),
        Channel::Teams { url: secret("https://prod.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=S1G") }
    );
    assert_eq!(
        parse("ntfy://:tk_1@ntfy.lan/nas-alerts").unwrap(),
        Channel::Ntfy {
            url: secret("https://ntfy.lan/nas-alerts"),
            token: Some(secret("tk_1"))
        }
    );
    assert_eq!(
        parse("https://hooks.lan/x?token=t").unwrap(),
        Channel::Webhook {
            url: secret("https://hooks.lan/x?token=t")
        }
    );
    assert_eq!(
        parse("mqtt://ha:pw@broker.lan/?discovery_prefix=hass&topic=home/unity").unwrap(),
        Channel::Mqtt {
            host: "broker.lan".into(),
            port: 1883,
            tls: false,
            username: Some("ha".into()),
            password: Some(secret("pw")),
            discovery_prefix: "hass".into(),
            base_topic: "home/unity".into(),
        }
    );
    assert!(matches!(
        parse("mqtts://broker.lan").unwrap(),
        Channel::Mqtt {
            port: 8883,
            tls: true,
            ..
        }
    ));
}

#[test]
fn issue_18_malformed_urls_say_what_is_wrong_without_secrets() {
    for (url, expect) in [
        ("not a url s3cret", "not a URL"),
        ("irc://s3cret@host/", "unknown scheme \"irc\""),
        ("smtp://u:s3cret@mail.lan/?from=a@b.test", "to= needs"),
        ("smtp://u:s3cret@mail.lan/?to=a@b.test", "from="),
        ("smtp://mail.lan/?from=a@b.test&to=nobody", "to= needs"),
        (
            "smtp://mail.lan/?from=a@b.test&to=a@b.test&sendmail=s3cret",
            "unknown option \"sendmail\"",
        ),
        (
            "smtps://mail.lan/?from=a@b.test&to=a@b.test&starttls=no",
            "smtp:// only",
        ),
        ("gotify://push.lan/", "token"),
        ("gotify://push.lan/s3cret?tls=maybe", "tls must be"),
        ("discord://123456", "TOKEN@WEBHOOK_ID"),
        ("slack://T000/s3cret", "three parts"),
        ("telegram://s3cret@telegram?chats=1", "BOT_ID:BOT_TOKEN"),
        ("telegram://1:s3cret@telegram", "no chat"),
        ("matrix://:s3cret@m.lan/?rooms=general", "room ids"),
        ("pushover://userkey/", "APP_TOKEN"),
        ("ntfy://:s3cret@ntfy.lan/", "topic"),
        ("mqtt://u:s3cret@broker/?topic=a/%23", "wildcards"),
    ] {
        let error = parse(url).unwrap_err().to_string();
        assert!(error.contains(expect), "{url}: {error}");
        assert!(!error.contains("s3cret"), "{url}: {error}");
    }
}

#[test]
fn redacted_descriptions_hold_no_secrets() {
    for url in [
        "smtp://u:s3cret@mail.lan/?from=a@b.test&to=a@b.test",
        "gotify://push.lan/s3cret",
        "discord://s3cret@123",
        "slack://T0/B0/s3cret",
        "telegram://1:s3cret@telegram?chats=@alerts",
        "matrix://:s3cret@m.lan/?rooms=!abc:m.lan",
        "pushover://x:s3cret@s3cret/",
        "teams://prod.logic.azure.com/workflows/s3cret?sig=s3cret",
        "ntfy://:s3cret@ntfy.lan/s3cret",
        "https://hooks.lan/s3cret?token=s3cret",
        "mqtt://u:s3cret@broker.lan",
    ] {
        let channel = parse(url).unwrap();
        let shown = format!("{} {:?}", channel.redacted(), channel);
        assert!(!shown.contains("s3cret"), "{url}: {shown}");
    }
}
