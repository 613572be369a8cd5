//! Receiver URLs (shoutrrr/Apprise style, one URL per receiver) parsed into a typed
//! [`Channel`]: one variant per service, its secrets kept in [`Secret`]s. Pure: no I/O.
//! Errors say what is wrong without echoing the URL (it holds tokens and passwords); the
//! schemes and their options are documented in `docs/notifications.md`.

use crate::config::secret::Secret;
use ::url::Url;

/// How a mail connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtp://`: plain connection upgraded with STARTTLS, which is required.
    StartTls,
    /// `smtp://...?starttls=no`: no TLS at all (a relay on the same machine).
    Plain,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// A receiver, by service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        username: Option<String>,
        password: Option<Secret>,
        from: String,
        to: Vec<String>,
        /// A PEM file with a CA to trust besides the system's (a self-signed relay).
        ca_file: Option<String>,
    },
    /// `POST <base>/message` with an application token.
    Gotify { base: Secret, token: Secret },
    /// `POST https://discord.com/api/webhooks/<id>/<token>`.
    Discord { id: String, token: Secret },
    /// `POST https://hooks.slack.com/services/<path>`.
    Slack { path: Secret },
    /// `POST https://api.telegram.org/bot<token>/sendMessage` per chat.
    Telegram { token: Secret, chats: Vec<String> },
    /// `PUT <base>/_matrix/client/v3/rooms/<room>/send/m.room.message/<txn>` per room.
    Matrix {
        base: String,
        token: Secret,
        rooms: Vec<String>,
    },
    /// `POST https://api.pushover.net/1/messages.json`.
    Pushover {
        token: Secret,
        user: Secret,
        devices: Vec<String>,
    },
    /// A Microsoft Teams workflow ("When a Teams webhook request is received") URL.
    Teams { url: Secret },
    /// `POST <base>/<topic>` with headers.
    Ntfy { url: Secret, token: Option<Secret> },
    /// The generic JSON webhook, signed when a secret is configured.
    Webhook { url: Secret },
    /// MQTT with Home Assistant discovery.
    Mqtt {
        host: String,
        port: u16,
        tls: bool,
        username: Option<String>,
        password: Option<Secret>,
        discovery_prefix: String,
        base_topic: String,
    },
}

/// What is wrong with a receiver URL (never the URL itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL ({0})")]
    Syntax(String),
    #[error("unknown scheme {0:?}; see docs/notifications.md for the supported ones")]
    Scheme(String),
    #[error("{scheme}://: {message}")]
    Invalid {
        scheme: &'static str,
        message: String,
    },
}

fn invalid(scheme: &'static str, message: impl Into<String>) -> UrlError {
    UrlError::Invalid {
        scheme,
        message: message.into(),
    }
}

/// The URL's query, as pairs; only the listed keys are allowed.
fn options(
    url: &Url,
    scheme: &'static str,
    allowed: &[&str],
) -> Result<Vec<(String, String)>, UrlError> {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if let Some((key, _)) = pairs
        .iter()
        .find(|(key, _)| !allowed.contains(&key.as_str()))
    {
        return Err(invalid(
            scheme,
            format!("unknown option {key:?} (allowed: {})", allowed.join(", ")),
        ));
    }
    Ok(pairs)
}

fn option<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

