//! A typed client of `/api/v1`, in the spirit of zero-to-production's `TestApp`: one method
//! per operation, each answering an [`ApiResponse`] (status, headers and the parsed body), so
//! a test reads as what a caller does and what it gets back, refusals included:
//!
//! ```ignore
//! let admin = app.api().as_user(&token);
//! let role = admin.create_company_role("reviewers").await.expect(201);
//! admin.company_role(id(&role)).await.expect(200);
//! other.company_role(id(&role)).await.expect(404);
//! ```
//!
//! Every method is a thin wrapper over [`ApiClient::send`]. Ids are taken as anything that
//! prints as one (`&str`, `String`, `Uuid`, a typed id), queries as the text after `?`.

use std::fmt::{self, Display};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What a request carries.
#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    Json(Value),
    /// Bytes sent as they are, with their content type (a YAML bundle, a malformed body).
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
    /// `multipart/form-data`: text fields, then files as (field, file name, bytes).
    Multipart {
        fields: Vec<(String, String)>,
        files: Vec<(String, String, Vec<u8>)>,
    },
}

impl Body {
    /// Bytes with their content type.
    pub fn raw(content_type: &str, bytes: impl Into<Vec<u8>>) -> Self {
        Self::Raw {
            content_type: content_type.to_owned(),
            bytes: bytes.into(),
        }
    }

    /// Files in `attachments` parts, as the ticket endpoints take them.
    pub fn attachments(files: &[(&str, &[u8])]) -> Self {
        Self::Multipart {
            fields: Vec::new(),
            files: attachment_parts(files),
        }
    }
}

fn attachment_parts(files: &[(&str, &[u8])]) -> Vec<(String, String, Vec<u8>)> {
    files
        .iter()
        .map(|(name, bytes)| ("attachments".into(), (*name).into(), bytes.to_vec()))
        .collect()
}

/// One answer of the API.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    /// `METHOD /path?query`, for messages.
    pub request: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON; `Null` when empty; a JSON string holding the text when it is not
    /// JSON (SVG, Mermaid, YAML, a downloaded file).
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl ApiResponse {
    /// Asserts the status and hands over the body; a mismatch panics with the request and
    /// the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{self}");
        self.body
    }

    /// Asserts the status and hands over the body as text (SVG, Mermaid, YAML, a file).
    #[track_caller]
    pub fn expect_text(self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "{self}");
        self.text()
    }

    /// Asserts a 2xx status and hands over the body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(self.status.is_success(), "{self}");
        self.body
    }

    /// The `Content-Type` header, or `""`.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Whether the body is an RFC 9457 problem document.
    pub fn is_problem(&self) -> bool {
        self.content_type() == "application/problem+json"
    }

    /// The body as text (lossy for binary files).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl Display for ApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.text();
        if text.len() > 2000 {
            let end = text.floor_char_boundary(2000);
            text.truncate(end);
            text.push_str(" ...");
        }
        write!(f, "{} answered {}: {text}", self.request, self.status)
    }
}

/// The `"id"` of an object the API answered, as text.
#[track_caller]
pub fn id(object: &Value) -> String {
    object["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {object}"))
        .to_owned()
}

/// The four kinds of design object, each with the same five operations under
/// `/api/v1/design/<kind>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DesignKind {
    Workflows,
    Tasks,
    Transitions,
    TicketTypes,
}

impl DesignKind {
    pub const ALL: [Self; 4] = [
        Self::Workflows,
        Self::Tasks,
        Self::Transitions,
        Self::TicketTypes,
    ];

    /// The path segment, also used by the design pages (`/design/objects/<kind>/{id}`).
    pub fn segment(self) -> &'static str {
        match self {
            Self::Workflows => "workflows",
            Self::Tasks => "tasks",
            Self::Transitions => "transitions",
            Self::TicketTypes => "ticket-types",
        }
    }
}

/// A client of one running server, anonymous or holding a bearer token.
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
}

fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.trim_start_matches('?'))
    }
}

impl ApiClient {
    pub(crate) fn new(http: reqwest::Client, base_url: String) -> Self {
        Self {
            http,
            base_url,
            token: None,
        }
    }

