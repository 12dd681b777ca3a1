//! Tickets: the types one may submit, submission (as JSON or multipart), lists, detail,
//! timeline, comments, attachments, corrections and cancelling. Tasks are in `tasks.rs`.

use app::runtime::tickets::{AttachmentMeta, AvailableType, Comment, TicketSort, TicketView};
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::event::Event;
use domain::ids::{AttachmentId, CommentId, TicketId, TicketTypeId};
use domain::{UserId, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::runtime::tickets::{TicketQuery, Upload};

use crate::api::{Items, Page};
use crate::auth::Authed;
use crate::extract::{AppJson, AppPath, AppQuery, MultipartForm};
use crate::problem::{ApiResult, Problem};
use crate::state::WebState;

/// The ticket types the caller may submit now.
#[utoipa::path(get, path = "/api/v1/ticket-types/available", tag = "tickets",
    responses(
        (status = 200, description = "The ticket types, by title", body = Items<AvailableType>),
    ),
    security(("bearer" = [])))]
pub async fn available_types(
    State(state): State<WebState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Items<AvailableType>>> {
    let items = app::runtime::tickets::available(&state.app, &actor).await?;
    Ok(Json(Items { items }))
}

/// `POST /tickets` body as JSON.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    ticket_type_id: TicketTypeId,
    /// The submission form's fields; `{}` when absent.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    data: Value,
}

/// `POST /tickets` body as `multipart/form-data` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct SubmitForm {
    ticket_type_id: TicketTypeId,
    /// The submission form's fields as JSON text; `{}` when absent.
    #[schema(required = false)]
    data: String,
    /// Files to attach.
    #[schema(value_type = Vec<String>, format = Binary, required = false)]
    attachments: Vec<Vec<u8>>,
}

/// `POST /tickets/{id}/attachments` body (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct AttachmentsForm {
    /// The files.
    #[schema(value_type = Vec<String>, format = Binary)]
    attachments: Vec<Vec<u8>>,
}

fn empty_object() -> Value {
    json!({})
}

/// The names file parts may have.
fn is_file_field(name: &str) -> bool {
    matches!(name, "attachments" | "attachment" | "file")
}

/// Reads a submission: JSON `{ticket_type_id, data}`, or multipart with a `ticket_type_id`
/// part, a `data` part (JSON text) and any number of `attachments` file parts.
async fn read_submission(request: Request<Body>) -> ApiResult<(TicketTypeId, Value, Vec<Upload>)> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let AppJson(body): AppJson<SubmitBody> = AppJson::from_request(request, &()).await?;
        return Ok((body.ticket_type_id, body.data, Vec::new()));
    }
    let bad = |field: &str, message: &str| ValidationErrors::single(field, message);
    let posted = MultipartForm::read(request).await?;
    let (mut type_id, mut data) = (None, json!({}));
    for (name, text) in &posted.fields {
        match name.as_str() {
            "ticket_type_id" => {
                type_id = Some(
                    text.trim()
                        .parse::<TicketTypeId>()
                        .map_err(|_| bad("ticket_type_id", "is not an id"))?,
                );
            }
            "data" => {
                data = serde_json::from_str(text)
                    .map_err(|e| bad("data", &format!("is not JSON: {e}")))?;
            }
            _ => return Err(bad(name, "is not a field of a submission").into()),
        }
    }
    if let Some((name, _)) = posted.files.iter().find(|(name, _)| !is_file_field(name)) {
        return Err(bad(name, "is not a file field of a submission").into());
    }
    let uploads = posted.into_uploads();
    let type_id = type_id.ok_or_else(|| bad("ticket_type_id", "is required"))?;
    Ok((type_id, data, uploads))
}

/// Submits a ticket. A repeated `Idempotency-Key` answers 200 with the first ticket.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", params(("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Makes a retried submission safe")),
    request_body(description = "`{ticket_type_id, data}` as JSON, or a form with `ticket_type_id`, `data` (JSON text) and `attachments` files", content(
        (SubmitBody = "application/json"),
        (SubmitForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "The ticket", body = TicketView),
        (status = 200, description = "The ticket an earlier request with this `Idempotency-Key` created", body = TicketView),
        (status = 422, description = "Invalid fields, unknown ticket type, or an unreadable form", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn submit(
    State(state): State<WebState>,
    Authed(actor): Authed,
    request: Request<Body>,
) -> ApiResult<Response> {
    let key = request
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| ValidationErrors::single("Idempotency-Key", "must be visible ASCII"))?;
    let (type_id, data, uploads) = read_submission(request).await?;
    let submitted =
        app::runtime::tickets::submit(&state.app, &actor, type_id, data, key, uploads).await?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(submitted.ticket)).into_response())
}

/// Ticket list filters. `field.<name>=<value>` filters on a workflow field.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketsQuery {
    pub status: Option<String>,
    /// `true`: running; `false`: the archive.
    pub active: Option<bool>,
    /// A ticket type key.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub ticket_type: Option<String>,
    pub assignee: Option<UserId>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Search: tickets whose data, comments or requester (name, email) hold a word beginning
    /// with each word given (punctuation only breaks words: `north-west`, a URL). `#3` is
    /// ticket 3 alone; a bare `3` lists ticket 3 first, then the tickets with words.
    pub q: Option<String>,
    /// `created` (default), `updated` or `number`; newest / highest first.
    pub sort: Option<String>,
    /// Only my own tickets, also for a ticket admin.
    pub mine: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    #[serde(flatten)]
    #[param(ignore)]
    pub rest: std::collections::HashMap<String, String>,
}

