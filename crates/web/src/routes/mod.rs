//! Route handlers, one module per area. Each handler extracts, calls one `app` function
//! and maps the result; no SQL and no permission logic here.

pub mod admin;
pub mod assets;
pub mod health;
pub mod identity;
pub mod ops;
pub mod pages;
pub mod session_pages;
