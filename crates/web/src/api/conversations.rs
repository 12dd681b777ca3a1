//! Support conversations (issue 17): get-or-create, lists, assignment and status, messages,
//! read watermarks, the hash chain's verification, message search and transcript exports
//! (JSON, CSV). The rules are in `app::conversations`; this module speaks HTTP.

use app::conversations::search::{MessageHit, MessageQuery};
use app::conversations::transcript::Transcript;
use app::conversations::{
    self, ChainVerification, ConversationView, MessageView, OpenRequest, View,
};
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use domain::company::ChatSettings;
use domain::{ConversationId, MessageId, TicketId, UserId, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::extract::{AppJson, AppPath, AppQuery, MultipartForm};
use crate::problem::ApiResult;
use crate::state::WebState;

/// `POST /conversations` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    subject: Option<String>,
    /// An incident id, unique in the company: gets or creates that conversation.
    reference: Option<String>,
    /// A ticket: gets or creates its conversation.
    ticket_id: Option<TicketId>,
}

/// Returns the caller's open support conversation (200), or creates it (201) and gives it
/// to the agent with the shortest queue. With a `reference` or `ticket_id`, the
/// conversation of that reference or ticket.
#[utoipa::path(post, operation_id = "conversation_open", path = "/api/v1/conversations", tag = "conversations", request_body = OpenBody,
    responses(
        (status = 200, description = "The existing conversation", body = ConversationView),
        (status = 201, description = "A new conversation", body = ConversationView),
    ),
    security(("bearer" = [])))]
pub async fn open(
    State(state): State<WebState>,
    Authed(actor): Authed,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<ConversationView>)> {
    let body: OpenBody = optional_json(&body)?;
    let (view, created) = conversations::open(
        &state.app,
        &actor,
        OpenRequest {
            subject: body.subject,
            reference: body.reference,
            ticket_id: body.ticket_id,
        },
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// For agents: `mine` (default), `unassigned` or `all`. Requesters see their own.
    view: Option<String>,
    /// `open`, `pending`, `resolved` or `closed`.
    status: Option<String>,
    /// For agents: only those routed to this team (a company role).
    team: Option<domain::ids::CompanyRoleId>,
    /// For agents: only the web chat's (`web`) or one channel's (its id).
    channel: Option<String>,
    /// Only conversations with messages the caller has not read.
    unread: Option<bool>,
    /// At most this many (default 50, at most 500).
    limit: Option<u32>,
}

/// A list of conversations with how many the filter finds.
#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    pub items: Vec<ConversationView>,
    pub total: i64,
    /// Messages of others the caller has not read, across every conversation the filter
    /// finds (not only this page of them).
    pub unread: i64,
}

/// Conversations by last activity, most recent first.
#[utoipa::path(get, operation_id = "conversation_list", path = "/api/v1/conversations", tag = "conversations", params(ListQuery),
    responses((status = 200, description = "The conversations", body = ConversationList)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Json<ConversationList>> {
    let view = match query.view.as_deref() {
        None | Some("mine") => View::Mine,
        Some("unassigned") => View::Unassigned,
        Some("all") => View::All,
        Some(_) => {
            return Err(domain::ValidationErrors::single(
                "view",
                "must be mine, unassigned or all",
            )
            .into());
        }
    };
    let channel = match query.channel.as_deref() {
        None => None,
        Some("web") => Some(None),
        Some(text) => Some(Some(text.parse::<domain::ChannelId>().map_err(|_| {
            domain::ValidationErrors::single("channel", "must be web or a channel id")
        })?)),
    };
    let narrowing = conversations::Narrowing {
        team: query.team,
        channel,
        unread_only: query.unread.unwrap_or(false),
    };
    let (items, total) = conversations::list_in(
        &state.app,
        &actor,
        view,
        query.status.clone(),
        narrowing,
        query.limit.unwrap_or(50),
    )
    .await?;
    let unread =
        conversations::unread_total(&state.app, &actor, view, query.status, query.team).await?;
    Ok(Json(ConversationList {
        items,
        total,
        unread,
    }))
}

#[utoipa::path(get, operation_id = "conversation_get", path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")),
    responses((status = 200, description = "The conversation", body = ConversationView)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
) -> ApiResult<Json<ConversationView>> {
    Ok(Json(conversations::get(&state.app, &actor, id).await?))
}

/// `POST /conversations/{id}/team` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationTeamBody {
    /// A company role whose agents answer it; `null`: no team.
    team_id: Option<domain::ids::CompanyRoleId>,
}