/// The `field.<name>=<value>` filters of `GET /tickets` as one exploded form parameter:
/// each property is a query parameter of its own (documentation only; `TicketsQuery::rest`
/// reads them).
pub struct FieldFilters;

impl utoipa::PartialSchema for FieldFilters {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let name = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^field\..{1,64}$"));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(name))
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(
                "`field.<name>=<value>`: tickets whose workflow field `<name>` has this value",
            ))
            .into()
    }
}

impl ToSchema for FieldFilters {}

/// Tickets: a requester's own, or all of the company for a ticket admin.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets",
    params(TicketsQuery, ("fields" = inline(Option<FieldFilters>), Query, style = Form, explode, nullable = false)),
    responses(
        (status = 200, description = "A page of tickets (without their tasks)", body = Page<TicketView>),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppQuery(query): AppQuery<TicketsQuery>,
) -> ApiResult<Json<Page<TicketView>>> {
    let query = ticket_query(query)?;
    let (items, next_cursor) = app::runtime::tickets::list(&state.app, &actor, query).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Reads the list parameters, naming a bad one.
pub fn ticket_query(query: TicketsQuery) -> Result<TicketQuery, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let sort = match query.sort.as_deref() {
        None | Some("created") => TicketSort::Created,
        Some("updated") => TicketSort::Updated,
        Some("number") => TicketSort::Number,
        Some(_) => {
            errors.add("sort", "must be created, updated or number");
            TicketSort::Created
        }
    };
    let mut fields = Vec::new();
    for (key, value) in query.rest {
        match key.strip_prefix("field.") {
            Some(name) if !name.is_empty() && name.len() <= 64 => {
                fields.push((name.to_owned(), value));
            }
            _ => errors.add(key, "is not a filter of this list"),
        }
    }
    fields.sort();
    errors.into_result()?;
    Ok(TicketQuery {
        status: query.status.filter(|s| !s.is_empty()),
        active: query.active,
        ticket_type: query.ticket_type.filter(|s| !s.is_empty()),
        assignee: query.assignee,
        created_from: query.created_from,
        created_to: query.created_to,
        q: query.q,
        fields,
        sort,
        cursor: query.cursor,
        limit: query.limit.unwrap_or(20),
        mine: query.mine.unwrap_or(false),
    })
}

/// A ticket with its tasks.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The ticket with its tasks", body = TicketView),
    ),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(
        app::runtime::tickets::get(&state.app, &actor, id).await?,
    ))
}

/// `PATCH /tickets/{id}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    /// Workflow fields to set; `null` removes one.
    #[schema(value_type = Object)]
    data: Value,
}

/// A ticket admin corrects the workflow data (every change is in the timeline).
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket")),
    request_body = CorrectionBody,
    responses(
        (status = 200, description = "The ticket", body = TicketView),
    ),
    security(("bearer" = [])))]
pub async fn correct(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
    AppJson(body): AppJson<CorrectionBody>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(
        app::runtime::tickets::correct_data(&state.app, &actor, id, body.data).await?,
    ))
}

/// A ticket's events, with the database's epoch.
#[derive(Serialize, ToSchema)]
pub struct Timeline {
    /// Made once with the database: event ids (cursors) are comparable only under the same
    /// epoch, so a client that kept one can tell a restored or another database apart.
    pub epoch: String,
    /// Oldest first; each event's `id` is a cursor of the company's event log.
    pub items: Vec<Event>,
}

/// Every event of the ticket in order.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/timeline", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The ticket's events, oldest first", body = Timeline),
    ),
    security(("bearer" = [])))]
pub async fn timeline(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
) -> ApiResult<Json<Timeline>> {
    let (epoch, items) = app::runtime::tickets::timeline(&state.app, &actor, id).await?;
    Ok(Json(Timeline { epoch, items }))
}

/// `POST /tickets/{id}/comments` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    body: String,
    /// An internal note, for the ticket team only.
    #[serde(default)]
    internal: bool,
}

/// The ticket's comments (internal notes only for the ticket team).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/comments", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The comments, oldest first", body = Items<CommentView>),
    ),
    security(("bearer" = [])))]
pub async fn comments(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
) -> ApiResult<Json<Items<CommentView>>> {
    let items = app::runtime::tickets::comments(&state.app, &actor, id).await?;
    Ok(Json(Items {
        items: items.into_iter().map(CommentView::from).collect(),
    }))
}

