//! The event spine's vocabulary. Every state change appends one event in the same
//! transaction as the change; the timeline, the audit log, the real-time feed and outbound
//! webhooks all read these rows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{CompanyId, UserId};

/// An event about to be appended.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// `None` only for platform-level events (a company created by staff, a superuser made).
    pub company_id: Option<CompanyId>,
    /// What the event is about, e.g. `company:<id>` or `ticket:<id>`.
    pub stream: String,
    /// What happened, dotted: `company.created`, `user.login_succeeded`.
    pub kind: String,
    pub actor_id: Option<UserId>,
    pub payload: Value,
}

impl NewEvent {
    pub fn new(stream: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            company_id: None,
            stream: stream.into(),
            kind: kind.into(),
            actor_id: None,
            payload: Value::Object(Default::default()),
        }
    }

    pub fn company(mut self, company: CompanyId) -> Self {
        self.company_id = Some(company);
        self
    }

    pub fn actor(mut self, actor: Option<UserId>) -> Self {
        self.actor_id = actor;
        self
    }

    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
}

/// A committed event. `id` is the position in the log and the cursor clients resume from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: i64,
    pub company_id: Option<CompanyId>,
    pub stream: String,
    pub kind: String,
    pub actor_id: Option<UserId>,
    /// What happened, shaped by `kind`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    /// The transaction that wrote it, on PostgreSQL (0 on SQLite): with `id`, its place in
    /// commit order ([`Position`]). Internal, never sent.
    #[serde(skip)]
    pub txid: i64,
}

impl Event {
    pub fn position(&self) -> Position {
        Position {
            txid: self.txid,
            id: self.id,
        }
    }
}

/// Where an event stands in the log's commit order: `(txid, id)` on PostgreSQL, where ids
/// are taken before commit and so are not in commit order by themselves; `(0, id)` on
/// SQLite. Every event at or before a reader's position was committed when it got there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub txid: i64,
    pub id: i64,
}

/// What an event is about: one entity's history. Written as `company:<id>`, `user:<id>`,
/// `ticket:<id>` or `workflow:<id>`; conversations will add their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Company(CompanyId),
    User(UserId),
    Ticket(crate::TicketId),
    Workflow(crate::WorkflowId),
    Conversation(crate::ConversationId),
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Company(id) => write!(f, "company:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
            Self::Ticket(id) => write!(f, "ticket:{id}"),
            Self::Workflow(id) => write!(f, "workflow:{id}"),
            Self::Conversation(id) => write!(f, "conversation:{id}"),
        }
    }
}

impl std::str::FromStr for Stream {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownName(s.to_owned());
        let (kind, id) = s.split_once(':').ok_or_else(unknown)?;
        let id: uuid::Uuid = id.parse().map_err(|_| unknown())?;
        match kind {
            "company" => Ok(Self::Company(CompanyId(id))),
            "user" => Ok(Self::User(UserId(id))),
            "ticket" => Ok(Self::Ticket(crate::TicketId(id))),
            "workflow" => Ok(Self::Workflow(crate::WorkflowId(id))),
            "conversation" => Ok(Self::Conversation(crate::ConversationId(id))),
            _ => Err(unknown()),
        }
    }
}

/// A stream or event kind this version does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

/// A file sent with a message, as its event names it (the bytes are downloaded on their
/// own, by those who may read the message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileNote {
    pub id: uuid::Uuid,
    pub file_name: String,
    pub size: i64,
    pub sha256: String,
}

