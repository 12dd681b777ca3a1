//! A company's rules for its support chat: message length, files, who gets new
//! conversations, sealed bodies and how fast one person may post.

use domain::auth::Actor;
use domain::company::{ChatSettings, MAX_MESSAGE_CHARS_LIMIT};
use domain::event::{Payload, Stream};
use domain::{CompanyId, ValidationErrors};

use crate::{App, Result, audit};

/// The most messages per minute a company may allow one person (0 turns the limit off).
const MAX_MESSAGES_PER_MINUTE: u32 = 600;

/// The company's chat settings (everyone of the company reads them: the composer needs
/// the limits).
pub async fn settings(app: &App, actor: &Actor) -> Result<ChatSettings> {
    let company = crate::access::company_of(actor)?;
    of(app, company).await
}

pub(crate) async fn of(app: &App, company: CompanyId) -> Result<ChatSettings> {
    Ok(store::chat::settings(app.db(), company).await?)
}

/// Replaces the company's chat settings (admins). Files may not exceed what the server
/// accepts in one upload at all.
pub async fn set_settings(
    app: &App,
    actor: &Actor,
    settings: ChatSettings,
) -> Result<ChatSettings> {
    let company = crate::access::require_admin(actor)?;
    let max_upload = app.settings().max_upload_bytes as u64;
    let mut errors = ValidationErrors::new();
    if !(1..=MAX_MESSAGE_CHARS_LIMIT).contains(&settings.max_message_chars) {
        errors.add(
            "max_message_chars",
            format!("must be between 1 and {MAX_MESSAGE_CHARS_LIMIT}"),
        );
    }
    if !(1..=max_upload).contains(&settings.max_attachment_bytes) {
        errors.add(
            "max_attachment_bytes",
            format!("must be between 1 and {max_upload} (the server's upload bound)"),
        );
    }
    if settings.messages_per_minute > MAX_MESSAGES_PER_MINUTE {
        errors.add(
            "messages_per_minute",
            format!("must be between 0 (no limit) and {MAX_MESSAGES_PER_MINUTE}"),
        );
    }
    errors.into_result()?;
    let before = of(app, company).await?;
    let mut tx = app.db().begin().await?;
    store::chat::set_settings(&mut tx, company, &settings).await?;
    if before.sealed != settings.sealed {
        // Sealing drops every searchable word of the company's messages at once; the sweep
        // indexes them again as the new setting says (without words while sealed).
        crate::conversations::search::reset(&mut tx, company).await?;
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::ChatSettingsSet { settings },
    )
    .await?;
    app.commit(tx).await?;
    of(app, company).await
}
