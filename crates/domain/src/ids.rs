//! Typed identifiers. Every id is a UUIDv7 so that ids are not guessable across tenants and
//! still sort by creation time; the newtypes keep a `TicketId` from being passed where a
//! `CompanyId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = uuid::Uuid))]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        #[cfg(feature = "sqlx")]
        impl From<$name> for sea_query::Value {
            fn from(value: $name) -> Self {
                value.0.into()
            }
        }

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl PartialEq<Uuid> for $name {
            fn eq(&self, other: &Uuid) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// A tenant.
    CompanyId
);
id_type!(
    /// A person or a service account.
    UserId
);
id_type!(
    /// A background job in the durable queue.
    JobId
);
id_type!(
    /// A company-defined role.
    CompanyRoleId
);
id_type!(
    /// A login session (the refresh-token family of one sign-in).
    SessionId
);
id_type!(
    /// An API token of an integration.
    ApiTokenId
);
id_type!(
    /// A mail in the outbox.
    MailId
);
id_type!(
    /// A design object: a workflow, one of its tasks or transitions, or a ticket type.
    DesignObjectId
);
id_type!(
    /// A workflow (its design object's id).
    WorkflowId
);
id_type!(
    /// A published version of a workflow.
    WorkflowVersionId
);
id_type!(
    /// A ticket type (its design object's id).
    TicketTypeId
);
id_type!(
    /// A ticket.
    TicketId
);
id_type!(
    /// A task instance of a running ticket.
    TaskId
);
id_type!(
    /// A workflow error the engine raised.
    WorkflowErrorId
);
id_type!(
    /// A comment or internal note on a ticket.
    CommentId
);
id_type!(
    /// A file attached to a ticket.
    AttachmentId
);
id_type!(
    /// A company's canned reply: a text agents insert with its `/shortcut`.
    CannedReplyId
);

/// A workflow and a ticket type are design objects too.
impl From<WorkflowId> for DesignObjectId {
    fn from(value: WorkflowId) -> Self {
        Self(value.0)
    }
}

impl DesignObjectId {
    /// This object's id as a workflow's, for an object whose kind is `workflow`.
    pub fn as_workflow(self) -> WorkflowId {
        WorkflowId(self.0)
    }

    /// This object's id as a ticket type's, for an object whose kind is `ticket_type`.
    pub fn as_ticket_type(self) -> TicketTypeId {
        TicketTypeId(self.0)
    }
}

impl From<TicketTypeId> for DesignObjectId {
    fn from(value: TicketTypeId) -> Self {
        Self(value.0)
    }
}

/// An event of the log: ids are assigned by the database in commit order, so they are
/// integers, not UUIDs, and a stream cursor is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = i64))]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
#[serde(transparent)]
pub struct EventId(pub i64);

#[cfg(feature = "sqlx")]
impl From<EventId> for sea_query::Value {
    fn from(value: EventId) -> Self {
        value.0.into()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
id_type!(
    /// A support conversation between a requester and the company's agents.
    ConversationId
);
id_type!(
    /// A message of a conversation.
    MessageId
);
id_type!(
    /// A channel conversations arrive through (API or test; the web chat has none).
    ChannelId
);
id_type!(
    /// An external identity on a channel.
    ContactId
);
id_type!(
    /// One thing to deliver to one endpoint (a reply or an event).
    DeliveryId
);
id_type!(
    /// A company's subscription of an endpoint to event kinds.
    SubscriptionId
);
id_type!(
    /// An entry of the error log: one 5xx answer of the server.
    ErrorLogId
);
id_type!(
    /// What one person was told about one event.
    NotificationId
);
id_type!(
    /// A browser's Web Push subscription.
    PushSubscriptionId
);
id_type!(
    /// A phone or tablet registered for mobile push.
    DeviceId
);
