//! Action tasks: the job that calls a task's `action_url`, and the callback that completes
//! an asynchronous one.
//!
//! The call is a signed POST (Standard Webhooks headers, HMAC-SHA256 with the company's
//! action secret) through the one outbound client that refuses private addresses. The
//! message id is the task id, the same on every retry, so a receiver can drop a repeat.
//! A temporary failure (timeout, connection, 5xx, 408/429) is retried by the job queue with
//! back-off; once the attempts are used up, or at once for a permanent failure, the task
//! goes to ERROR and an incident (a workflow error) is raised for an admin to retry.
//! Completion is exactly once however many calls or callbacks arrive.

use domain::event::Stream;
use domain::ids::TaskId;
use std::time::Duration;

use domain::CompanyId;
use domain::event::Payload;
use domain::job::Job;
use domain::workflow::{TaskStatus, TaskType};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use super::versions::published;
use crate::infra::outbound::WebhookSigner;
use crate::runtime::engine::raise;
use crate::runtime::tasks::{Finish, finish};
use crate::{App, AppError, JobError, Result, audit};

/// The company's action signing secret. It is derived from the server's encryption key, so
/// there is nothing more to store or leak, and it changes when that key is rotated.
pub fn company_signer(app: &App, company: CompanyId) -> Result<WebhookSigner> {
    let mut mac = Hmac::<Sha256>::new_from_slice(app.secrets().encryption_key())
        .map_err(AppError::internal)?;
    mac.update(b"ticketflower action secret\0");
    mac.update(company.0.as_bytes());
    WebhookSigner::new(&mac.finalize().into_bytes()).map_err(AppError::internal)
}

/// The secret as `whsec_...`, for a company admin to configure their receiver with.
pub async fn action_secret(app: &App, actor: &domain::auth::Actor) -> Result<String> {
    let company = crate::access::company_of(actor)?;
    if !actor.has(domain::roles::SystemRole::Admin) {
        return Err(AppError::Forbidden(
            "the action secret is for company admins".into(),
        ));
    }
    Ok(company_signer(app, company)?.to_whsec())
}

fn token_hash(token: &str) -> String {
    crate::identity::tokens::hash(token)
}

fn permanent(message: impl Into<String>) -> JobError {
    JobError::Permanent(message.into())
}

/// The job handler of [`crate::runtime::engine::ACTION_JOB`].
pub async fn run(app: App, job: Job) -> Result<(), JobError> {
    let company = job.payload["company_id"]
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok())
        .map(CompanyId)
        .ok_or_else(|| permanent("payload without company_id"))?;
    let task_id = job.payload["task_id"]
        .as_str()
        .and_then(|s| s.parse::<TaskId>().ok())
        .ok_or_else(|| permanent("payload without task_id"))?;
    let body = job.payload["body"].clone();
    let last_attempt = job.attempts >= job.max_attempts;
    match call(&app, company, task_id, body).await {
        Ok(()) => Ok(()),
        Err(Failure::Temporary(message)) if !last_attempt => Err(JobError::Retry(message)),
        Err(Failure::Temporary(message) | Failure::Permanent(message)) => {
            incident(&app, company, task_id, &message, job.attempts)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            Err(permanent(message))
        }
        Err(Failure::Internal(error)) => Err(JobError::Retry(error.to_string())),
    }
}

enum Failure {
    Temporary(String),
    Permanent(String),
    Internal(AppError),
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        Self::Internal(error)
    }
}

impl From<store::StoreError> for Failure {
    fn from(error: store::StoreError) -> Self {
        Self::Internal(error.into())
    }
}

