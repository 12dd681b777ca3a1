//! The server-rendered pages, one module per context with its own `router()`; `kit` holds
//! what they share (the layout, the page context, schema forms, assets).

pub mod account;
pub mod admin;
pub mod canned_replies;
pub mod channels;
pub mod chat_settings;
pub mod conversation_tickets;
pub mod conversations;
pub mod design;
pub mod design_forms;
pub mod error_log;
pub mod kit;
pub mod notifications;
pub mod session;
pub mod tasks;
pub mod tickets;
