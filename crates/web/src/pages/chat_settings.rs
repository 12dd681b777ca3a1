//! The admin's page of the company's chat settings (issue 17): message length, files,
//! who gets new conversations, sealed bodies and the message rate.

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::extract::State;
use domain::company::{Assignment, ChatSettings};
use serde::Deserialize;

use crate::pages::kit::context::{Flash, PageCtx, PagePost, PageResult};
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::state::WebState;

const PAGE: &str = "/admin/chat";

#[derive(Template)]
#[template(path = "admin_chat.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub form: SettingsForm,
    pub errors: FieldErrors,
    /// The server's bound on one upload, in MiB, to say what the largest file may be.
    pub max_upload_mib: u64,
}

/// The form as typed: numbers stay text so a wrong one is shown back as it was.
#[derive(Deserialize, Default)]
pub struct SettingsForm {
    #[serde(default)]
    max_message_chars: String,
    #[serde(default)]
    max_attachment_mib: String,
    #[serde(default)]
    requester_attachments: Option<String>,
    #[serde(default)]
    assignment: String,
    #[serde(default)]
    sealed: Option<String>,
    #[serde(default)]
    messages_per_minute: String,
}

const MIB: u64 = 1024 * 1024;

impl SettingsForm {
    fn of(settings: &ChatSettings) -> Self {
        let mib = settings.max_attachment_bytes as f64 / MIB as f64;
        Self {
            max_message_chars: settings.max_message_chars.to_string(),
            max_attachment_mib: format!("{}", (mib * 100.0).round() / 100.0),
            requester_attachments: settings.requester_attachments.then(|| "on".into()),
            assignment: settings.assignment.as_str().into(),
            sealed: settings.sealed.then(|| "on".into()),
            messages_per_minute: settings.messages_per_minute.to_string(),
        }
    }

    fn read(&self) -> Result<ChatSettings, Refusal> {
        let number = |field: &str, text: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| Refusal::invalid(field, "must be a whole number"))
        };
        let mib = self
            .max_attachment_mib
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .ok_or_else(|| Refusal::invalid("max_attachment_mib", "must be a number of MiB"))?;
        Ok(ChatSettings {
            max_message_chars: number("max_message_chars", &self.max_message_chars)?,
            max_attachment_bytes: (mib * MIB as f64).round() as u64,
            requester_attachments: self.requester_attachments.is_some(),
            assignment: Assignment::parse(&self.assignment)
                .ok_or_else(|| Refusal::invalid("assignment", "choose one of the ways"))?,
            sealed: self.sealed.is_some(),
            messages_per_minute: number("messages_per_minute", &self.messages_per_minute)?,
        })
    }
}

fn page(
    state: &WebState,
    ctx: &PageCtx,
    form: SettingsForm,
    refusal: Option<Refusal>,
) -> PageResult {
    let status = refusal
        .as_ref()
        .map_or(axum::http::StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(
        status,
        &SettingsPage {
            layout: ctx.layout.clone(),
            form,
            errors: refusal.map(|r| r.errors).unwrap_or_default(),
            max_upload_mib: state.app.settings().max_upload_bytes as u64 / MIB,
        },
    ))
}

pub async fn show(State(state): State<WebState>, ctx: PageCtx) -> PageResult {
    let ctx = ctx.titled("Chat settings");
    if !ctx.actor.has(domain::SystemRole::Admin) {
        return Ok(ctx.failed("/", app::AppError::Forbidden("admins set the chat".into())));
    }
    let settings = ctx.load(app::chat::settings(&state.app, &ctx.actor).await)?;
    page(&state, &ctx, SettingsForm::of(&settings), None)
}

pub async fn save(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<SettingsForm>,
) -> PageResult {
    let ctx = ctx.titled("Chat settings");
    let settings = match form.read() {
        Ok(settings) => settings,
        Err(refusal) => return page(&state, &ctx, form, Some(refusal)),
    };
    match app::chat::set_settings(&state.app, &ctx.actor, settings).await {
        Ok(_) => Ok(ctx.redirect(PAGE, Flash::ok("The chat settings were saved."))),
        Err(error) => match Refusal::renamed(
            error,
            &[
                "max_message_chars",
                "max_attachment_mib",
                "assignment",
                "messages_per_minute",
            ],
            &[("max_attachment_bytes", "max_attachment_mib")],
        ) {
            Ok(refusal) => page(&state, &ctx, form, Some(refusal)),
            Err(error) => Ok(ctx.failed(PAGE, error)),
        },
    }
}

pub fn router() -> axum::Router<WebState> {
    axum::Router::new().route(PAGE, axum::routing::get(show).post(save))
}
