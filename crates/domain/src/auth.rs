//! Who is acting: the authenticated principal every use case receives, and the role rules
//! checked against it.

use serde::Serialize;

use crate::{CompanyId, SystemRole, UserId};

/// How the actor authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person with an access token from a login.
    Person,
    /// An integration using an API token; acts as that token's service user.
    ApiToken,
}

/// The authenticated principal of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub user_id: UserId,
    /// The company the actor acts in; `None` for platform staff outside impersonation.
    pub company_id: Option<CompanyId>,
    pub roles: Vec<SystemRole>,
    pub kind: ActorKind,
    /// The session (refresh-token family) of a person's access token.
    pub session_id: Option<crate::SessionId>,
    /// Platform staff member acting inside a company (impersonation).
    pub impersonator: Option<UserId>,
    /// The API token of an integration.
    pub api_token_id: Option<crate::ApiTokenId>,
}

impl Actor {
    pub fn has(&self, role: SystemRole) -> bool {
        self.roles.contains(&role)
    }

    /// Highest role level held (see [`SystemRole::level`]).
    pub fn level(&self) -> u8 {
        self.roles.iter().map(|r| r.level()).max().unwrap_or(0)
    }

    pub fn is_staff(&self) -> bool {
        self.has(SystemRole::Superadmin) && self.company_id.is_none()
    }
}

/// Whether `actor_level` may grant or manage `roles` (each at or below its own level,
/// and never `superadmin`). Returns the first role that is out of reach.
pub fn first_role_out_of_reach(actor_level: u8, roles: &[SystemRole]) -> Option<SystemRole> {
    roles
        .iter()
        .copied()
        .find(|r| *r == SystemRole::Superadmin || r.level() > actor_level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_cannot_grant_superadmin_or_above_themselves() {
        let admin = SystemRole::Admin.level();
        assert_eq!(
            first_role_out_of_reach(admin, &[SystemRole::User, SystemRole::Admin]),
            None
        );
        assert_eq!(
            first_role_out_of_reach(admin, &[SystemRole::User, SystemRole::Superadmin]),
            Some(SystemRole::Superadmin)
        );
        let ticket_admin = SystemRole::TicketAdmin.level();
        assert_eq!(
            first_role_out_of_reach(ticket_admin, &[SystemRole::Admin]),
            Some(SystemRole::Admin)
        );
    }
}