/// Routes the conversation to a team; an assignee outside the team hands it to one of the
/// team's agents (by the company's strategy) or to the queue. Agents only.
#[utoipa::path(post, operation_id = "conversation_team", path = "/api/v1/conversations/{id}/team", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")), request_body = ConversationTeamBody,
    responses((status = 200, description = "The conversation", body = ConversationView)),
    security(("bearer" = [])))]
pub async fn team(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
    AppJson(body): AppJson<ConversationTeamBody>,
) -> ApiResult<Json<ConversationView>> {
    Ok(Json(
        conversations::set_team(&state.app, &actor, id, body.team_id).await?,
    ))
}

/// `POST /conversations/{id}/assign` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationAssignBody {
    /// An agent or admin of the company; `null` gives it back to the queue.
    assignee_id: Option<UserId>,
}

/// Gives the conversation to an agent (a transfer) or back to the queue. Agents only.
#[utoipa::path(post, operation_id = "conversation_assign", path = "/api/v1/conversations/{id}/assign", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")), request_body = ConversationAssignBody,
    responses((status = 200, description = "The conversation", body = ConversationView)),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
    AppJson(body): AppJson<ConversationAssignBody>,
) -> ApiResult<Json<ConversationView>> {
    Ok(Json(
        conversations::assign(&state.app, &actor, id, body.assignee_id).await?,
    ))
}

/// `POST /conversations/{id}/status` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// `open`, `pending`, `resolved` or `closed`.
    status: String,
}

/// Moves the conversation: agents anywhere, a requester to `resolved` or `closed`.
#[utoipa::path(post, operation_id = "conversation_status", path = "/api/v1/conversations/{id}/status", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")), request_body = StatusBody,
    responses((status = 200, description = "The conversation", body = ConversationView)),
    security(("bearer" = [])))]
pub async fn status(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
    AppJson(body): AppJson<StatusBody>,
) -> ApiResult<Json<ConversationView>> {
    Ok(Json(
        conversations::set_status(&state.app, &actor, id, &body.status).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// Only messages numbered after this one.
    after_seq: Option<i64>,
    /// At most this many (default 200, at most 1000).
    limit: Option<u32>,
}

/// Messages of a conversation.
#[derive(Serialize, ToSchema)]
pub struct MessageList {
    pub items: Vec<MessageView>,
}

/// The conversation's messages, oldest first; internal notes for agents only.
#[utoipa::path(get, operation_id = "conversation_messages", path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), MessagesQuery),
    responses((status = 200, description = "The messages", body = MessageList)),
    security(("bearer" = [])))]
pub async fn messages(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
    AppQuery(query): AppQuery<MessagesQuery>,
) -> ApiResult<Json<MessageList>> {
    let items = conversations::messages(
        &state.app,
        &actor,
        id,
        query.after_seq.unwrap_or(0),
        query.limit.unwrap_or(200),
    )
    .await?;
    Ok(Json(MessageList { items }))
}

/// `POST /conversations/{id}/messages` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostBody {
    /// The text; with a template, added under the template's text; with answers, ignored
    /// (the answer's summary is the text).
    #[serde(default)]
    body: String,
    /// A note for agents only.
    #[serde(default)]
    internal: bool,
    /// A question template: an agent sends it; the requester answers it with `answers`.
    template_id: Option<uuid::Uuid>,
    /// The requester's answer, validated against the template's schema (422 naming the field
    /// as `answers/<field>`).
    answers: Option<serde_json::Value>,
}

/// `POST /conversations/{id}/messages` as `multipart/form-data` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PostForm {
    body: Option<String>,
    /// `true` for a note for agents only.
    internal: Option<bool>,
    template_id: Option<uuid::Uuid>,
    /// The answer as JSON text.
    answers: Option<String>,
    /// Files (parts named `attachments` or `file`); each at most the company's
    /// `max_attachment_bytes` (413 naming `attachments/<i>` beyond).
    #[schema(value_type = Vec<String>, format = Binary)]
    attachments: Vec<Vec<u8>>,
}

