//! Migration 2: identity: company roles, sessions, refresh tokens, login log, password resets, mail outbox, api tokens.

use sea_query::{ColumnDef, Index, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
    let company_roles = Table::create()
        .table(CompanyRoles::Table)
        .col(uuid_pk(CompanyRoles::Id))
        .col(ColumnDef::new(CompanyRoles::CompanyId).uuid().not_null())
        .col(text(CompanyRoles::Name))
        .col(text(CompanyRoles::Description))
        .col(boolean(CompanyRoles::IsDefault))
        .col(timestamp(CompanyRoles::CreatedAt))
        .col(timestamp(CompanyRoles::UpdatedAt))
        .foreign_key(&mut company_fk(
            CompanyRoles::Table,
            CompanyRoles::CompanyId,
        ))
        .to_owned();
    let user_company_roles = Table::create()
        .table(UserCompanyRoles::Table)
        .col(ColumnDef::new(UserCompanyRoles::UserId).uuid().not_null())
        .col(ColumnDef::new(UserCompanyRoles::RoleId).uuid().not_null())
        .col(
            ColumnDef::new(UserCompanyRoles::CompanyId)
                .uuid()
                .not_null(),
        )
        .primary_key(
            Index::create()
                .col(UserCompanyRoles::UserId)
                .col(UserCompanyRoles::RoleId),
        )
        .foreign_key(&mut fk(
            UserCompanyRoles::Table,
            UserCompanyRoles::UserId,
            Users::Table,
            Users::Id,
        ))
        .foreign_key(&mut fk(
            UserCompanyRoles::Table,
            UserCompanyRoles::RoleId,
            CompanyRoles::Table,
            CompanyRoles::Id,
        ))
        .to_owned();
    let sessions = Table::create()
        .table(Sessions::Table)
        .col(uuid_pk(Sessions::Id))
        .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
        .col(uuid_null(Sessions::CompanyId))
        .col(uuid_null(Sessions::ImpersonatorId))
        .col(text(Sessions::Ip))
        .col(text(Sessions::UserAgent))
        .col(timestamp(Sessions::CreatedAt))
        .col(timestamp_null(Sessions::RevokedAt))
        .foreign_key(&mut fk(
            Sessions::Table,
            Sessions::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let refresh_tokens = Table::create()
        .table(RefreshTokens::Table)
        .col(
            ColumnDef::new(RefreshTokens::TokenHash)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(RefreshTokens::SessionId).uuid().not_null())
        .col(timestamp_null(RefreshTokens::UsedAt))
        .col(timestamp(RefreshTokens::ExpiresAt))
        .col(timestamp(RefreshTokens::CreatedAt))
        .foreign_key(&mut fk(
            RefreshTokens::Table,
            RefreshTokens::SessionId,
            Sessions::Table,
            Sessions::Id,
        ))
        .to_owned();
    let login_attempts = Table::create()
        .table(LoginAttempts::Table)
        .col(uuid_pk(LoginAttempts::Id))
        .col(uuid_null(LoginAttempts::UserId))
        .col(uuid_null(LoginAttempts::CompanyId))
        .col(text(LoginAttempts::Email))
        .col(text(LoginAttempts::Ip))
        .col(text(LoginAttempts::UserAgent))
        .col(text_null(LoginAttempts::Platform))
        .col(boolean(LoginAttempts::Success))
        .col(text_null(LoginAttempts::FailureReason))
        .col(timestamp(LoginAttempts::CreatedAt))
        .to_owned();
    let password_resets = Table::create()
        .table(PasswordResets::Table)
        .col(
            ColumnDef::new(PasswordResets::TokenHash)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(PasswordResets::UserId).uuid().not_null())
        .col(timestamp(PasswordResets::ExpiresAt))
        .col(timestamp_null(PasswordResets::UsedAt))
        .col(timestamp(PasswordResets::CreatedAt))
        .foreign_key(&mut fk(
            PasswordResets::Table,
            PasswordResets::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let mail_outbox = Table::create()
        .table(MailOutbox::Table)
        .col(uuid_pk(MailOutbox::Id))
        .col(uuid_null(MailOutbox::CompanyId))
        .col(text(MailOutbox::ToEmail))
        .col(text(MailOutbox::Subject))
        .col(text(MailOutbox::Body))
        .col(text(MailOutbox::Status))
        .col(timestamp(MailOutbox::CreatedAt))
        .col(timestamp_null(MailOutbox::SentAt))
        .to_owned();
    let api_tokens = Table::create()
        .table(ApiTokens::Table)
        .col(uuid_pk(ApiTokens::Id))
        .col(ColumnDef::new(ApiTokens::CompanyId).uuid().not_null())
        .col(ColumnDef::new(ApiTokens::UserId).uuid().not_null())
        .col(text(ApiTokens::Name))
        .col(text(ApiTokens::TokenHash))
        .col(ColumnDef::new(ApiTokens::CreatedBy).uuid().not_null())
        .col(timestamp_null(ApiTokens::ExpiresAt))
        .col(timestamp_null(ApiTokens::RevokedAt))
        .col(timestamp_null(ApiTokens::LastUsedAt))
        .col(timestamp(ApiTokens::CreatedAt))
        .foreign_key(&mut company_fk(ApiTokens::Table, ApiTokens::CompanyId))
        .foreign_key(&mut fk(
            ApiTokens::Table,
            ApiTokens::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    vec![
        render(backend, &company_roles),
        render(
            backend,
            &unique(
                "company_roles_company_id_name_key",
                CompanyRoles::Table,
                &["company_id", "name"],
            ),
        ),
        render(backend, &user_company_roles),
        render(
            backend,
            &index(
                "user_company_roles_role_id_idx",
                UserCompanyRoles::Table,
                &["role_id"],
            ),
        ),
        render(backend, &sessions),
        render(
            backend,
            &index("sessions_user_id_idx", Sessions::Table, &["user_id"]),
        ),
        render(backend, &refresh_tokens),
        render(
            backend,
            &index(
                "refresh_tokens_session_id_idx",
                RefreshTokens::Table,
                &["session_id"],
            ),
        ),
        render(backend, &login_attempts),
        render(
            backend,
            &index(
                "login_attempts_email_idx",
                LoginAttempts::Table,
                &["email", "created_at"],
            ),
        ),
        render(
            backend,
            &index(
                "login_attempts_ip_idx",
                LoginAttempts::Table,
                &["ip", "created_at"],
            ),
        ),
        render(
            backend,
            &index(
                "login_attempts_user_idx",
                LoginAttempts::Table,
                &["user_id", "created_at"],
            ),
        ),
        render(backend, &password_resets),
        render(backend, &mail_outbox),
        render(backend, &api_tokens),
        render(
            backend,
            &unique(
                "api_tokens_token_hash_key",
                ApiTokens::Table,
                &["token_hash"],
            ),
        ),
        render(
            backend,
            &index(
                "api_tokens_company_id_idx",
                ApiTokens::Table,
                &["company_id"],
            ),
        ),
    ]
}
