//! Companies (tenants) and the roles each defines for itself.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::CompanyId;

/// A tenant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    /// `active` or `suspended` (by platform staff: nobody of it can log in).
    pub status: CompanyStatus,
    /// Lets people register themselves as pending users; admins rotate it.
    pub invite_code: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
pub struct CompanyRole {
    pub id: Uuid,
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
