//! TicketFlower's domain: the types and rules every other crate speaks in.
//!
//! Nothing here does I/O or is async, so the rules can be tested in milliseconds and
//! reused unchanged by the store, the use cases and the web layer.

/// An enum named by strings: `as_str`, `Display`, `FromStr` (the error names the unknown
/// value) and serde under the same names.
macro_rules! named {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        // The OpenAPI derive cannot read a rename passed in through the macro; every name
        // is its variant in snake_case, which it reads from here.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),*
        }

        impl $name {
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::channel::Unknown;
            fn from_str(s: &str) -> Result<Self, $crate::channel::Unknown> {
                match s {
                    $($text => Ok(Self::$variant),)*
                    other => Err($crate::channel::Unknown(other.to_owned())),
                }
            }
        }
    };
}

pub mod auth;
pub mod backoff;
pub mod canned;
pub mod channel;
pub mod company;
pub mod device;
pub mod email;
pub mod error_log;
pub mod event;
pub mod ids;
pub mod job;
pub mod notification;
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