/// A comment or an internal note on a ticket.
#[derive(Serialize, ToSchema)]
pub struct CommentView {
    pub id: CommentId,
    pub ticket_id: TicketId,
    pub author_id: UserId,
    pub body: String,
    /// An internal note, shown only to the ticket team.
    pub internal: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Comment> for CommentView {
    fn from(comment: Comment) -> Self {
        // Every field named, so a new one in the store is a decision here, not a leak.
        let Comment {
            id,
            ticket_id,
            author_id,
            body,
            internal,
            created_at,
        } = comment;
        Self {
            id,
            ticket_id,
            author_id,
            body,
            internal,
            created_at,
        }
    }
}

/// Adds a public comment or an internal note.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/comments", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket")),
    request_body = CommentBody,
    responses(
        (status = 201, description = "The comment", body = CommentView),
    ),
    security(("bearer" = [])))]
pub async fn add_comment(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
    AppJson(body): AppJson<CommentBody>,
) -> ApiResult<Response> {
    let comment =
        app::runtime::tickets::comment(&state.app, &actor, id, &body.body, body.internal).await?;
    Ok((StatusCode::CREATED, Json(CommentView::from(comment))).into_response())
}

/// An attachment's description (its bytes are downloaded on their own).
#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: AttachmentId,
    pub ticket_id: TicketId,
    pub uploaded_by: UserId,
    pub file_name: String,
    /// The type sniffed from the bytes, which the download is sent as.
    pub content_type: String,
    /// In bytes.
    pub size: i64,
    pub created_at: DateTime<Utc>,
}

impl From<AttachmentMeta> for AttachmentView {
    fn from(meta: AttachmentMeta) -> Self {
        // Every field named, so a new one in the store is a decision here, not a leak.
        let AttachmentMeta {
            id,
            ticket_id,
            uploaded_by,
            file_name,
            content_type,
            size,
            created_at,
        } = meta;
        Self {
            id,
            ticket_id,
            uploaded_by,
            file_name,
            content_type,
            size,
            created_at,
        }
    }
}

fn attachment_views(metas: Vec<AttachmentMeta>) -> Items<AttachmentView> {
    Items {
        items: metas.into_iter().map(AttachmentView::from).collect(),
    }
}

/// The ticket's attachments.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The attachments", body = Items<AttachmentView>),
    ),
    security(("bearer" = [])))]
pub async fn attachments(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
) -> ApiResult<Json<Items<AttachmentView>>> {
    let items = app::runtime::tickets::attachments(&state.app, &actor, id).await?;
    Ok(Json(attachment_views(items)))
}

/// Adds attachments (multipart, `attachments` file parts); stored encrypted.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/attachments", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket")),
    request_body(content = AttachmentsForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The stored attachments", body = Items<AttachmentView>),
        (status = 422, description = "No file, an empty or disallowed file, or an unreadable form", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn add_attachments(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
    request: Request<Body>,
) -> ApiResult<Response> {
    let posted = MultipartForm::read(request).await?;
    if let Some((name, _)) = posted.files.iter().find(|(name, _)| !is_file_field(name)) {
        return Err(ValidationErrors::single(name, "is not a file field").into());
    }
    let stored =
        app::runtime::tickets::attach(&state.app, &actor, id, posted.into_uploads()).await?;
    Ok((StatusCode::CREATED, Json(attachment_views(stored))).into_response())
}

/// Downloads an attachment: always as an attachment, with the sniffed type and `nosniff`.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments/{aid}", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket"), ("aid" = Uuid, Path, description = "The attachment")),
    responses(
        (status = 200, description = "The file, with its stored `Content-Type`, as an attachment", content_type = "*/*", body = inline(FileBytes)),
    ),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath((id, aid)): AppPath<(TicketId, AttachmentId)>,
) -> ApiResult<Response> {
    let (meta, bytes) = app::runtime::tickets::download(&state.app, &actor, id, aid).await?;
    Ok(attachment_response(&meta, bytes))
}

/// A file's bytes, as any media type (documentation only).
pub struct FileBytes;

impl PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for FileBytes {}

/// An attachment as a download, never shown inline: the stored (sniffed) type, the file
/// name in both header forms, `nosniff` and a sandbox so a hostile file cannot run as a
/// page of ours. The pages send files the same way.
pub fn attachment_response(
    meta: &app::runtime::tickets::AttachmentMeta,
    bytes: Vec<u8>,
) -> Response {
    file_response(&meta.file_name, &meta.content_type, bytes)
}

/// A file as a download (see [`attachment_response`]).
pub fn file_response(file_name: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        url::form_urlencoded::byte_serialize(file_name.as_bytes()).collect::<String>()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    (headers, bytes).into_response()
}

/// Cancels a running ticket (its requester or a ticket admin).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/cancel", tag = "tickets", params(("id" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The ticket", body = TicketView),
        (status = 409, description = "The ticket has already ended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<WebState>,
    Authed(actor): Authed,
    AppPath(id): AppPath<TicketId>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(
        app::runtime::tickets::cancel(&state.app, &actor, id).await?,
    ))
}

/// This module's operations, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<WebState> {
    OpenApiRouter::new()
        .routes(routes!(available_types))
        .routes(routes!(submit, list))
        .routes(routes!(get, correct))
        .routes(routes!(timeline))
        .routes(routes!(comments, add_comment))
        .routes(routes!(attachments, add_attachments))
        .routes(routes!(download))
        .routes(routes!(cancel))
}
