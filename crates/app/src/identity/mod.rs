//! Identity: accounts, logging in, sessions and tokens, company administration and platform
//! staff.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod cache;
pub mod passwords;
pub mod platform;
pub mod tokens;