async fn call(app: &App, company: CompanyId, task_id: TaskId, body: Value) -> Result<(), Failure> {
    let task = store::tasks::get(app.db(), company, task_id).await?;
    if !matches!(task.status, TaskStatus::Open | TaskStatus::InProgress) {
        // Done already (or cancelled, or waiting for its callback): nothing to call.
        return Ok(());
    }
    let ticket = store::tickets::get(app.db(), company, task.ticket_id).await?;
    let version = published(app, company, ticket.workflow_version_id).await?;
    let spec = version
        .task(&task.task_key)
        .ok_or_else(|| Failure::Permanent("the task is not in its workflow version".into()))?;
    let url = spec
        .action_url
        .clone()
        .ok_or_else(|| Failure::Permanent("the task has no action_url".into()))?;
    let timeout = Duration::from_secs(u64::from(spec.timeout_seconds.unwrap_or(30)));
    let is_async = spec.task_type == TaskType::AsyncAction;

    let mut tx = app.db().begin().await?;
    store::tasks::transition(
        &mut tx,
        company,
        task_id,
        &[TaskStatus::Open],
        TaskStatus::InProgress,
        None,
    )
    .await?;
    let mut payload = json!({
        "task_id": task_id,
        "ticket_id": ticket.id,
        "ticket_number": ticket.number,
        "task_key": task.task_key,
        "input": body,
    });
    if is_async {
        // A fresh single-use token per attempt; only its hash is kept.
        let token = crate::identity::tokens::opaque("tfcb");
        store::tasks::set_callback(&mut tx, company, task_id, Some(&token_hash(&token))).await?;
        payload["callback_url"] = Value::String(format!(
            "{}/api/v1/actions/{task_id}/callback?token={token}",
            app.settings().base_url()
        ));
    }
    app.commit(tx).await?;

    let signer = company_signer(app, company)?;
    let response = app
        .outbound()?
        .post_webhook(&url, &payload, &signer, task_id.0, timeout)
        .await;
    match response {
        Ok(answer) if is_async => {
            let mut tx = app.db().begin().await?;
            store::tasks::transition(
                &mut tx,
                company,
                task_id,
                &[TaskStatus::InProgress],
                TaskStatus::Pending,
                None,
            )
            .await?;
            audit::record(
                &mut tx,
                None,
                Some(company),
                Stream::Ticket(ticket.id),
                Payload::ActionAccepted { task_id, answer },
            )
            .await?;
            app.commit(tx).await?;
            Ok(())
        }
        Ok(answer) => {
            match finish(app, None, company, &task, &version, answer, Finish::Action).await {
                Ok(_) => Ok(()),
                Err(AppError::Validation(errors)) => Err(Failure::Permanent(format!(
                    "the action's answer does not fit the task's output schema: {errors}"
                ))),
                Err(other) => Err(other.into()),
            }
        }
        Err(error) if error.is_temporary() => Err(Failure::Temporary(error.to_string())),
        Err(error) => Err(Failure::Permanent(error.to_string())),
    }
}

/// The action failed for good: the task goes to ERROR and an incident is raised.
async fn incident(
    app: &App,
    company: CompanyId,
    task_id: TaskId,
    message: &str,
    attempts: u32,
) -> Result<()> {
    let task = store::tasks::get(app.db(), company, task_id).await?;
    let mut tx = app.db().begin().await?;
    let moved = store::tasks::transition(
        &mut tx,
        company,
        task_id,
        &[
            TaskStatus::Open,
            TaskStatus::InProgress,
            TaskStatus::Pending,
        ],
        TaskStatus::Error,
        Some(message),
    )
    .await?;
    if !moved {
        return Ok(());
    }
    raise(
        &mut tx,
        company,
        task.ticket_id,
        Some(task_id),
        domain::workflow::WorkflowErrorType::TaskUpdate,
        &format!(
            "action `{}` failed after {attempts} attempt(s): {message}",
            task.task_key
        ),
        json!({ "kind": "action", "task_id": task_id }),
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

/// Completes an async action with its result, once: the token is single-use and the task
/// must be waiting for it. A wrong token is `NotFound`, like an unknown task.
pub async fn callback(app: &App, task_id: TaskId, token: &str, result: Value) -> Result<()> {
    let task = store::tasks::get_any_company(app.db(), task_id).await?;
    let company = task.company_id;
    let expected = task
        .callback_token_hash
        .as_deref()
        .ok_or(AppError::NotFound)?;
    let given = token_hash(token);
    // Hashes are compared, so timing tells nothing about the token itself.
    if expected != given {
        return Err(AppError::NotFound);
    }
    if !matches!(task.status, TaskStatus::Pending | TaskStatus::InProgress) {
        return Err(AppError::Conflict {
            field: None,
            message: "the task is not waiting for a callback".into(),
        });
    }
    let ticket = store::tickets::get(app.db(), company, task.ticket_id).await?;
    let version = published(app, company, ticket.workflow_version_id).await?;
    if !finish(app, None, company, &task, &version, result, Finish::Action).await? {
        return Err(AppError::Conflict {
            field: None,
            message: "the task is already complete".into(),
        });
    }
    Ok(())
}
