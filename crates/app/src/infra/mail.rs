//! Delivering the mail outbox. Every mail is first a row of `mail_outbox`, written in the
//! transaction of the change that caused it; the `mail.send` job then delivers it over
//! SMTP when `smtp_url` is set (retrying with back-off like any job), or writes it to the
//! server log, which is what development and the tests use.

use domain::MailId;
use domain::job::Job;
use lettre::message::Mailbox;
use lettre::message::MultiPart;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::infra::jobs::JobError;
use crate::{App, Settings};

pub const JOB_KIND: &str = "mail.send";

/// The configured SMTP connection pool and sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The mail settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("TICKETFLOWER_SMTP_URL is not a usable SMTP URL: {0}")]
    Url(String),
    #[error("TICKETFLOWER_MAIL_FROM is not a mailbox: {0}")]
    From(String),
}

impl Mailer {
    /// `None` when no SMTP server is configured. The binary calls this at start-up, so a
    /// bad URL stops the server instead of failing every mail later.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, MailConfigError> {
        let Some(url) = &settings.smtp_url else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|e| MailConfigError::Url(e.to_string()))?
            .build();
        let from = settings
            .mail_from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailConfigError::From(e.to_string()))?;
        Ok(Some(Self { transport, from }))
    }
}

/// The `mail.send` job. Its span names the mail by id and how it went out (`smtp` or
/// `log`), never by recipient, subject or body.
#[tracing::instrument(name = "mail.send", skip_all, fields(
    job.id = %job.id,
    mail.id = tracing::field::Empty,
    mail.delivery = tracing::field::Empty,
))]
pub async fn send(app: App, job: Job) -> Result<(), JobError> {
    let id: MailId = job
        .payload
        .get("mail_id")
        .and_then(|v| v.as_str())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| JobError::Permanent("payload has no mail_id".into()))?;
    let span = tracing::Span::current();
    span.record("mail.id", tracing::field::display(id));
    let mail = store::mail::get(app.db(), id)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    if mail.status == "sent" || mail.status == "logged" {
        return Ok(());
    }
    let status = match app.mailer() {
        Some(mailer) => {
            span.record("mail.delivery", "smtp");
            let to: Mailbox = mail
                .to_email
                .parse()
                .map_err(|e| JobError::Permanent(format!("bad recipient: {e}")))?;
            let mut builder = Message::builder()
                .from(mailer.from.clone())
                .to(to)
                .subject(mail.subject.clone());
            for (name, value) in extra_headers(&mail)? {
                builder = builder.raw_header(HeaderValue::new(name, value));
            }
            let built = match &mail.html_body {
                Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                    mail.body.clone(),
                    html.clone(),
                )),
                None => builder
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.body.clone()),
            };
            let message =
                built.map_err(|e| JobError::Permanent(format!("mail cannot be built: {e}")))?;
            mailer.transport.send(message).await.map_err(|e| {
                if e.is_permanent() {
                    JobError::Permanent(format!("SMTP refused the mail: {e}"))
                } else {
                    JobError::Retry(format!("SMTP delivery failed: {e}"))
                }
            })?;
            tracing::info!(to = %mail.to_email, subject = %mail.subject, "mail sent");
            "sent"
        }
        None => {
            span.record("mail.delivery", "log");
            tracing::info!(
                to = %mail.to_email,
                subject = %mail.subject,
                "mail (no SMTP configured; logged instead of sent):\n{}",
                mail.body
            );
            "logged"
        }
    };
    store::mail::mark(app.db(), id, status)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    Ok(())
}

/// The outbox row's extra headers (`List-Unsubscribe`...), checked: a name that is not a
/// header name makes the mail unsendable rather than malformed.
fn extra_headers(mail: &store::mail::Mail) -> Result<Vec<(HeaderName, String)>, JobError> {
    let Some(raw) = &mail.headers else {
        return Ok(Vec::new());
    };
    let map: std::collections::BTreeMap<String, String> = serde_json::from_str(raw)
        .map_err(|e| JobError::Permanent(format!("bad headers in the outbox: {e}")))?;
    map.into_iter()
        .map(|(name, value)| {
            HeaderName::new_from_ascii(name)
                .map(|name| (name, value))
                .map_err(|e| JobError::Permanent(format!("bad header name: {e}")))
        })
        .collect()
}