fn list(pairs: &[(String, String)], key: &str) -> Vec<String> {
    option(pairs, key)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `tls=no` turns a self-hosted service's https into http (a server on the LAN).
fn web_scheme(pairs: &[(String, String)], scheme: &'static str) -> Result<&'static str, UrlError> {
    match option(pairs, "tls") {
        None | Some("yes") => Ok("https"),
        Some("no") => Ok("http"),
        Some(_) => Err(invalid(scheme, "tls must be \"yes\" or \"no\"")),
    }
}

fn host(url: &Url, scheme: &'static str) -> Result<String, UrlError> {
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(host.to_owned()),
        _ => Err(invalid(scheme, "a host is missing")),
    }
}

fn decoded(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(String::new, |(_, value)| value.into_owned())
}

fn user(url: &Url) -> Option<String> {
    Some(decoded(url.username())).filter(|name| !name.is_empty())
}

fn password(url: &Url) -> Option<Secret> {
    url.password()
        .map(decoded)
        .filter(|password| !password.is_empty())
        .map(Secret)
}

fn path_segments(url: &Url) -> Vec<String> {
    url.path()
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(decoded)
        .collect()
}

/// Where a self-hosted service lives: `<scheme>://host[:port][/prefix]`.
fn base(url: &Url, web: &str, host: &str, prefix: &[String]) -> String {
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    let mut base = format!("{web}://{host}{port}");
    for segment in prefix {
        base.push('/');
        base.push_str(segment);
    }
    base
}

/// Parses one receiver URL.
pub fn parse(text: &str) -> Result<Channel, UrlError> {
    let url = Url::parse(text.trim()).map_err(|error| UrlError::Syntax(error.to_string()))?;
    match url.scheme() {
        "smtp" | "smtps" => smtp(&url),
        "gotify" => {
            let pairs = options(&url, "gotify", &["tls"])?;
            let host = host(&url, "gotify")?;
            let mut segments = path_segments(&url);
            let token = segments.pop().ok_or_else(|| {
                invalid(
                    "gotify",
                    "the application token (last path segment) is missing",
                )
            })?;
            Ok(Channel::Gotify {
                base: Secret(base(&url, web_scheme(&pairs, "gotify")?, &host, &segments)),
                token: Secret(token),
            })
        }
        "discord" => {
            options(&url, "discord", &[])?;
            let token = user(&url)
                .ok_or_else(|| invalid("discord", "expected discord://TOKEN@WEBHOOK_ID"))?;
            let id = host(&url, "discord")?;
            Ok(Channel::Discord {
                id,
                token: Secret(token),
            })
        }
        "slack" => {
            options(&url, "slack", &[])?;
            let mut parts = vec![host(&url, "slack")?];
            parts.extend(path_segments(&url));
            if parts.len() != 3 {
                return Err(invalid(
                    "slack",
                    "expected slack://T…/B…/TOKEN (the webhook's three parts)",
                ));
            }
            Ok(Channel::Slack {
                path: Secret(parts.join("/")),
            })
        }
        "telegram" => {
            let pairs = options(&url, "telegram", &["chats"])?;
            let token = match (user(&url), password(&url)) {
                (Some(id), Some(rest)) => format!("{id}:{}", rest.0),
                _ => {
                    return Err(invalid(
                        "telegram",
                        "expected telegram://BOT_ID:BOT_TOKEN@telegram?chats=…",
                    ))
                }
            };
            let chats = list(&pairs, "chats");
            if chats.is_empty() {
                return Err(invalid("telegram", "chats= lists no chat"));
            }
            Ok(Channel::Telegram {
                token: Secret(token),
                chats,
            })
        }
        "matrix" => {
            let pairs = options(&url, "matrix", &["rooms", "tls"])?;
            let host = host(&url, "matrix")?;
            let token = password(&url).ok_or_else(|| {
                invalid("matrix", "expected matrix://:ACCESS_TOKEN@host/?rooms=…")
            })?;
            let rooms = list(&pairs, "rooms");
            if rooms.is_empty()
                || rooms
                    .iter()
                    .any(|room| !room.starts_with('!') || !room.contains(':'))
            {
                return Err(invalid(
                    "matrix",
                    "rooms= needs room ids like !abc:example.org",
                ));
            }
            Ok(Channel::Matrix {
                base: base(&url, web_scheme(&pairs, "matrix")?, &host, &[]),
                token,
                rooms,
            })
        }
        "pushover" => {
            let pairs = options(&url, "pushover", &["devices"])?;
            let token = password(&url).ok_or_else(|| {
                invalid(
                    "pushover",
                    "expected pushover://shoutrrr:APP_TOKEN@USER_KEY/",
                )
            })?;
            Ok(Channel::Pushover {
                token,
                user: Secret(host(&url, "pushover")?),
                devices: list(&pairs, "devices"),
            })
        }
        "teams" | "teams+http" => {
            let web = if url.scheme() == "teams" {
                "https"
            } else {
                "http"
            };
            let rest = text.trim().split_once("://").map_or("", |(_, rest)| rest);
            host(&url, "teams")?;
            Ok(Channel::Teams {
                url: Secret(format!("{web}://{rest}")),
            })
        }
        "ntfy" => {
            let pairs = options(&url, "ntfy", &["tls"])?;
            let host = host(&url, "ntfy")?;
            let segments = path_segments(&url);
            let Some((topic, prefix)) = segments.split_last() else {
                return Err(invalid("ntfy", "the topic (last path segment) is missing"));
            };
            let base = base(&url, web_scheme(&pairs, "ntfy")?, &host, prefix);
            Ok(Channel::Ntfy {
                url: Secret(format!("{base}/{topic}")),
                token: password(&url),
            })
        }
        "http" | "https" => {
            host(&url, "https")?;
            Ok(Channel::Webhook {
                url: Secret(text.trim().to_owned()),
            })
        }
        "mqtt" | "mqtts" => {
            let tls = url.scheme() == "mqtts";
            let scheme = if tls { "mqtts" } else { "mqtt" };
            let pairs = options(&url, scheme, &["discovery_prefix", "topic"])?;
            let topic_word = |key: &str, default: &str| -> Result<String, UrlError> {
                let value = option(&pairs, key).unwrap_or(default).trim_matches('/');
                if value.is_empty() || value.contains(['+', '#']) {
                    return Err(invalid(
                        scheme,
                        format!("{key} must be a topic without wildcards"),
                    ));
                }
                Ok(value.to_owned())
            };
            Ok(Channel::Mqtt {
                host: host(&url, scheme)?,
                port: url.port().unwrap_or(if tls { 8883 } else { 1883 }),
                tls,
                username: user(&url),
                password: password(&url),
                discovery_prefix: topic_word("discovery_prefix", "homeassistant")?,
                base_topic: topic_word("topic", "unity")?,
            })
        }
        other => Err(UrlError::Scheme(other.to_owned())),
    }
}

fn smtp(url: &Url) -> Result<Channel, UrlError> {
    let implicit = url.scheme() == "smtps";
    let scheme = if implicit { "smtps" } else { "smtp" };
    let pairs = options(url, scheme, &["from", "to", "starttls", "ca_file"])?;
    let tls = match (implicit, option(&pairs, "starttls")) {
        (true, None) => SmtpTls::Implicit,
        (true, Some(_)) => return Err(invalid(scheme, "starttls= is for smtp:// only")),
        (false, None | Some("yes")) => SmtpTls::StartTls,
        (false, Some("no")) => SmtpTls::Plain,
        (false, Some(_)) => return Err(invalid(scheme, "starttls must be \"yes\" or \"no\"")),
    };
    let is_address = |address: &str| address.parse::<lettre::Address>().is_ok();
    let to = list(&pairs, "to");
    if to.is_empty() || !to.iter().all(|address| is_address(address)) {
        return Err(invalid(
            scheme,
            "to= needs one or more mail addresses, comma-separated",
        ));
    }
    let username = user(url);
    let from = option(&pairs, "from")
        .map(str::to_owned)
        .or_else(|| username.clone().filter(|name| is_address(name)))
        .ok_or_else(|| invalid(scheme, "from= (the sender's address) is missing"))?;
    if !is_address(&from) {
        return Err(invalid(scheme, "from= is not a mail address"));
    }
    if username.is_some() != url.password().is_some() {
        return Err(invalid(
            scheme,
            "give both a user and a password, or neither",
        ));
    }
    Ok(Channel::Smtp {
        host: host(url, scheme)?,
        port: url.port().unwrap_or(match tls {
            SmtpTls::Implicit => 465,
            SmtpTls::StartTls => 587,
            SmtpTls::Plain => 25,
        }),
        tls,
        username,
        password: password(url),
        from,
        to,
        ca_file: option(&pairs, "ca_file").map(str::to_owned),
    })
}

impl Channel {
    /// The service's word, e.g. "smtp", "discord".
    pub fn service(&self) -> &'static str {
        match self {
            Channel::Smtp {
                tls: SmtpTls::Implicit,
                ..
            } => "smtps",
            Channel::Smtp { .. } => "smtp",
            Channel::Gotify { .. } => "gotify",
            Channel::Discord { .. } => "discord",
            Channel::Slack { .. } => "slack",
            Channel::Telegram { .. } => "telegram",
            Channel::Matrix { .. } => "matrix",
            Channel::Pushover { .. } => "pushover",
            Channel::Teams { .. } => "teams",
            Channel::Ntfy { .. } => "ntfy",
            Channel::Webhook { .. } => "webhook",
            Channel::Mqtt { tls: true, .. } => "mqtts",
            Channel::Mqtt { .. } => "mqtt",
        }
    }

    /// A description safe to show and log: service and, for servers people run themselves,
    /// host and port; never tokens, passwords, topics or webhook paths.
    pub fn redacted(&self) -> String {
        match self {
            Channel::Smtp { host, port, to, .. } => {
                format!(
                    "{}://{host}:{port} to {} recipient(s)",
                    self.service(),
                    to.len()
                )
            }
            Channel::Matrix { rooms, .. } => format!("matrix, {} room(s)", rooms.len()),
            Channel::Telegram { chats, .. } => format!("telegram, {} chat(s)", chats.len()),
            Channel::Mqtt { host, port, .. } => format!("{}://{host}:{port}", self.service()),
            Channel::Gotify { base, .. }
            | Channel::Ntfy { url: base, .. }
            | Channel::Webhook { url: base }
            | Channel::Teams { url: base } => match Url::parse(&base.0) {
                Ok(url) => format!("{} at {}", self.service(), url.host_str().unwrap_or("?")),
                Err(_) => self.service().to_owned(),
            },
            _ => self.service().to_owned(),
        }
    }
}
