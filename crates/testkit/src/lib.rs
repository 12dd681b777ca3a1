//! The test harness: the real server on a random loopback port, over a fresh database per
//! test — an SQLite file by default, or a new PostgreSQL database when
//! `TEST_DATABASE_URL` is set — plus a typed API client, the fixtures the API and the
//! browser tests share, and a headless Chromium for browser tests.

pub mod api;
pub mod browser;
mod db;
pub mod fcm;
pub mod fixtures;
pub mod nats;
mod server;
pub mod smtp;

pub use api::{ApiClient, ApiResponse, Body, DesignKind, id};
pub use db::{TestDb, TestDbKind};
pub use server::{TestApp, json, spawn_app, spawn_app_with, spawn_app_with_secrets, test_settings};
