//! The REST API, one module per context, each with its own `router()` of documented
//! operations and the request and response types they use. Handlers extract, call one `app`
//! function and map the result; no SQL and no permission logic here.

pub mod admin;
pub mod design;
pub mod health;
pub mod identity;
pub mod tasks;
pub mod tickets;
