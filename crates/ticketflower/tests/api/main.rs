//! Black-box tests: the real server on a random loopback port over a fresh database (SQLite,
//! or PostgreSQL when `TEST_DATABASE_URL` is set). One binary so linking happens once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod auth_cache;
mod canned_replies;
mod channel_pages;
mod channels;
mod chat_settings;
pub(crate) mod cli;
mod common;
mod conversation_search;
mod conversation_tickets;
pub(crate) mod conversations;
mod design;
mod design_rules;
mod desk;
mod error_log;
mod errors;
mod events;
mod fuzz_api;
mod group_commit;
mod hardening;
mod health;
mod identity;
mod jobs;
mod mail;
mod mobile_push;
mod nats_publisher;
mod notifications;
mod pages;
mod personal_tasks;
mod search;
mod storage;
pub(crate) mod stream;
mod tenancy;
mod tickets;
mod web_push;
