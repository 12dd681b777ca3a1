//! TicketFlower's domain: the types and rules every other crate speaks in.
//!
//! Nothing here does I/O or is async, so the rules can be tested in milliseconds and
//! reused unchanged by the store, the use cases and the web layer.

pub mod auth;
pub mod backoff;
pub mod canned;
pub mod channel;
pub mod company;
pub mod email;
pub mod error_log;
pub mod event;
pub mod ids;
pub mod job;
pub mod password;
pub mod roles;
pub mod search;
pub mod user;
pub mod validation;
pub mod workflow;

pub use email::Email;
pub use ids::*;
pub use roles::SystemRole;
pub use validation::{FieldError, ValidationErrors};
