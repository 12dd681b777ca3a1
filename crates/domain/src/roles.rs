//! The fixed system roles. Company roles are data (each company defines its own); these are
//! code because permission checks are written against them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role whose meaning is built into TicketFlower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SystemRole {
    Superadmin,
    Admin,
    TicketAdmin,
    WorkflowCreator,
    TaskWorker,
    /// Answers the company's support conversations.
    Agent,
    User,
}

impl SystemRole {
    pub const ALL: [SystemRole; 7] = [
        Self::Superadmin,
        Self::Admin,
        Self::TicketAdmin,
        Self::WorkflowCreator,
        Self::TaskWorker,
        Self::Agent,
        Self::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Superadmin => "superadmin",
            Self::Admin => "admin",
            Self::TicketAdmin => "ticket_admin",
            Self::WorkflowCreator => "workflow_creator",
            Self::TaskWorker => "task_worker",
            Self::Agent => "agent",
            Self::User => "user",
        }
    }

    /// Rank used by the "only at or below your own level" rule: a higher number may manage
    /// a lower or equal one. Platform staff sit above every company role.
    pub fn level(self) -> u8 {
        match self {
            Self::Superadmin => 100,
            Self::Admin => 50,
            Self::TicketAdmin | Self::WorkflowCreator => 30,
            Self::TaskWorker | Self::Agent => 20,
            Self::User => 10,
        }
    }
}

impl fmt::Display for SystemRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not one of the system roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown system role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for SystemRole {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_strings() {
        for role in SystemRole::ALL {
            assert_eq!(role.as_str().parse::<SystemRole>().unwrap(), role);
        }
        assert!("root".parse::<SystemRole>().is_err());
    }

    #[test]
    fn superadmin_outranks_admin() {
        assert!(SystemRole::Superadmin.level() > SystemRole::Admin.level());
        assert!(SystemRole::Admin.level() > SystemRole::TicketAdmin.level());
    }
}
