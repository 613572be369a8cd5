//! Mail over SMTP with `lettre`: STARTTLS (required unless `starttls=no`) or implicit TLS,
//! rustls with the platform's trust store plus an optional CA file, AUTH when the URL has a
//! user. The subject is the message's title; the body its text and link.

use super::message::Message;
use super::url::SmtpTls;
use super::NotifyError;
use crate::config::secret::Secret;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// An SMTP receiver's settings, borrowed from its [`super::url::Channel::Smtp`].
pub struct Smtp<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<&'a str>,
    pub password: Option<&'a Secret>,
    pub from: &'a str,
    pub to: &'a [String],
    pub ca_file: Option<&'a str>,
}

fn failed(error: lettre::transport::smtp::Error) -> NotifyError {
    // 4xx answers are transient by the SMTP standard, and so is connection trouble; 5xx
    // answers, certificate errors and client-side errors are not.
    // rustls reports a refused certificate as a connection error: that is not transient.
    let certificate = error.to_string().contains("certificate");
    let retryable = !certificate
        && (error.is_transient()
            || error.is_timeout()
            || error.is_transport_shutdown()
            || !(error.is_permanent()
                || error.is_tls()
                || error.is_client()
                || error.is_response()));
    NotifyError::Smtp {
        message: error.to_string(),
        retryable,
    }
}

fn setup(message: impl std::fmt::Display) -> NotifyError {
    NotifyError::Smtp {
        message: message.to_string(),
        retryable: false,
    }
}

/// Sends `message` as one mail to every recipient.
pub async fn send(smtp: &Smtp<'_>, message: &Message) -> Result<(), NotifyError> {
    let mut builder = lettre::Message::builder()
        .from(smtp.from.parse().map_err(setup)?)
        .subject(&message.title)
        .header(ContentType::TEXT_PLAIN);
    for to in smtp.to {
        builder = builder.to(to.parse().map_err(setup)?);
    }
    let mut text = message.body.clone();
    if let Some(link) = &message.link {
        text.push_str("\n\n");
        text.push_str(link);
    }
    let mail = builder.body(text).map_err(setup)?;

    let mut parameters = TlsParameters::builder(smtp.host.to_owned());
    if let Some(path) = smtp.ca_file {
        let pem = tokio::fs::read(path)
            .await
            .map_err(|error| setup(format!("ca_file: {error}")))?;
        parameters = parameters.add_root_certificate(Certificate::from_pem(&pem).map_err(setup)?);
    }
    let tls = match smtp.tls {
        SmtpTls::Plain => Tls::None,
        SmtpTls::StartTls => Tls::Required(parameters.build_rustls().map_err(setup)?),
        SmtpTls::Implicit => Tls::Wrapper(parameters.build_rustls().map_err(setup)?),
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(password)) = (smtp.username, smtp.password) {
        transport = transport.credentials(Credentials::new(user.to_owned(), password.0.clone()));
    }
    transport
        .build()
        .send(mail)
        .await
        .map(|_| ())
        .map_err(failed)
}