/// Reads a message to post: JSON, or a form with `body`, `internal`, `template_id`,
/// `answers` (JSON text) and any number of files.
async fn read_draft(request: Request<Body>) -> ApiResult<conversations::Draft> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let AppJson(body): AppJson<PostBody> = AppJson::from_request(request, &()).await?;
        return Ok(conversations::Draft {
            body: body.body,
            internal: body.internal,
            template_id: body.template_id,
            answers: body.answers,
            uploads: Vec::new(),
        });
    }
    let bad = |field: &str, message: &str| ValidationErrors::single(field, message);
    let posted = MultipartForm::read(request).await?;
    let mut draft = conversations::Draft::default();
    for (name, text) in &posted.fields {
        match name.as_str() {
            "body" => draft.body = text.clone(),
            "internal" => {
                draft.internal = match text.trim() {
                    "true" | "on" | "1" => true,
                    "false" | "off" | "0" | "" => false,
                    _ => return Err(bad("internal", "is not true or false").into()),
                };
            }
            "template_id" if !text.trim().is_empty() => {
                draft.template_id = Some(
                    text.trim()
                        .parse()
                        .map_err(|_| bad("template_id", "is not an id"))?,
                );
            }
            "template_id" => {}
            "answers" => {
                draft.answers = Some(
                    serde_json::from_str(text)
                        .map_err(|e| bad("answers", &format!("is not JSON: {e}")))?,
                );
            }
            _ => return Err(bad(name, "is not a field of a message").into()),
        }
    }
    if let Some((name, _)) = posted
        .files
        .iter()
        .find(|(name, _)| !matches!(name.as_str(), "attachments" | "attachment" | "file"))
    {
        return Err(bad(name, "is not a file field of a message").into());
    }
    draft.uploads = posted.into_uploads();
    Ok(draft)
}

/// Posts a message, as JSON or as a form with files. A requester's message reopens a
/// pending or resolved conversation; a closed one takes none (409). One person may post
/// the company's `messages_per_minute` (429 with `Retry-After` beyond).
#[utoipa::path(post, operation_id = "conversation_post", path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")),
    request_body(description = "The message as JSON, or a form with files", content(
        (PostBody = "application/json"),
        (PostForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "The message", body = MessageView),
        (status = 413, description = "A file is larger than the company takes", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many messages this minute", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn post(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
    request: Request<Body>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let draft = read_draft(request).await?;
    let message = conversations::post_draft(&state.app, &actor, id, draft).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// Downloads a file of a message the caller may read, after checking its bytes against
/// the SHA-256 taken when it was sent (also sent as `Repr-Digest`).
#[utoipa::path(get, operation_id = "conversation_file", path = "/api/v1/conversations/{id}/files/{file_id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), ("file_id" = Uuid, Path, description = "The file")),
    responses(
        (status = 200, description = "The file, as an attachment", content_type = "*/*", body = inline(crate::api::tickets::FileBytes)),
    ),
    security(("bearer" = [])))]
pub async fn file(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, file)): AppPath<(ConversationId, uuid::Uuid)>,
) -> ApiResult<Response> {
    let (meta, bytes) = conversations::download(&state.app, &actor, id, file).await?;
    Ok(file_download(&meta, bytes))
}

/// A conversation's file as a download, with its checksum (RFC 9530 `Repr-Digest`).
pub fn file_download(meta: &conversations::MessageFile, bytes: Vec<u8>) -> Response {
    let mut response =
        crate::api::tickets::file_response(&meta.file_name, &meta.content_type, bytes);
    let digest = hex::decode(&meta.sha256).unwrap_or_default();
    let value = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert("repr-digest", value);
    }
    response
}

/// Who may post how much, and who gets new conversations: the company's chat settings.
#[utoipa::path(get, operation_id = "chat_settings_get", path = "/api/v1/company/chat-settings", tag = "conversations",
    responses((status = 200, description = "The settings (the defaults until an admin sets them)", body = ChatSettings)),
    security(("bearer" = [])))]
pub async fn settings(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<ChatSettings>> {
    Ok(Json(app::chat::settings(&state.app, &actor).await?))
}

/// Replaces the company's chat settings (admins). With `sealed`, new message bodies are
/// stored encrypted and message search is off for the company.
#[utoipa::path(put, operation_id = "chat_settings_set", path = "/api/v1/company/chat-settings", tag = "conversations",
    request_body = ChatSettings,
    responses((status = 200, description = "The settings", body = ChatSettings)),
    security(("bearer" = [])))]
pub async fn set_settings(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<ChatSettings>,
) -> ApiResult<Json<ChatSettings>> {
    Ok(Json(
        app::chat::set_settings(&state.app, &actor, body).await?,
    ))
}

/// `POST /conversations/{id}/read` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// The number of the last message read; absent: every message.
    up_to: Option<i64>,
}

