//! Static assets compiled into the binary, so one file is the whole deployment. URLs carry
//! a content hash (`?v=`) and are cached for a year; a new build changes the hash.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../static/app.js"),
    },
    Asset {
        name: "canned.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../static/canned.js"),
    },
    Asset {
        name: "push.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../static/push.js"),
    },
    Asset {
        name: "bell.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../../static/bell.svg"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../../static/favicon.svg"),
    },
];

/// A hash of every asset: the `?v=` that templates append.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hasher = Sha256::new();
    for asset in ASSETS {
        hasher.update(asset.body);
    }
    hex::encode(&hasher.finalize()[..6])
});

pub async fn serve_asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", *VERSION);
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::CACHE_CONTROL, cache)]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, cache),
            (
                header::ETAG,
                HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
            ),
        ],
        asset.body,
    )
        .into_response()
}

/// The Web Push service worker (`static/sw.js`), vendored like every asset.
const SERVICE_WORKER: &[u8] = include_bytes!("../../../static/sw.js");

/// `/sw.js`: served from the root so that its scope may be the whole site
/// (`Service-Worker-Allowed: /`), and revalidated on every load rather than cached for a
/// year, since browsers look for a new worker at this one URL.
pub async fn serve_service_worker() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("service-worker-allowed"),
                HeaderValue::from_static("/"),
            ),
        ],
        SERVICE_WORKER,
    )
        .into_response()
}
