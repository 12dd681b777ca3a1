//! Delivering the mail outbox. Without SMTP configured, a message is written to the server
//! log (and stays readable in `mail_outbox`), which is what development and tests use.

use domain::job::Job;
use uuid::Uuid;

use crate::App;
use crate::jobs::JobError;

pub const JOB_KIND: &str = "mail.send";

/// The `mail.send` job.
pub async fn send(app: App, job: Job) -> Result<(), JobError> {
    let id: Uuid = job
        .payload
        .get("mail_id")
        .and_then(|v| v.as_str())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| JobError::Permanent("payload has no mail_id".into()))?;
    let mail = store::mail::get(app.db(), id)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    tracing::info!(
        to = %mail.to_email,
        subject = %mail.subject,
        "mail (no SMTP configured; logged instead of sent):\n{}",
        mail.body
    );
    store::mail::mark(app.db(), id, "logged")
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    Ok(())
}