/// Declares every event kind once: its name on the wire, and its payload's fields. From
/// the one list come [`EventKind`] (the names) and [`Payload`] (the typed payloads), so a
/// kind cannot exist without its payload nor be spelled two ways. `docs/events.md`
/// documents each; a test keeps the two in step.
macro_rules! event_kinds {
    ($( $variant:ident = $name:literal { $($(#[$meta:meta])* $field:ident : $ty:ty),* $(,)? } ),* $(,)?) => {
        /// The name of an event: what happened.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind { $($variant),* }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
        }

        impl std::str::FromStr for EventKind {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)*
                    _ => Err(UnknownName(s.to_owned())),
                }
            }
        }

        /// What happened, with the facts that belong to it. Serialised as the event row's
        /// `kind` and `payload`.
        #[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
        #[serde(tag = "kind", content = "payload")]
        pub enum Payload {
            $(
                #[serde(rename = $name)]
                $variant { $($(#[$meta])* $field: $ty),* }
            ),*
        }

        impl Payload {
            pub fn kind(&self) -> EventKind {
                match self { $(Self::$variant { .. } => EventKind::$variant),* }
            }
        }
    };
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose authentication a committed event may have changed: who must be read from the
/// database again on their next request instead of from a server's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The people and API tokens of one company.
    Company(CompanyId),
    /// Anyone: a platform event (staff, superusers), or staff acting inside a company, whose
    /// own sessions live outside it.
    Everyone,
}

impl EventKind {
    /// Whether an event of this kind may change who can act, or as what: a session ended,
    /// a person blocked or given other roles, a company suspended, a token revoked. Every
    /// kind is named, so that a new one must be decided; when in doubt it says yes (a
    /// needless yes costs each signed-in person of the company one database read). The
    /// kinds that say no change nothing authentication reads, or are ones anybody can
    /// cause without signing in (a registration, a reset request), which must not let a
    /// stranger empty a company's cache at will.
    pub fn changes_who_may_act(self) -> bool {
        match self {
            Self::CompanyCreated
            | Self::CompanyCreatedByStaff
            | Self::CompanySuspended
            | Self::CompanyReactivated
            | Self::ImpersonationStarted
            | Self::InviteCodeRotated
            | Self::DataLimitsSet
            | Self::ChatSettingsSet
            | Self::CompanyRoleCreated
            | Self::CompanyRoleUpdated
            | Self::CompanyRoleDeleted
            | Self::ApiTokenIssued
            | Self::ApiTokenRevoked
            | Self::UserCreated
            | Self::UserProfileUpdated
            | Self::UserUpdated
            | Self::UserApproved
            | Self::UserBlocked
            | Self::UserUnblocked
            | Self::UserRolesChanged
            | Self::UserDeleted
            | Self::LoggedOut
            | Self::RefreshTokenReused
            | Self::PasswordChanged
            | Self::PasswordReset
            | Self::SuperuserCreated
            | Self::SuperuserPasswordReset => true,
            // A new pending account, a new session, a reset link mailed: nothing that was
            // signed in changes.
            Self::UserRegistered | Self::LoggedIn | Self::PasswordResetRequested => false,
            Self::CannedReplyCreated
            | Self::CannedReplyUpdated
            | Self::CannedReplyDeleted
            | Self::NotificationCreated
            | Self::NotificationsRead
            | Self::DesignCreated
            | Self::DesignUpdated
            | Self::DesignDeleted
            | Self::WorkflowPublished
            | Self::WorkflowDeprecated
            | Self::WorkflowArchived
            | Self::BundleImported
            | Self::TicketSubmitted
            | Self::TicketDataCorrected
            | Self::TicketCancelled
            | Self::CommentAdded
            | Self::AttachmentAdded
            | Self::TaskCreated
            | Self::TaskAssigned
            | Self::TaskAssignmentUnavailable
            | Self::TaskClaimed
            | Self::TaskReleased
            | Self::TaskAllowedUsersSet
            | Self::TaskCompleted
            | Self::ActionAccepted
            | Self::WorkflowJoined
            | Self::WorkflowBranchEnded
            | Self::WorkflowCompleted
            | Self::WorkflowErrorRaised
            | Self::WorkflowErrorStatusChanged
            | Self::WorkflowErrorRetried
            | Self::TicketConversationLinked
            | Self::ConversationOpened
            | Self::ConversationAssigned
            | Self::ConversationTeamChanged
            | Self::ConversationStatusChanged
            | Self::ConversationRead
            | Self::ConversationTicketLinked
            | Self::MessagePosted
            | Self::MessageEdited
            | Self::MessageDeleted
            | Self::MessageDeliveryChanged
            | Self::ChannelCreated
            | Self::ChannelUpdated
            | Self::ChannelPaused
            | Self::ChannelResumed
            | Self::ChannelSecretRotated
            | Self::DeliveriesReplayed
            | Self::WebhookSubscriptionCreated
            | Self::WebhookSubscriptionUpdated
            | Self::WebhookSubscriptionDeleted => false,
        }
    }
}

impl NewEvent {
    /// Whose authentication this event may change once committed; `None`: nobody's. A kind
    /// this version does not know counts as changing it.
    pub fn reach(&self) -> Option<Reach> {
        let known = self.kind.parse::<EventKind>();
        if known.is_ok_and(|kind| !kind.changes_who_may_act()) {
            return None;
        }
        let by_staff = self
            .payload
            .get("impersonated_by")
            .is_some_and(|staff| !staff.is_null());
        Some(match self.company_id {
            Some(company) if !by_staff => Reach::Company(company),
            _ => Reach::Everyone,
        })
    }
}

impl Payload {
    /// The payload's fields as the JSON object stored in the event row.
    pub fn to_fields(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => map.remove("payload").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }
}

event_kinds! {
    // Companies and their settings (stream: company).
    CompanyCreated = "company.created" { name: String },
    CompanyCreatedByStaff = "company.created_by_staff" { staff: UserId },
    CompanySuspended = "company.suspended" {},
    CompanyReactivated = "company.reactivated" {},
    ImpersonationStarted = "company.impersonation_started" { staff: UserId, staff_email: String },
    InviteCodeRotated = "company.invite_code_rotated" {},
    DataLimitsSet = "company.data_limits_set" { max_bytes: Option<u64>, max_nodes: Option<u64> },
    ChatSettingsSet = "company.chat_settings_set" { settings: crate::company::ChatSettings },
    CompanyRoleCreated = "company_role.created" { role_id: crate::CompanyRoleId, name: String },
    CompanyRoleUpdated = "company_role.updated" { role_id: crate::CompanyRoleId },
    CompanyRoleDeleted = "company_role.deleted" { role_id: crate::CompanyRoleId, name: String },
    ApiTokenIssued = "api_token.issued" { token_id: crate::ApiTokenId, name: String, roles: Vec<crate::SystemRole> },
    ApiTokenRevoked = "api_token.revoked" { token_id: crate::ApiTokenId, name: String },
    CannedReplyCreated = "canned_reply.created" { canned_reply_id: crate::CannedReplyId, shortcut: String, title: String },
    CannedReplyUpdated = "canned_reply.updated" { canned_reply_id: crate::CannedReplyId, shortcut: String, title: String },
    CannedReplyDeleted = "canned_reply.deleted" { canned_reply_id: crate::CannedReplyId, shortcut: String },
    // People (stream: user).
    UserCreated = "user.created" { email: String, roles: Vec<crate::SystemRole>, via: Option<String> },
    UserRegistered = "user.registered" { email: String },
    UserProfileUpdated = "user.profile_updated" {},
    UserUpdated = "user.updated" {},
    UserApproved = "user.approved" {},
    UserBlocked = "user.blocked" {},
    UserUnblocked = "user.unblocked" {},
    UserRolesChanged = "user.roles_changed" { system_roles: Vec<crate::SystemRole>, company_roles: Vec<String> },
    UserDeleted = "user.deleted" { email: String },
    LoggedIn = "user.logged_in" { ip: String, platform: Option<String> },
    LoggedOut = "user.logged_out" { session_id: crate::SessionId },
    RefreshTokenReused = "session.refresh_token_reused" { session_id: crate::SessionId },
    PasswordChanged = "user.password_changed" { other_sessions_ended: u64 },
    PasswordResetRequested = "user.password_reset_requested" {},
    PasswordReset = "user.password_reset" {},
    SuperuserCreated = "platform.superuser_created" { user_id: UserId, email: String },
    SuperuserPasswordReset = "platform.superuser_password_reset" { user_id: UserId, email: String },
    // A person's notifications (stream: user; only that person reads them, as the bell).
    NotificationCreated = "notification.created" { notification_id: crate::NotificationId, notification_kind: String, subject: String, unread: i64 },
    NotificationsRead = "notification.read" { notification_id: Option<crate::NotificationId>, subject: Option<String>, unread: i64 },
    // Workflow design (stream: workflow). `object` is workflow, task, transition or ticket_type.
    DesignCreated = "design.created" { object: String, id: crate::DesignObjectId, key: String },
    DesignUpdated = "design.updated" { object: String, id: crate::DesignObjectId, version: i64 },
    DesignDeleted = "design.deleted" { object: String, id: crate::DesignObjectId, key: String },
    WorkflowPublished = "workflow.published" { version: i32 },
    WorkflowDeprecated = "workflow.deprecated" {},
    WorkflowArchived = "workflow.archived" {},
    BundleImported = "workflow.bundle_imported" { tasks: usize, transitions: usize, ticket_types: usize, created: bool },
    // Tickets and their workflow (stream: ticket).
    TicketSubmitted = "ticket.submitted" { number: i64, ticket_type: String, fields: Vec<String>, workflow_version: i32, attachments: Vec<String> },
    TicketDataCorrected = "ticket.data_corrected" { changes: Value },
    TicketCancelled = "ticket.cancelled" { tasks_cancelled: u64, errors_resolved: u64 },
    CommentAdded = "comment.added" { comment_id: crate::CommentId, body: String, internal: bool },
    AttachmentAdded = "attachment.added" { attachment_id: crate::AttachmentId, file_name: String, size: i64, content_type: String },
    TaskCreated = "task.created" { task_id: crate::TaskId, task_key: String, name: String, task_type: crate::workflow::TaskType },
    TaskAssigned = "task.assigned" { task_id: crate::TaskId, assigned_to: UserId, by: String },
    TaskAssignmentUnavailable = "task.assignment_unavailable" { task_id: crate::TaskId, wanted: String, user_id: Option<UserId>, reason: String },
    TaskClaimed = "task.claimed" { task_id: crate::TaskId, assigned_to: UserId },
    TaskReleased = "task.released" { task_id: crate::TaskId },
    TaskAllowedUsersSet = "task.allowed_users_set" { task_id: crate::TaskId, user_ids: Vec<UserId> },
    TaskCompleted = "task.completed" { task_id: crate::TaskId, task_key: String, changes: Value },
    ActionAccepted = "action.accepted" { task_id: crate::TaskId, answer: Value },
    WorkflowJoined = "workflow.joined" { from: Option<String>, into: Vec<String> },
    WorkflowBranchEnded = "workflow.branch_ended" { from: Option<String>, status: String },
    WorkflowCompleted = "workflow.completed" { from: Option<String>, status: String },
    WorkflowErrorRaised = "workflow.error" { error_id: crate::WorkflowErrorId, error_type: crate::workflow::WorkflowErrorType, message: String, task_id: Option<crate::TaskId> },
    WorkflowErrorStatusChanged = "workflow_error.status_changed" { error_id: crate::WorkflowErrorId, status: crate::workflow::WorkflowErrorStatus },
    WorkflowErrorRetried = "workflow_error.retried" { error_id: crate::WorkflowErrorId },
    TicketConversationLinked = "ticket.conversation_linked" { conversation_id: crate::ConversationId, created_from: bool },
    // Support conversations (stream: conversation).
    ConversationOpened = "conversation.opened" { requester_id: UserId, subject: Option<String>, reference: Option<String>, ticket_id: Option<crate::TicketId>, #[serde(default)] channel_id: Option<crate::ChannelId> },
    ConversationAssigned = "conversation.assigned" { assignee_id: Option<UserId>, by: String },
    ConversationTeamChanged = "conversation.team_changed" { team_id: Option<crate::CompanyRoleId>, team_name: Option<String> },
    ConversationStatusChanged = "conversation.status_changed" { from: String, to: String },
    ConversationRead = "conversation.read" { user_id: UserId, up_to: i64 },
    ConversationTicketLinked = "conversation.ticket_linked" { ticket_id: crate::TicketId, number: i64, created: bool },
    MessagePosted = "message.posted" { message_id: crate::MessageId, seq: i64, body: Option<String>, internal: bool, #[serde(default)] attachments: Vec<FileNote> },
    MessageEdited = "message.edited" { message_id: crate::MessageId, seq: i64, body: Option<String>, internal: bool, version: i32 },
    MessageDeleted = "message.deleted" { message_id: crate::MessageId, seq: i64, internal: bool },
    MessageDeliveryChanged = "message.delivery_changed" { message_id: crate::MessageId, state: crate::channel::DeliveryState, error: Option<String> },
    // Channels and event webhooks (stream: company).
    ChannelCreated = "channel.created" { channel_id: crate::ChannelId, slug: String, name: String, channel_kind: crate::channel::ChannelKind },
    ChannelUpdated = "channel.updated" { channel_id: crate::ChannelId, fields: Vec<String> },
    ChannelPaused = "channel.paused" { channel_id: crate::ChannelId, reason: String },
    ChannelResumed = "channel.resumed" { channel_id: crate::ChannelId },
    ChannelSecretRotated = "channel.secret_rotated" { channel_id: crate::ChannelId, which: String, previous_valid_until: Option<chrono::DateTime<chrono::Utc>> },
    DeliveriesReplayed = "delivery.replayed" { channel_id: Option<crate::ChannelId>, subscription_id: Option<crate::SubscriptionId>, count: u64 },
    WebhookSubscriptionCreated = "webhook_subscription.created" { subscription_id: crate::SubscriptionId, url: String, kinds: Vec<String> },
    WebhookSubscriptionUpdated = "webhook_subscription.updated" { subscription_id: crate::SubscriptionId, fields: Vec<String> },
    WebhookSubscriptionDeleted = "webhook_subscription.deleted" { subscription_id: crate::SubscriptionId, url: String },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod vocabulary_tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), *kind);
            assert!(seen.insert(kind.as_str()), "{kind} twice");
        }
        let stream = Stream::Ticket(crate::TicketId(uuid::Uuid::nil()));
        assert_eq!(stream.to_string().parse::<Stream>().unwrap(), stream);
        assert!("ticket:x".parse::<Stream>().is_err());
    }

    #[test]
    fn payloads_serialise_as_kind_and_fields() {
        let payload = Payload::TaskReleased {
            task_id: crate::TaskId(uuid::Uuid::nil()),
        };
        assert_eq!(payload.kind(), EventKind::TaskReleased);
        assert_eq!(
            payload.to_fields(),
            serde_json::json!({ "task_id": uuid::Uuid::nil() })
        );
        assert_eq!(
            Payload::InviteCodeRotated {}.to_fields(),
            serde_json::json!({})
        );
    }

    #[test]
    fn who_may_act_is_changed_by_identity_events_only() {
        let company = CompanyId(uuid::Uuid::nil());
        let event = |kind: &str| NewEvent::new("user:x", kind).company(company);
        assert_eq!(event("user.blocked").reach(), Some(Reach::Company(company)));
        assert_eq!(
            event("company.suspended").reach(),
            Some(Reach::Company(company))
        );
        assert_eq!(
            event("api_token.revoked").reach(),
            Some(Reach::Company(company))
        );
        assert_eq!(event("user.logged_in").reach(), None);
        assert_eq!(event("user.registered").reach(), None);
        assert_eq!(event("ticket.submitted").reach(), None);
        assert_eq!(event("notification.created").reach(), None);
        // Unknown kinds are assumed to matter; platform events and staff acting inside a
        // company reach everyone.
        assert_eq!(
            event("test.happened").reach(),
            Some(Reach::Company(company))
        );
        assert_eq!(
            NewEvent::new("user:x", "platform.superuser_created").reach(),
            Some(Reach::Everyone)
        );
        let by_staff = event("user.password_changed")
            .payload(serde_json::json!({ "impersonated_by": uuid::Uuid::nil() }));
        assert_eq!(by_staff.reach(), Some(Reach::Everyone));
        fn kinds(prefix: &str) -> impl Iterator<Item = EventKind> + '_ {
            EventKind::ALL
                .iter()
                .filter(move |k| k.as_str().starts_with(prefix))
                .copied()
        }
        for prefix in [
            "company.",
            "company_role.",
            "api_token.",
            "session.",
            "platform.",
        ] {
            assert!(
                kinds(prefix).all(EventKind::changes_who_may_act),
                "{prefix}"
            );
        }
        let quiet = [
            EventKind::UserRegistered,
            EventKind::LoggedIn,
            EventKind::PasswordResetRequested,
        ];
        assert!(
            kinds("user.")
                .filter(|k| !quiet.contains(k))
                .all(EventKind::changes_who_may_act)
        );
    }

    /// `docs/events.md` is the public description of this vocabulary: every kind is there.
    #[test]
    fn every_kind_is_documented() {
        let doc = include_str!("../../../docs/events.md");
        for kind in EventKind::ALL {
            assert!(
                doc.contains(&format!("`{kind}`")),
                "{kind} is not in docs/events.md"
            );
        }
    }
}
