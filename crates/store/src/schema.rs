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
