//! What every page shares: the layout and rendering, the page context (the signed-in person,
//! CSRF), refused forms shown again with their complaints, forms drawn from JSON Schemas, and
//! the static assets.

pub mod assets;
pub mod context;
pub mod filters;
pub mod form;
pub mod layout;
pub mod pager;
pub mod schema_form;
pub mod when;
