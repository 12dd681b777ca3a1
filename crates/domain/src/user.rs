//! People and service accounts, and the companies they belong to.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{CompanyId, Email, SystemRole, UserId};

/// Whether a user may log in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    /// Registered with an invite code; waits for an admin's approval.
    Pending,
    Blocked,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Blocked => "blocked",
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not a user status.
#[derive(Debug, thiserror::Error)]
#[error("unknown user status `{0}`")]
pub struct UnknownUserStatus(pub String);

impl FromStr for UserStatus {
    type Err = UnknownUserStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(Self::Active),
            "pending" => Ok(Self::Pending),
            "blocked" => Ok(Self::Blocked),
            other => Err(UnknownUserStatus(other.to_owned())),
        }
    }
}

/// A user as the rest of the system sees it (never with the password hash).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: UserId,
    /// `None` for platform staff.
    pub company_id: Option<CompanyId>,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub status: UserStatus,
    pub system_roles: Vec<SystemRole>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn has_role(&self, role: SystemRole) -> bool {
        self.system_roles.contains(&role)
    }
}
