//! What every page shares: the layout and rendering, the page context (the signed-in person,
//! CSRF), forms drawn from JSON Schemas, and the static assets.

pub mod assets;
pub mod context;
pub mod layout;
pub mod pager;
pub mod schema_form;
pub mod when;
