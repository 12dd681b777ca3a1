//! Companies (tenants) and the roles each defines for itself.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::CompanyId;

/// A tenant.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    /// `active` or `suspended` (by platform staff: nobody of it can log in).
    pub status: CompanyStatus,
    /// Lets people register themselves as pending users; admins rotate it.
    pub invite_code: String,
    /// This company's own bounds of ticket data and task outputs; unset ones take the
    /// server's defaults.
    pub data_limits: DataLimits,
    pub created_at: DateTime<Utc>,
}

/// Bounds of what one submission or one task output may hold, so that one request cannot
/// make the server hold, copy and index megabytes per ticket. `None` means the server's
/// default (`ticket_data_max_bytes`, `ticket_data_max_nodes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataLimits {
    pub max_bytes: Option<u64>,
    pub max_nodes: Option<u64>,
}

impl DataLimits {
    /// The bounds in force, with `defaults` filling the unset ones.
    pub fn or(self, defaults: (u64, u64)) -> (u64, u64) {
        (
            self.max_bytes.unwrap_or(defaults.0),
            self.max_nodes.unwrap_or(defaults.1),
        )
    }
}

/// Why data is over its bounds: the sentence names the limit, for a 422 on the field.
pub fn check_data_size(
    value: &serde_json::Value,
    max_bytes: u64,
    max_nodes: u64,
) -> Result<(), String> {
    fn nodes(value: &serde_json::Value) -> u64 {
        match value {
            serde_json::Value::Array(items) => 1 + items.iter().map(nodes).sum::<u64>(),
            serde_json::Value::Object(map) => 1 + map.values().map(nodes).sum::<u64>(),
            _ => 1,
        }
    }
    /// Counts the bytes of the JSON text without building it.
    struct Counter(u64);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let count = nodes(value);
    if count > max_nodes {
        return Err(format!(
            "holds {count} values; this company allows at most {max_nodes} (ticket_data_max_nodes)"
        ));
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).map_err(|e| e.to_string())?;
    if counter.0 > max_bytes {
        return Err(format!(
            "is {} bytes of JSON; this company allows at most {max_bytes} (ticket_data_max_bytes)",
            counter.0
        ));
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatus {
    Active,
    Suspended,
}

impl CompanyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// A role a company defines (e.g. "IT staff"); decides which ticket types its holders may
/// submit and which tasks they may work.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompanyRole {
    pub id: crate::CompanyRoleId,
    pub company_id: CompanyId,
    pub name: String,
    pub description: String,
    /// The default role `user`, held by everyone in the company; cannot be deleted.
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Name of every company's default role.
pub const DEFAULT_ROLE: &str = "user";

/// How a company's new support conversations find an agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// The online agent with the fewest open conversations (then any agent); ties go to
    /// the one given a conversation least recently.
    #[default]
    ShortestQueue,
    /// Agents in turn (online ones first), whatever their load.
    RoundRobin,
    /// Nobody: conversations wait in the unassigned queue until an agent takes one.
    Manual,
}

impl Assignment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ShortestQueue => "shortest_queue",
            Self::RoundRobin => "round_robin",
            Self::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "shortest_queue" => Some(Self::ShortestQueue),
            "round_robin" => Some(Self::RoundRobin),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

/// A company's rules for its support chat. A company that never set them has the
/// defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChatSettings {
    /// Longest message, in characters (1 to 20,000).
    pub max_message_chars: u32,
    /// Largest attachment, in bytes (1 byte to the server's upload bound).
    pub max_attachment_bytes: u64,
    /// Whether requesters may attach files (agents always may).
    pub requester_attachments: bool,
    pub assignment: Assignment,
    /// Message bodies are stored encrypted (new messages from when it is switched on);
    /// message search is then off for the company, since no index may hold the text.
    pub sealed: bool,
    /// Messages one person may post per minute across the company's conversations
    /// (0: no limit).
    pub messages_per_minute: u32,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            max_message_chars: 5_000,
            max_attachment_bytes: 10 * 1024 * 1024,
            requester_attachments: true,
            assignment: Assignment::ShortestQueue,
            sealed: false,
            messages_per_minute: 30,
        }
    }
}

/// The most a company may allow in one message.
pub const MAX_MESSAGE_CHARS_LIMIT: u32 = 20_000;
