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
    TokensNotBefore,
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
