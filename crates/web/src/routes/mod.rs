//! Route handlers, one module per area. Each handler extracts, calls one `app` function
//! and maps the result; no SQL and no permission logic here.

pub mod account_pages;
pub mod admin;
pub mod admin_pages;
pub mod assets;
pub mod design;
pub mod design_forms;
pub mod design_pages;
pub mod health;
pub mod identity;
pub mod ops;
pub mod page_ctx;
pub mod pages;
pub mod schema_form;
pub mod session_pages;
pub mod task_pages;
pub mod ticket_pages;
pub mod tickets;