/// The caller's read watermark after the call.
#[derive(Serialize, ToSchema)]
pub struct ReadMark {
    pub up_to: i64,
    /// Messages of the other side still unread.
    pub unread: i64,
}

/// Marks messages read (never lowers the watermark).
#[utoipa::path(post, operation_id = "conversation_read", path = "/api/v1/conversations/{id}/read", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")), request_body = ReadBody,
    responses((status = 200, description = "The watermark", body = ReadMark)),
    security(("bearer" = [])))]
pub async fn read(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ReadMark>> {
    let body: ReadBody = optional_json(&body)?;
    let (up_to, unread) = conversations::read(&state.app, &actor, id, body.up_to).await?;
    Ok(Json(ReadMark { up_to, unread }))
}

/// Re-computes the conversation's hash chain from the stored messages (agents).
#[utoipa::path(get, operation_id = "conversation_verify", path = "/api/v1/conversations/{id}/verify", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")),
    responses((status = 200, description = "Whether the chain holds", body = ChainVerification)),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
) -> ApiResult<Json<ChainVerification>> {
    Ok(Json(conversations::verify(&state.app, &actor, id).await?))
}

/// A JSON body that may be left out (an empty body is the defaults).
fn optional_json<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, crate::problem::ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        crate::extract::parse_json(body)
    }
}

/// `PATCH /conversations/{id}/messages/{message_id}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    body: String,
}

/// Changes the body of one's own message; the earlier bodies stay for agents.
#[utoipa::path(patch, operation_id = "conversation_edit", path = "/api/v1/conversations/{id}/messages/{message_id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), ("message_id" = Uuid, Path, description = "The message")),
    request_body = EditBody,
    responses((status = 200, description = "The message", body = MessageView)),
    security(("bearer" = [])))]
pub async fn edit(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, message)): AppPath<(ConversationId, MessageId)>,
    AppJson(body): AppJson<EditBody>,
) -> ApiResult<Json<MessageView>> {
    Ok(Json(
        conversations::edit(&state.app, &actor, id, message, &body.body).await?,
    ))
}

/// Deletes one's own message: it stays as a tombstone (`deleted`, no body).
#[utoipa::path(delete, operation_id = "conversation_delete", path = "/api/v1/conversations/{id}/messages/{message_id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), ("message_id" = Uuid, Path, description = "The message")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, message)): AppPath<(ConversationId, MessageId)>,
) -> ApiResult<StatusCode> {
    conversations::delete(&state.app, &actor, id, message).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A message's earlier body.
#[derive(Serialize, ToSchema)]
pub struct VersionView {
    pub version: i32,
    pub body: String,
    pub edited_by: UserId,
    /// When a later body replaced it.
    pub replaced_at: chrono::DateTime<chrono::Utc>,
}

/// A message's earlier bodies, oldest first (agents).
#[utoipa::path(get, operation_id = "conversation_versions", path = "/api/v1/conversations/{id}/messages/{message_id}/versions", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), ("message_id" = Uuid, Path, description = "The message")),
    responses((status = 200, description = "The earlier bodies", body = crate::api::Items<VersionView>)),
    security(("bearer" = [])))]
