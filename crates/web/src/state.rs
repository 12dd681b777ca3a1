//! What every handler can reach.

use app::App;

/// Shared state of the web layer; cheap to clone.
#[derive(Clone)]
pub struct WebState {
    pub app: App,
    /// Serve HSTS (the public URL is HTTPS).
    pub https: bool,
    /// Largest accepted request body, in bytes.
    pub max_body: usize,
    /// Largest accepted `multipart/form-data` body, in bytes.
    pub max_upload: usize,
    /// Values a JSON body may hold (`edge::inspect_input`).
    pub max_json_nodes: usize,
    /// Time a request (other than an upload or a WebSocket) may take.
    pub request_timeout: std::time::Duration,
    /// Time a request body may send nothing before it fails.
    pub body_timeout: std::time::Duration,
    /// The origin (`https://desk.example`) of the public URL, if one is configured: a
    /// change requested from it is not cross-site even behind a proxy that rewrites `Host`.
    pub public_origin: Option<String>,
}