    /// The same server, authenticated by `token` (an access token or a `tfk_` API token).
    pub fn as_user(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The same server, without credentials.
    pub fn anonymous(&self) -> Self {
        Self {
            token: None,
            ..self.clone()
        }
    }

    /// The bearer token this client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends one request. The methods below are thin wrappers; call it directly only for
    /// requests built from the OpenAPI document.
    pub async fn send(&self, method: Method, path: &str, body: Body) -> ApiResponse {
        self.execute(method.clone(), path, self.request(method, path, body))
            .await
    }

    fn request(&self, method: Method, path: &str, body: Body) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        match body {
            Body::Empty => request,
            Body::Json(value) => request.json(&value),
            Body::Raw {
                content_type,
                bytes,
            } => request.header("content-type", content_type).body(bytes),
            Body::Multipart { fields, files } => {
                let mut form = reqwest::multipart::Form::new();
                for (name, value) in fields {
                    form = form.text(name, value);
                }
                for (name, file_name, bytes) in files {
                    form = form.part(
                        name,
                        reqwest::multipart::Part::bytes(bytes).file_name(file_name),
                    );
                }
                request.multipart(form)
            }
        }
    }

    async fn execute(
        &self,
        method: Method,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> ApiResponse {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: cannot read the body: {e}"))
            .to_vec();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        ApiResponse {
            request: format!("{method} {path}"),
            status,
            headers,
            body,
            bytes,
        }
    }

    async fn get(&self, path: String) -> ApiResponse {
        self.send(Method::GET, &path, Body::Empty).await
    }

    async fn post(&self, path: String, body: Value) -> ApiResponse {
        self.send(Method::POST, &path, Body::Json(body)).await
    }

    async fn post_empty(&self, path: String) -> ApiResponse {
        self.send(Method::POST, &path, Body::Empty).await
    }

    async fn put(&self, path: String, body: Value) -> ApiResponse {
        self.send(Method::PUT, &path, Body::Json(body)).await
    }

    async fn patch(&self, path: String, body: Value) -> ApiResponse {
        self.send(Method::PATCH, &path, Body::Json(body)).await
    }

    async fn delete(&self, path: String) -> ApiResponse {
        self.send(Method::DELETE, &path, Body::Empty).await
    }

    // ---- Operations and the document

    /// `GET /healthz`
    pub async fn healthz(&self) -> ApiResponse {
        self.get("/healthz".into()).await
    }

    /// `GET /readyz`
    pub async fn readyz(&self) -> ApiResponse {
        self.get("/readyz".into()).await
    }

    /// `GET /metrics` (Prometheus text)
    pub async fn metrics(&self) -> ApiResponse {
        self.get("/metrics".into()).await
    }

    /// `GET /api/openapi.json`
    pub async fn openapi(&self) -> ApiResponse {
        self.get("/api/openapi.json".into()).await
    }

    // ---- Identity

    /// `POST /signup`: `{company_name, admin_email, admin_password, admin_first_name,
    /// admin_last_name}`.
    pub async fn signup(&self, body: Value) -> ApiResponse {
        self.post("/api/v1/signup".into(), body).await
    }

    /// `POST /auth/login`
    pub async fn login(&self, email: &str, password: &str) -> ApiResponse {
        let body = json!({ "email": email, "password": password, "platform": "tests" });
        self.post("/api/v1/auth/login".into(), body).await
    }

    /// `POST /auth/refresh`
    pub async fn refresh(&self, refresh_token: &str) -> ApiResponse {
        let body = json!({ "refresh_token": refresh_token });
        self.post("/api/v1/auth/refresh".into(), body).await
    }

    /// `POST /auth/logout`: of the refresh token if given, else of this client's token.
    pub async fn logout(&self, refresh_token: Option<&str>) -> ApiResponse {
        match refresh_token {
            Some(token) => {
                let body = json!({ "refresh_token": token });
                self.post("/api/v1/auth/logout".into(), body).await
            }
            None => self.post_empty("/api/v1/auth/logout".into()).await,
        }
    }

    /// `POST /auth/verify`
    pub async fn verify(&self, token: &str) -> ApiResponse {
        self.post("/api/v1/auth/verify".into(), json!({ "token": token }))
            .await
    }

    /// `GET /me`
    pub async fn me(&self) -> ApiResponse {
        self.get("/api/v1/me".into()).await
    }

    /// `PATCH /me`: `{first_name?, last_name?}`.
    pub async fn update_me(&self, body: Value) -> ApiResponse {
        self.patch("/api/v1/me".into(), body).await
    }

    /// `POST /me/password`
    pub async fn change_password(&self, current: &str, new: &str) -> ApiResponse {
        let body = json!({ "current_password": current, "new_password": new });
        self.post("/api/v1/me/password".into(), body).await
    }

    /// `GET /me/logins?from&to`
    pub async fn my_logins(&self, query: &str) -> ApiResponse {
        self.get(with_query("/api/v1/me/logins".into(), query))
            .await
    }

    /// `POST /auth/password-reset`
    pub async fn request_password_reset(&self, email: &str) -> ApiResponse {
        let body = json!({ "email": email });
        self.post("/api/v1/auth/password-reset".into(), body).await
    }

    /// `POST /auth/password-reset/confirm`
    pub async fn confirm_password_reset(&self, token: &str, new_password: &str) -> ApiResponse {
        let body = json!({ "token": token, "new_password": new_password });
        self.post("/api/v1/auth/password-reset/confirm".into(), body)
            .await
    }

    /// `POST /register`: `{company_invite_code, email, password, first_name, last_name}`.
    pub async fn register(&self, body: Value) -> ApiResponse {
        self.post("/api/v1/register".into(), body).await
    }

    // ---- Users (company admins)

    /// `GET /users?status&role&q&joined_from&joined_to&limit&cursor`
    pub async fn users(&self, query: &str) -> ApiResponse {
        self.get(with_query("/api/v1/users".into(), query)).await
    }

    /// `POST /users`: `{email, password, first_name, last_name, system_roles}`.
    pub async fn create_user(&self, body: Value) -> ApiResponse {
        self.post("/api/v1/users".into(), body).await
    }

    /// `GET /users/{id}`
    pub async fn user(&self, user: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/users/{user}")).await
    }

    /// `PATCH /users/{id}`: `{first_name?, last_name?}`.
    pub async fn update_user(&self, user: impl Display, body: Value) -> ApiResponse {
        self.patch(format!("/api/v1/users/{user}"), body).await
    }

    /// `DELETE /users/{id}`
    pub async fn delete_user(&self, user: impl Display) -> ApiResponse {
        self.delete(format!("/api/v1/users/{user}")).await
    }

    /// `POST /users/{id}/approve`
    pub async fn approve_user(&self, user: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/users/{user}/approve"))
            .await
    }

    /// `POST /users/{id}/block`
    pub async fn block_user(&self, user: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/users/{user}/block")).await
    }

    /// `POST /users/{id}/unblock`
    pub async fn unblock_user(&self, user: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/users/{user}/unblock"))
            .await
    }

    /// `PUT /users/{id}/roles`
    pub async fn set_roles(
        &self,
        user: impl Display,
        system_roles: &[&str],
        company_roles: &[&str],
    ) -> ApiResponse {
        let body = json!({ "system_roles": system_roles, "company_roles": company_roles });
        self.put(format!("/api/v1/users/{user}/roles"), body).await
    }

    // ---- Company roles, the company, API tokens

    /// `GET /company-roles`
    pub async fn company_roles(&self) -> ApiResponse {
        self.get("/api/v1/company-roles".into()).await
    }

    /// `POST /company-roles`
    pub async fn create_company_role(&self, name: &str, description: &str) -> ApiResponse {
        let body = json!({ "name": name, "description": description });
        self.post("/api/v1/company-roles".into(), body).await
    }

    /// `GET /company-roles/{id}`
    pub async fn company_role(&self, role: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/company-roles/{role}")).await
    }

    /// `PATCH /company-roles/{id}`: `{name?, description?}`.
    pub async fn update_company_role(&self, role: impl Display, body: Value) -> ApiResponse {
        self.patch(format!("/api/v1/company-roles/{role}"), body)
            .await
    }

    /// `DELETE /company-roles/{id}`
    pub async fn delete_company_role(&self, role: impl Display) -> ApiResponse {
        self.delete(format!("/api/v1/company-roles/{role}")).await
    }

    /// `GET /company`
    pub async fn company(&self) -> ApiResponse {
        self.get("/api/v1/company".into()).await
    }

    /// `PATCH /company`: `{ticket_data_max_bytes?, ticket_data_max_nodes?}`.
    pub async fn update_company(&self, body: Value) -> ApiResponse {
        self.patch("/api/v1/company".into(), body).await
    }

    /// `POST /company/invite-code`
    pub async fn rotate_invite_code(&self) -> ApiResponse {
        self.post_empty("/api/v1/company/invite-code".into()).await
    }

    /// `GET /company/action-secret`
    pub async fn action_secret(&self) -> ApiResponse {
        self.get("/api/v1/company/action-secret".into()).await
    }

    /// `POST /api-tokens`: `{name, roles?, expires_at?}`.
    pub async fn create_api_token(&self, body: Value) -> ApiResponse {
        self.post("/api/v1/api-tokens".into(), body).await
    }

    /// `GET /api-tokens`
    pub async fn api_tokens(&self) -> ApiResponse {
        self.get("/api/v1/api-tokens".into()).await
    }

    /// `DELETE /api-tokens/{id}`
    pub async fn revoke_api_token(&self, token: impl Display) -> ApiResponse {
        self.delete(format!("/api/v1/api-tokens/{token}")).await
    }

    // ---- Platform staff

    /// `GET /admin/companies`
    pub async fn companies(&self) -> ApiResponse {
        self.get("/api/v1/admin/companies".into()).await
    }

    /// `POST /admin/companies`: the sign-up body.
    pub async fn create_company(&self, body: Value) -> ApiResponse {
        self.post("/api/v1/admin/companies".into(), body).await
    }

    /// `POST /admin/companies/{id}/suspend`
    pub async fn suspend_company(&self, company: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/admin/companies/{company}/suspend"))
            .await
    }

    /// `POST /admin/companies/{id}/reactivate`
    pub async fn reactivate_company(&self, company: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/admin/companies/{company}/reactivate"))
            .await
    }

    /// `POST /admin/companies/{id}/impersonate`
    pub async fn impersonate(&self, company: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/admin/companies/{company}/impersonate"))
            .await
    }

    /// `GET /platform/errors?cursor&limit&count_only`
    pub async fn platform_errors(&self, query: &str) -> ApiResponse {
        self.get(with_query("/api/v1/platform/errors".into(), query))
            .await
    }

    /// `GET /platform/errors/{id}`
    pub async fn platform_error(&self, entry: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/platform/errors/{entry}")).await
    }

    /// `DELETE /platform/errors/{id}`
    pub async fn delete_platform_error(&self, entry: impl Display) -> ApiResponse {
        self.delete(format!("/api/v1/platform/errors/{entry}"))
            .await
    }

    /// `DELETE /platform/errors`
    pub async fn clear_platform_errors(&self) -> ApiResponse {
        self.delete("/api/v1/platform/errors".into()).await
    }

    // ---- Design

    /// `GET /design/<kind>?status&workflow&q&limit`
    pub async fn design_objects(&self, kind: DesignKind, query: &str) -> ApiResponse {
        let path = format!("/api/v1/design/{}", kind.segment());
        self.get(with_query(path, query)).await
    }

    /// `POST /design/<kind>`
    pub async fn create_design_object(&self, kind: DesignKind, body: Value) -> ApiResponse {
        self.post(format!("/api/v1/design/{}", kind.segment()), body)
            .await
    }

    /// `GET /design/<kind>/{id}` (a workflow with its objects)
    pub async fn design_object(&self, kind: DesignKind, object: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/design/{}/{object}", kind.segment()))
            .await
    }

    /// `PATCH /design/<kind>/{id}`
    pub async fn update_design_object(
        &self,
        kind: DesignKind,
        object: impl Display,
        body: Value,
    ) -> ApiResponse {
        let path = format!("/api/v1/design/{}/{object}", kind.segment());
        self.patch(path, body).await
    }

    /// `DELETE /design/<kind>/{id}`
    pub async fn delete_design_object(
        &self,
        kind: DesignKind,
        object: impl Display,
    ) -> ApiResponse {
        self.delete(format!("/api/v1/design/{}/{object}", kind.segment()))
            .await
    }

    /// `POST /design/workflows/{id}/publish`
    pub async fn publish_workflow(&self, workflow: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/design/workflows/{workflow}/publish"))
            .await
    }

    /// `POST /design/workflows/{id}/deprecate`
    pub async fn deprecate_workflow(&self, workflow: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/design/workflows/{workflow}/deprecate"))
            .await
    }

    /// `POST /design/workflows/{id}/archive`
    pub async fn archive_workflow(&self, workflow: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/design/workflows/{workflow}/archive"))
            .await
    }

    /// `GET /design/workflows/{id}/versions`
    pub async fn workflow_versions(&self, workflow: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/design/workflows/{workflow}/versions"))
            .await
    }

    /// `GET /design/workflows/{id}/bundle?version&format`
    pub async fn export_bundle(&self, workflow: impl Display, query: &str) -> ApiResponse {
        let path = format!("/api/v1/design/workflows/{workflow}/bundle");
        self.get(with_query(path, query)).await
    }

    /// `GET /design/workflows/{id}/graph.svg?version`
    pub async fn workflow_svg(&self, workflow: impl Display, query: &str) -> ApiResponse {
        let path = format!("/api/v1/design/workflows/{workflow}/graph.svg");
        self.get(with_query(path, query)).await
    }

    /// `GET /design/workflows/{id}/graph.mmd?version`
    pub async fn workflow_mermaid(&self, workflow: impl Display, query: &str) -> ApiResponse {
        let path = format!("/api/v1/design/workflows/{workflow}/graph.mmd");
        self.get(with_query(path, query)).await
    }

    /// `POST /design/bundles?dry_run&workflow_id` with a JSON bundle.
    pub async fn import_bundle(&self, bundle: &Value, query: &str) -> ApiResponse {
        let path = with_query("/api/v1/design/bundles".into(), query);
        self.send(Method::POST, &path, Body::Json(bundle.clone()))
            .await
    }

    /// `POST /design/bundles?dry_run&workflow_id` with a YAML bundle.
    pub async fn import_bundle_yaml(&self, yaml: &str, query: &str) -> ApiResponse {
        let path = with_query("/api/v1/design/bundles".into(), query);
        let body = Body::raw("application/yaml", yaml);
        self.send(Method::POST, &path, body).await
    }

    // ---- Tickets

    /// `GET /ticket-types/available`
    pub async fn available_ticket_types(&self) -> ApiResponse {
        self.get("/api/v1/ticket-types/available".into()).await
    }

    /// `POST /tickets` as JSON.
    pub async fn submit_ticket(&self, ticket_type: impl Display, data: Value) -> ApiResponse {
        let body = json!({ "ticket_type_id": ticket_type.to_string(), "data": data });
        self.post("/api/v1/tickets".into(), body).await
    }

    /// `POST /tickets` with an `Idempotency-Key`.
    pub async fn submit_ticket_once(
        &self,
        ticket_type: impl Display,
        data: Value,
        key: &str,
    ) -> ApiResponse {
        let body = json!({ "ticket_type_id": ticket_type.to_string(), "data": data });
        let request = self
            .request(Method::POST, "/api/v1/tickets", Body::Json(body))
            .header("idempotency-key", key);
        self.execute(Method::POST, "/api/v1/tickets", request).await
    }

    /// `POST /tickets` as a multipart form with `attachments` files.
    pub async fn submit_ticket_with_files(
        &self,
        ticket_type: impl Display,
        data: Value,
        files: &[(&str, &[u8])],
    ) -> ApiResponse {
        let files = attachment_parts(files);
        let fields = vec![
            ("ticket_type_id".to_owned(), ticket_type.to_string()),
            ("data".to_owned(), data.to_string()),
        ];
        let body = Body::Multipart { fields, files };
        self.send(Method::POST, "/api/v1/tickets", body).await
    }

    /// `GET /tickets?status&active&type&assignee&q&sort&mine&cursor&limit&field.<name>`
    pub async fn tickets(&self, query: &str) -> ApiResponse {
        self.get(with_query("/api/v1/tickets".into(), query)).await
    }

    /// `GET /tickets/{id}` (with its tasks)
    pub async fn ticket(&self, ticket: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/tickets/{ticket}")).await
    }

    /// `PATCH /tickets/{id}`: a ticket admin corrects workflow data.
    pub async fn correct_ticket(&self, ticket: impl Display, data: Value) -> ApiResponse {
        let body = json!({ "data": data });
        self.patch(format!("/api/v1/tickets/{ticket}"), body).await
    }

    /// `GET /tickets/{id}/timeline`
    pub async fn ticket_timeline(&self, ticket: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/tickets/{ticket}/timeline")).await
    }

    /// `GET /tickets/{id}/comments`
    pub async fn comments(&self, ticket: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/tickets/{ticket}/comments")).await
    }

    /// `POST /tickets/{id}/comments`
    pub async fn add_comment(
        &self,
        ticket: impl Display,
        body: &str,
        internal: bool,
    ) -> ApiResponse {
        let body = json!({ "body": body, "internal": internal });
        self.post(format!("/api/v1/tickets/{ticket}/comments"), body)
            .await
    }

    /// `GET /tickets/{id}/attachments`
    pub async fn attachments(&self, ticket: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/tickets/{ticket}/attachments"))
            .await
    }

    /// `POST /tickets/{id}/attachments`: files as (name, bytes).
    pub async fn add_attachments(
        &self,
        ticket: impl Display,
        files: &[(&str, &[u8])],
    ) -> ApiResponse {
        let path = format!("/api/v1/tickets/{ticket}/attachments");
        self.send(Method::POST, &path, Body::attachments(files))
            .await
    }

    /// `GET /tickets/{id}/attachments/{aid}`: the file.
    pub async fn download_attachment(
        &self,
        ticket: impl Display,
        attachment: impl Display,
    ) -> ApiResponse {
        self.get(format!("/api/v1/tickets/{ticket}/attachments/{attachment}"))
            .await
    }

    /// `POST /tickets/{id}/cancel`
    pub async fn cancel_ticket(&self, ticket: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/tickets/{ticket}/cancel"))
            .await
    }

    // ---- Tasks, workflow errors, actions

    /// `GET /tasks?mine&queue&status&cursor&limit`
    pub async fn tasks(&self, query: &str) -> ApiResponse {
        self.get(with_query("/api/v1/tasks".into(), query)).await
    }

    /// `GET /tasks/{id}`
    pub async fn task(&self, task: impl Display) -> ApiResponse {
        self.get(format!("/api/v1/tasks/{task}")).await
    }

    /// `POST /tasks/{id}/claim`
    pub async fn claim_task(&self, task: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/tasks/{task}/claim")).await
    }

    /// `POST /tasks/{id}/assign`
    pub async fn assign_task(&self, task: impl Display, user: impl Display) -> ApiResponse {
        let body = json!({ "user_id": user.to_string() });
        self.post(format!("/api/v1/tasks/{task}/assign"), body)
            .await
    }

    /// `POST /tasks/{id}/release`
    pub async fn release_task(&self, task: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/tasks/{task}/release"))
            .await
    }

    /// `POST /tasks/{id}/complete`
    pub async fn complete_task(&self, task: impl Display, output: Value) -> ApiResponse {
        let body = json!({ "output": output });
        self.post(format!("/api/v1/tasks/{task}/complete"), body)
            .await
    }

    /// `PUT /tasks/{id}/allowed-users` (empty lifts the limit)
    pub async fn set_allowed_users(&self, task: impl Display, users: &[&str]) -> ApiResponse {
        let body = json!({ "user_ids": users });
        self.put(format!("/api/v1/tasks/{task}/allowed-users"), body)
            .await
    }

    /// `GET /workflow-errors?status&ticket`
    pub async fn workflow_errors(&self, query: &str) -> ApiResponse {
        self.get(with_query("/api/v1/workflow-errors".into(), query))
            .await
    }

    /// `POST /workflow-errors/{id}/review`
    pub async fn review_error(&self, error: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/workflow-errors/{error}/review"))
            .await
    }

    /// `POST /workflow-errors/{id}/resolve`
    pub async fn resolve_error(&self, error: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/workflow-errors/{error}/resolve"))
            .await
    }

    /// `POST /workflow-errors/{id}/retry`
    pub async fn retry_error(&self, error: impl Display) -> ApiResponse {
        self.post_empty(format!("/api/v1/workflow-errors/{error}/retry"))
            .await
    }

    /// `POST /actions/{task_id}/callback?token`: an action service reports its result.
    pub async fn action_callback(
        &self,
        task: impl Display,
        token: &str,
        result: Value,
    ) -> ApiResponse {
        let path = format!("/api/v1/actions/{task}/callback?token={token}");
        self.post(path, result).await
    }
}