pub async fn versions(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, message)): AppPath<(ConversationId, MessageId)>,
) -> ApiResult<Json<crate::api::Items<VersionView>>> {
    let items = conversations::versions(&state.app, &actor, id, message)
        .await?
        .into_iter()
        .map(|v| VersionView {
            version: v.version,
            body: v.body,
            edited_by: v.edited_by,
            replaced_at: v.replaced_at,
        })
        .collect();
    Ok(Json(crate::api::Items { items }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessageSearchQuery {
    /// Words to find (required; at most 200 characters): a message is found when each word
    /// begins a word of its text (`sales` finds "Salesforce"); punctuation only breaks words.
    q: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<MessageId>,
    /// At most this many (default 20, at most 100).
    limit: Option<u32>,
}

/// Messages holding every word of `q`, newest first, in the conversations the caller may
/// read: an agent's company's, internal notes included; a requester's own, without them.
/// Deleted messages are not found; edited ones by their current text.
#[utoipa::path(get, operation_id = "conversation_search", path = "/api/v1/conversations/search", tag = "conversations",
    params(MessageSearchQuery),
    responses((status = 200, description = "A page of messages found", body = crate::api::Page<MessageHit>)),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<MessageSearchQuery>,
) -> ApiResult<Json<crate::api::Page<MessageHit>>> {
    let (items, next) = conversations::search::search(
        &state.app,
        &actor,
        MessageQuery {
            q: query.q.unwrap_or_default(),
            cursor: query.cursor,
            limit: query.limit.unwrap_or(20),
        },
    )
    .await?;
    Ok(Json(crate::api::Page {
        items,
        next_cursor: next.map(|id| id.to_string()),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TranscriptQuery {
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// The conversation's transcript as a download: every message the caller may read, in
/// order (a requester's without internal notes), deleted ones as tombstones, edited ones
/// marked, each with `seq`, `body_hash`, `prev_hash` and `hash` to check it against the
/// chain. CSV cells that a spreadsheet would read as a formula are written with a leading
/// `'`; the JSON keeps every text as written.
#[utoipa::path(get, operation_id = "conversation_transcript", path = "/api/v1/conversations/{id}/transcript", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), TranscriptQuery),
    responses((status = 200, description = "The transcript, as JSON or (`format=csv`) CSV", content(
        (Transcript = "application/json"),
        (String = "text/csv"),
    ))),
    security(("bearer" = [])))]
pub async fn transcript(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<ConversationId>,
    AppQuery(query): AppQuery<TranscriptQuery>,
) -> ApiResult<Response> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(domain::ValidationErrors::single("format", "must be json or csv").into());
        }
    };
    let transcript = conversations::transcript::transcript(&state.app, &actor, id).await?;
    let (body, content_type, extension) = if csv {
        let body = transcript_csv(&transcript).map_err(app::AppError::internal)?;
        (body, "text/csv; charset=utf-8", "csv")
    } else {
        let body = serde_json::to_vec_pretty(&transcript).map_err(app::AppError::internal)?;
        (body, "application/json", "json")
    };
    Ok(download(
        body,
        content_type,
        &format!("conversation-{id}-transcript.{extension}"),
    ))
}

/// A file to save: its type and name (ours, made of an id and ASCII words).
fn download(body: Vec<u8>, content_type: &'static str, file_name: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A cell as a spreadsheet will not run it: text starting like a formula gets a `'` first
/// (OWASP's advice for CSV exports).
fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The transcript as CSV: a header row, then one row per message in order.
fn transcript_csv(transcript: &Transcript) -> Result<Vec<u8>, csv::Error> {
    let time =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "seq",
        "message_id",
        "created_at",
        "author_id",
        "author_name",
        "internal",
        "edited_at",
        "deleted",
        "body",
        "answers",
        "body_hash",
        "prev_hash",
        "hash",
    ])?;
    for m in &transcript.messages {
        writer.write_record([
            m.seq.to_string(),
            m.id.to_string(),
            time(m.created_at),
            m.author_id.to_string(),
            inert(&m.author_name),
            m.internal.to_string(),
            m.edited_at.map(time).unwrap_or_default(),
            m.deleted.to_string(),
            inert(&m.body),
            m.answers
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            m.body_hash.clone(),
            m.prev_hash.clone(),
            m.hash.clone(),
        ])?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// `POST /conversations/bulk` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// 1 to 100 conversations.
    ids: Vec<domain::ConversationId>,
    action: conversations::BulkAction,
    /// For `assign`: the agent (none: back to the queue).
    assignee_id: Option<domain::UserId>,
}

/// One action on many conversations (agents): assign, close, mark read or unread. Each
/// conversation succeeds or fails on its own; the answer lists both.
#[utoipa::path(post, operation_id = "conversation_bulk", path = "/api/v1/conversations/bulk", tag = "conversations",
    request_body = BulkBody,
    responses((status = 200, description = "What was done", body = conversations::BulkOutcome)),
    security(("bearer" = [])))]
pub async fn bulk(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppJson(body): AppJson<BulkBody>,
) -> ApiResult<Json<conversations::BulkOutcome>> {
    Ok(Json(
        conversations::bulk(&state.app, &actor, &body.ids, body.action, body.assignee_id).await?,
    ))
}

pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(bulk))
        .routes(routes!(search))
        .routes(routes!(transcript))
        .routes(routes!(open, list))
        .routes(routes!(get))
        .routes(routes!(assign))
        .routes(routes!(team))
        .routes(routes!(status))
        .routes(routes!(messages, post))
        .routes(routes!(edit, delete))
        .routes(routes!(versions))
        .routes(routes!(read))
        .routes(routes!(verify))
        .routes(routes!(file))
        .routes(routes!(settings, set_settings))
}
