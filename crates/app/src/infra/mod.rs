//! What the contexts stand on: configuration and keys, the job queue, mail, the outbound
//! HTTP client, attachment encryption, throttles and the service's own health.

pub mod jobs;
pub mod mail;
pub mod outbound;
pub mod secrets;
pub mod settings;
pub mod system;
pub mod throttle;
pub mod vault;
