//! What every handler can reach.

use app::App;
use metrics_exporter_prometheus::PrometheusHandle;

/// Shared state of the web layer; cheap to clone.
#[derive(Clone)]
pub struct WebState {
    pub app: App,
    pub metrics: PrometheusHandle,
    /// Serve HSTS (the public URL is HTTPS).
    pub https: bool,
    /// Largest accepted request body, in bytes.
    pub max_body: usize,
    /// Largest accepted `multipart/form-data` body, in bytes.
    pub max_upload: usize,
}
