//! The REST API, one module per context, each with its own `router()` of documented
//! operations and the request and response types they use. Handlers extract, call one `app`
//! function and map the result; no SQL and no permission logic here.

pub mod admin;
pub mod canned_replies;
pub mod channels;
pub mod conversation_tickets;
pub mod conversations;
pub mod design;
pub mod devices;
pub mod error_log;
pub mod health;
pub mod identity;
pub mod notifications;
pub mod push;
pub mod stream;
pub mod tasks;
pub mod templates;
pub mod tickets;

use serde::Serialize;
use utoipa::ToSchema;

/// One page of a list; `next_cursor` continues it and is `null` on the last page. Serialized
/// straight from the items: building a `serde_json::Value` first cost a copy of every field
/// (a tenth of the list's CPU in the benchmark profile).
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A list answered whole: there is no next page.
    pub fn whole(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
        }
    }
}

/// A list answered whole, without paging.
#[derive(Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}
