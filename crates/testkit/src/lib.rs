//! The test harness: the real server on a random loopback port, over a fresh database per
//! test — an SQLite file by default, or a new PostgreSQL database when
//! `TEST_DATABASE_URL` is set — plus a headless Chromium for browser tests.

pub mod browser;
mod db;
mod server;
pub mod smtp;

pub use db::{TestDb, TestDbKind};
pub use server::{TestApp, json, spawn_app, spawn_app_with, test_settings};
