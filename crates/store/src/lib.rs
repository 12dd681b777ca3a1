//! TicketFlower's database layer: one set of repositories and migrations that runs on the
//! embedded SQLite default and on PostgreSQL.
//!
//! Queries are written once with sea-query and rendered for the backend chosen from the URL
//! at run time ([`Db`]). Dialect branches exist only where the databases genuinely differ:
//! reading the event log below PostgreSQL's commit horizon and claiming jobs with
//! `FOR UPDATE SKIP LOCKED`. Repositories return domain types, never rows.

pub mod api_tokens;
pub mod canned_replies;
pub mod channels;
pub mod chat;
pub mod companies;
pub mod conversations;
mod db;
pub mod deliveries;
pub mod design;
pub mod desk;
pub mod devices;
mod error;
pub mod error_log;
pub mod events;
pub mod jobs;
pub mod logins;
pub mod mail;
pub mod migrations;
pub mod notifications;
pub mod notify;
pub mod push_subscriptions;
pub mod relay_cursors;
mod schema;
pub mod sessions;
pub mod subscriptions;
pub mod tasks;
pub mod templates;
pub mod tickets;
pub mod users;
mod writer;

pub use db::{Backend, Db, DbOptions, Effects, Exec, Raw, SqliteSync, Statement, Tx};
pub use error::{Result, StoreError};
pub use sqlx;
pub use sqlx::types::Json;
pub use writer::CommitStats;
