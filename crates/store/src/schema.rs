//! Table and column names, shared by the migrations and the repositories so a rename is a
//! compile error rather than a runtime one.

use sea_query::Iden;

#[derive(Iden, Clone, Copy)]
pub enum SchemaMigrations {
    Table,
    Version,
    Name,
    AppliedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Companies {
    Table,
    Id,
    Name,
    Status,
    InviteCode,
    DataMaxBytes,
    DataMaxNodes,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Users {
    Table,
    Id,
    CompanyId,
    Email,
    PasswordHash,
    FirstName,
    LastName,
    Status,
    SystemRoles,
    Kind,
    LastLoginAt,
    LastAssignedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Events {
    Table,
    Id,
    CompanyId,
    Stream,
    Kind,
    ActorId,
    Payload,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Jobs {
    Table,
    Id,
    CompanyId,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedUntil,
    LockedBy,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum CompanyRoles {
    Table,
    Id,
    CompanyId,
    Name,
    Description,
    IsDefault,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum UserCompanyRoles {
    Table,
    UserId,
    RoleId,
    CompanyId,
}

#[derive(Iden, Clone, Copy)]
pub enum Sessions {
    Table,
    Id,
    UserId,
    CompanyId,
    ImpersonatorId,
    Ip,
    UserAgent,
    CreatedAt,
    RevokedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    UsedAt,
    ExpiresAt,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum LoginAttempts {
    Table,
    Id,
    UserId,
    CompanyId,
    Email,
    Ip,
    UserAgent,
    Platform,
    Success,
    FailureReason,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum PasswordResets {
    Table,
    TokenHash,
    UserId,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum MailOutbox {
    Table,
    Id,
    CompanyId,
    ToEmail,
    Subject,
    Body,
    Status,
    CreatedAt,
    SentAt,
    HtmlBody,
    Headers,
}

#[derive(Iden, Clone, Copy)]
pub enum ApiTokens {
    Table,
    Id,
    CompanyId,
    UserId,
    Name,
    TokenHash,
    CreatedBy,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
    CreatedAt,
}

/// Workflows, tasks, transitions and ticket types while they are being designed: one row
/// per object, its editable content in `spec` (see docs/decisions.md).
#[derive(Iden, Clone, Copy)]
pub enum DesignObjects {
    Table,
    Id,
    CompanyId,
    WorkflowId,
    Kind,
    Key,
    Title,
    Status,
    Version,
    Spec,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

/// Published, immutable snapshots of a workflow with its tasks, transitions and ticket
/// types; tickets pin one of them.
#[derive(Iden, Clone, Copy)]
pub enum WorkflowVersions {
    Table,
    Id,
    CompanyId,
    WorkflowId,
    Version,
    Status,
    Snapshot,
    PublishedBy,
    PublishedAt,
    UpdatedAt,
}

/// Tickets with their workflow instance (one each, so they share the row): the submitted
/// data, the workflow data it grows into, and the pinned workflow version.
#[derive(Iden, Clone, Copy)]
pub enum Tickets {
    Table,
    Id,
    CompanyId,
    Number,
    TicketTypeId,
    TicketTypeKey,
    Title,
    WorkflowId,
    WorkflowVersionId,
    RequesterId,
    Status,
    WorkflowStatus,
    Data,
    WorkflowData,
    PendingEnd,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
}

/// The last ticket number given out per company.
#[derive(Iden, Clone, Copy)]
pub enum TicketCounters {
    Table,
    CompanyId,
    LastNumber,
}

/// Submissions by idempotency key: a repeated key answers with the first ticket.
#[derive(Iden, Clone, Copy)]
pub enum IdempotencyKeys {
    Table,
    CompanyId,
    UserId,
    Key,
    TicketId,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum TaskInstances {
    Table,
    Id,
    CompanyId,
    TicketId,
    TaskKey,
    Name,
    TaskType,
    Status,
    AssignedTo,
    AssignedAt,
    AllowedUsers,
    InputData,
    OutputData,
    CallbackTokenHash,
    Error,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum WorkflowErrors {
    Table,
    Id,
    CompanyId,
    TicketId,
    TaskId,
    ErrorType,
    ErrorStatus,
    Message,
    /// The engine step to retry: `{"from": task key or null, "task_id": ...}`.
    Step,
    CreatedAt,
    UpdatedAt,
    ReviewedBy,
    ResolvedBy,
}

#[derive(Iden, Clone, Copy)]
pub enum TicketComments {
    Table,
    Id,
    CompanyId,
    TicketId,
    AuthorId,
    Body,
    Internal,
    CreatedAt,
}

/// Attachments, sealed (encrypted and authenticated) at rest.
#[derive(Iden, Clone, Copy)]
pub enum Attachments {
    Table,
    Id,
    CompanyId,
    TicketId,
    UploadedBy,
    FileName,
    ContentType,
    Size,
    Sealed,
    CreatedAt,
}

/// Support conversations between a requester and the company's agents.
#[derive(Iden, Clone, Copy)]
pub enum Conversations {
    Table,
    Id,
    CompanyId,
    RequesterId,
    Subject,
    Reference,
    TicketId,
    OpenKey,
    Status,
    AssigneeId,
    AssignedAt,
    LastSeq,
    LastMessageAt,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
    TeamId,
    ChannelId,
    ContactId,
    ExternalThread,
}

/// A conversation's messages, each chained to the one before by its hash.
#[derive(Iden, Clone, Copy)]
pub enum ConversationMessages {
    Table,
    Id,
    CompanyId,
    ConversationId,
    Seq,
    AuthorId,
    Body,
    Internal,
    BodyHash,
    PrevHash,
    Hash,
    Version,
    EditedAt,
    DeletedAt,
    CreatedAt,
    TemplateId,
    Answers,
    Sealed,
    ExternalId,
    ExternalFiles,
    Delivery,
    DeliveryError,
}

/// The earlier bodies of edited or deleted messages.
#[derive(Iden, Clone, Copy)]
pub enum MessageVersions {
    Table,
    MessageId,
    CompanyId,
    Version,
    Body,
    EditedBy,
    ReplacedAt,
    Sealed,
}

/// How far each participant has read a conversation.
#[derive(Iden, Clone, Copy)]
pub enum ConversationReads {
    Table,
    ConversationId,
    UserId,
    CompanyId,
    UpTo,
    UpdatedAt,
}

/// Question templates: a text agents send and the form of the requester's answer. Global
/// ones have no company.
#[derive(Iden, Clone, Copy)]
pub enum QuestionTemplates {
    Table,
    Id,
    CompanyId,
    Title,
    Text,
    Schema,
    CreatedAt,
    UpdatedAt,
}

/// A company's canned replies, inserted into a reply by their shortcut.
#[derive(Iden, Clone, Copy)]
pub enum CannedReplies {
    Table,
    Id,
    CompanyId,
    Shortcut,
    Title,
    Body,
    SortOrder,
    CreatedAt,
    CreatedBy,
    UpdatedAt,
    UpdatedBy,
}

/// A company's rules for its support chat (absent: the defaults).
#[derive(Iden, Clone, Copy)]
pub enum ChatSettings {
    Table,
    CompanyId,
    MaxMessageChars,
    MaxAttachmentBytes,
    RequesterAttachments,
    Assignment,
    Sealed,
    MessagesPerMinute,
    UpdatedAt,
}

/// Files sent with a conversation's message, sealed at rest, with their SHA-256.
#[derive(Iden, Clone, Copy)]
pub enum MessageAttachments {
    Table,
    Id,
    CompanyId,
    ConversationId,
    MessageId,
    FileName,
    ContentType,
    Size,
    Sha256,
    Sealed,
    CreatedAt,
}

/// Where a company's conversations arrive from besides the built-in web chat: API
/// channels (an external chat system posting signed webhooks) and test channels.
#[derive(Iden, Clone, Copy)]
pub enum Channels {
    Table,
    Id,
    CompanyId,
    PublicId,
    Slug,
    Name,
    Kind,
    Verification,
    SignatureHeader,
    InboundSecret,
    OutboundUrl,
    SigningSecret,
    PreviousSigningSecret,
    PreviousUntil,
    Active,
    PausedReason,
    ConsecutiveFailures,
    BreakerUntil,
    LastSuccessAt,
    LastError,
    LastErrorAt,
    CreatedAt,
    UpdatedAt,
}

/// An external identity on a channel, backed by a user of kind `contact` (never logs in).
#[derive(Iden, Clone, Copy)]
pub enum Contacts {
    Table,
    Id,
    CompanyId,
    ChannelId,
    ExternalId,
    DisplayName,
    Metadata,
    UserId,
    CreatedAt,
    UpdatedAt,
}

/// Every accepted inbound webhook as it arrived (secrets redacted from its headers).
#[derive(Iden, Clone, Copy)]
pub enum InboundEvents {
    Table,
    Id,
    CompanyId,
    ChannelId,
    ExternalMessageId,
    Kind,
    Headers,
    Body,
    MessageId,
    ReceivedAt,
}

/// A company's subscriptions of an endpoint to event kinds.
#[derive(Iden, Clone, Copy)]
pub enum WebhookSubscriptions {
    Table,
    Id,
    CompanyId,
    Url,
    Description,
    Kinds,
    SigningSecret,
    PreviousSigningSecret,
    PreviousUntil,
    Active,
    PausedReason,
    ConsecutiveFailures,
    BreakerUntil,
    LastSuccessAt,
    LastError,
    LastErrorAt,
    CreatedAt,
    UpdatedAt,
}

/// One thing to deliver to one endpoint: a reply to a channel or an event to a
/// subscription; retried by a job until delivered or dead.
#[derive(Iden, Clone, Copy)]
pub enum Deliveries {
    Table,
    Id,
    CompanyId,
    ChannelId,
    SubscriptionId,
    MessageId,
    EventId,
    WebhookId,
    Kind,
    Payload,
    State,
    Attempts,
    LastStatus,
    LastError,
    NextAttemptAt,
    JobId,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

/// Every attempt at a delivery.
#[derive(Iden, Clone, Copy)]
pub enum DeliveryAttempts {
    Table,
    Id,
    DeliveryId,
    CompanyId,
    ChannelId,
    SubscriptionId,
    At,
    Status,
    LatencyMs,
    Error,
    Response,
}

/// Named positions in the event log of the relays that pass it on (the NATS publisher,
/// outbound event webhooks): the last event each has handled.
#[derive(Iden, Clone, Copy)]
pub enum RelayCursors {
    Table,
    Name,
    LastEventId,
    UpdatedAt,
}

/// The error log: one row per 5xx answer, for platform staff (no foreign keys: an entry
/// outlives the company or user it names until retention removes it).
#[derive(Iden, Clone, Copy)]
pub enum ErrorLog {
    Table,
    Id,
    CreatedAt,
    Method,
    Route,
    Status,
    RequestId,
    CompanyId,
    UserId,
    Kind,
    Summary,
}

/// What a person was told: one row per person and event, grouped on read by its subject.
#[derive(Iden, Clone, Copy)]
pub enum Notifications {
    Table,
    Id,
    CompanyId,
    UserId,
    Kind,
    Subject,
    SubjectLabel,
    Title,
    Body,
    Link,
    EventId,
    ActorId,
    InApp,
    Email,
    CreatedAt,
    ReadAt,
    SnoozedUntil,
    EmailedAt,
}

/// A pending e-mail digest per person and subject: its job is enqueued once, when the row
/// is first written, so a burst of events makes one mail.
#[derive(Iden, Clone, Copy)]
pub enum NotificationDigests {
    Table,
    UserId,
    Subject,
    CompanyId,
    DueAt,
}

/// A company's defaults per notification type and channel (absent: the built-in ones).
#[derive(Iden, Clone, Copy)]
pub enum NotificationDefaults {
    Table,
    CompanyId,
    Kind,
    InApp,
    Email,
    WebPush,
    Mobile,
    UpdatedAt,
}

/// A person's choices per notification type and channel (absent: the company's default).
#[derive(Iden, Clone, Copy)]
pub enum NotificationPreferences {
    Table,
    UserId,
    CompanyId,
    Kind,
    InApp,
    Email,
    WebPush,
    Mobile,
    UpdatedAt,
}

/// A person's quiet hours, in minutes after midnight of their time zone.
#[derive(Iden, Clone, Copy)]
pub enum NotificationSettings {
    Table,
    UserId,
    CompanyId,
    QuietStart,
    QuietEnd,
    TimeZone,
    UpdatedAt,
}

/// Who follows a ticket, or chose not to (`following` false mutes someone involved).
#[derive(Iden, Clone, Copy)]
pub enum TicketFollows {
    Table,
    TicketId,
    UserId,
    CompanyId,
    Following,
    CreatedAt,
}

/// A browser's Web Push subscription (RFC 8030): where to push and the keys to encrypt for.
#[derive(Iden, Clone, Copy)]
pub enum PushSubscriptions {
    Table,
    Id,
    CompanyId,
    UserId,
    Endpoint,
    P256dh,
    Auth,
    Name,
    CreatedAt,
    LastSuccessAt,
    LastError,
    LastErrorAt,
}

/// A phone or tablet registered for mobile push (FCM).
#[derive(Iden, Clone, Copy)]
pub enum Devices {
    Table,
    Id,
    CompanyId,
    UserId,
    Platform,
    Token,
    Name,
    CreatedAt,
    LastSuccessAt,
    LastError,
    LastErrorAt,
}
