//! What the contexts stand on: configuration and keys, the job queue, mail, the outbound
//! HTTP client, attachment encryption, throttles, the service's own health and its error log.

pub mod error_log;
pub mod jobs;
pub mod mail;
pub mod outbound;
pub mod secrets;
pub mod settings;
pub mod system;
pub mod throttle;
pub mod vault;
