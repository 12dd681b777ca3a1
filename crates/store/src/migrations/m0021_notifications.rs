//! Migration 21: notifications — what each person was told, the pending e-mail digests,
//! preferences (company defaults and each person's), quiet hours, ticket follows, Web Push
//! subscriptions and mobile devices; the mail outbox learns HTML bodies and extra headers
//! (the unsubscribe headers of RFC 8058).

use sea_query::{ColumnDef, Expr, Index, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

fn int_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).integer().null().to_owned()
}

fn channel_flags<T: sea_query::IntoIden + Copy>(
    table: &mut sea_query::TableCreateStatement,
    columns: [T; 4],
) {
    for column in columns {
        table.col(boolean(column));
    }
}

pub(super) fn up(backend: Backend) -> Vec<String> {
    let notifications = Table::create()
        .table(Notifications::Table)
        .col(uuid_pk(Notifications::Id))
        .col(ColumnDef::new(Notifications::CompanyId).uuid().not_null())
        .col(ColumnDef::new(Notifications::UserId).uuid().not_null())
        .col(text(Notifications::Kind))
        .col(text(Notifications::Subject))
        .col(text(Notifications::SubjectLabel))
        .col(text(Notifications::Title))
        .col(text_null(Notifications::Body))
        .col(text(Notifications::Link))
        .col(
            ColumnDef::new(Notifications::EventId)
                .big_integer()
                .not_null(),
        )
        .col(uuid_null(Notifications::ActorId))
        .col(boolean(Notifications::InApp))
        .col(boolean(Notifications::Email))
        .col(timestamp(Notifications::CreatedAt))
        .col(timestamp_null(Notifications::ReadAt))
        .col(timestamp_null(Notifications::SnoozedUntil))
        .col(timestamp_null(Notifications::EmailedAt))
        .foreign_key(&mut company_fk(
            Notifications::Table,
            Notifications::CompanyId,
        ))
        .foreign_key(&mut fk(
            Notifications::Table,
            Notifications::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let digests = Table::create()
        .table(NotificationDigests::Table)
        .col(
            ColumnDef::new(NotificationDigests::UserId)
                .uuid()
                .not_null(),
        )
        .col(text(NotificationDigests::Subject))
        .col(
            ColumnDef::new(NotificationDigests::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(timestamp(NotificationDigests::DueAt))
        .primary_key(
            Index::create()
                .col(NotificationDigests::UserId)
                .col(NotificationDigests::Subject),
        )
        .foreign_key(&mut fk(
            NotificationDigests::Table,
            NotificationDigests::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let mut defaults = Table::create();
    defaults
        .table(NotificationDefaults::Table)
        .col(
            ColumnDef::new(NotificationDefaults::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(text(NotificationDefaults::Kind));
    channel_flags(
        &mut defaults,
        [
            NotificationDefaults::InApp,
            NotificationDefaults::Email,
            NotificationDefaults::WebPush,
            NotificationDefaults::Mobile,
        ],
    );
    defaults
        .col(timestamp(NotificationDefaults::UpdatedAt))
        .primary_key(
            Index::create()
                .col(NotificationDefaults::CompanyId)
                .col(NotificationDefaults::Kind),
        )
        .foreign_key(&mut company_fk(
            NotificationDefaults::Table,
            NotificationDefaults::CompanyId,
        ));
    let mut preferences = Table::create();
    preferences
        .table(NotificationPreferences::Table)
        .col(
            ColumnDef::new(NotificationPreferences::UserId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(NotificationPreferences::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(text(NotificationPreferences::Kind));
    channel_flags(
        &mut preferences,
        [
            NotificationPreferences::InApp,
            NotificationPreferences::Email,
            NotificationPreferences::WebPush,
            NotificationPreferences::Mobile,
        ],
    );
    preferences
        .col(timestamp(NotificationPreferences::UpdatedAt))
        .primary_key(
            Index::create()
                .col(NotificationPreferences::UserId)
                .col(NotificationPreferences::Kind),
        )
        .foreign_key(&mut fk(
            NotificationPreferences::Table,
            NotificationPreferences::UserId,
            Users::Table,
            Users::Id,
        ));
    let settings = Table::create()
        .table(NotificationSettings::Table)
        .col(uuid_pk(NotificationSettings::UserId))
        .col(
            ColumnDef::new(NotificationSettings::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(int_null(NotificationSettings::QuietStart))
        .col(int_null(NotificationSettings::QuietEnd))
        .col(text_null(NotificationSettings::TimeZone))
        .col(timestamp(NotificationSettings::UpdatedAt))
        .foreign_key(&mut fk(
            NotificationSettings::Table,
            NotificationSettings::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let follows = Table::create()
        .table(TicketFollows::Table)
        .col(ColumnDef::new(TicketFollows::TicketId).uuid().not_null())
        .col(ColumnDef::new(TicketFollows::UserId).uuid().not_null())
        .col(ColumnDef::new(TicketFollows::CompanyId).uuid().not_null())
        .col(boolean(TicketFollows::Following))
        .col(timestamp(TicketFollows::CreatedAt))
        .primary_key(
            Index::create()
                .col(TicketFollows::TicketId)
                .col(TicketFollows::UserId),
        )
        .foreign_key(&mut fk(
            TicketFollows::Table,
            TicketFollows::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .foreign_key(&mut fk(
            TicketFollows::Table,
            TicketFollows::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let push = Table::create()
        .table(PushSubscriptions::Table)
        .col(uuid_pk(PushSubscriptions::Id))
        .col(
            ColumnDef::new(PushSubscriptions::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(ColumnDef::new(PushSubscriptions::UserId).uuid().not_null())
        .col(text(PushSubscriptions::Endpoint))
        .col(text(PushSubscriptions::P256dh))
        .col(text(PushSubscriptions::Auth))
        .col(text_null(PushSubscriptions::Name))
        .col(timestamp(PushSubscriptions::CreatedAt))
        .col(timestamp_null(PushSubscriptions::LastSuccessAt))
        .col(text_null(PushSubscriptions::LastError))
        .col(timestamp_null(PushSubscriptions::LastErrorAt))
        .foreign_key(&mut fk(
            PushSubscriptions::Table,
            PushSubscriptions::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let devices = Table::create()
        .table(Devices::Table)
        .col(uuid_pk(Devices::Id))
        .col(ColumnDef::new(Devices::CompanyId).uuid().not_null())
        .col(ColumnDef::new(Devices::UserId).uuid().not_null())
        .col(text(Devices::Platform).check(Expr::cust("platform IN ('android', 'ios', 'web')")))
        .col(text(Devices::Token))
        .col(text_null(Devices::Name))
        .col(timestamp(Devices::CreatedAt))
        .col(timestamp_null(Devices::LastSuccessAt))
        .col(text_null(Devices::LastError))
        .col(timestamp_null(Devices::LastErrorAt))
        .foreign_key(&mut fk(
            Devices::Table,
            Devices::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let mut statements = vec![
        render(backend, &notifications),
        // One notification per person and event: the consumer may read an event twice
        // (a crash before its cursor moved) and must not tell anyone twice.
        render(
            backend,
            &unique(
                "notifications_user_id_event_id_key",
                Notifications::Table,
                &["user_id", "event_id"],
            ),
        ),
        render(
            backend,
            &index(
                "notifications_user_created",
                Notifications::Table,
                &["user_id", "created_at"],
            ),
        ),
        // The bell's count: a person's unread notifications.
        render(
            backend,
            &index(
                "notifications_user_unread",
                Notifications::Table,
                &["user_id", "read_at"],
            ),
        ),
        render(
            backend,
            &index(
                "notifications_user_subject",
                Notifications::Table,
                &["user_id", "subject"],
            ),
        ),
        render(backend, &digests),
        render(backend, &defaults.to_owned()),
        render(backend, &preferences.to_owned()),
        render(backend, &settings),
        render(backend, &follows),
        render(
            backend,
            &index("ticket_follows_user", TicketFollows::Table, &["user_id"]),
        ),
        render(backend, &push),
        // A browser's endpoint is one subscription: subscribing it again (another person
        // on a shared computer) takes it over.
        render(
            backend,
            &unique(
                "push_subscriptions_endpoint_key",
                PushSubscriptions::Table,
                &["endpoint"],
            ),
        ),
        render(
            backend,
            &index(
                "push_subscriptions_user",
                PushSubscriptions::Table,
                &["user_id"],
            ),
        ),
        render(backend, &devices),
        render(
            backend,
            &unique("devices_token_key", Devices::Table, &["token"]),
        ),
        render(
            backend,
            &index("devices_user", Devices::Table, &["user_id"]),
        ),
    ];
    for column in [
        ColumnDef::new(MailOutbox::HtmlBody)
            .text()
            .null()
            .to_owned(),
        ColumnDef::new(MailOutbox::Headers).text().null().to_owned(),
    ] {
        statements.push(render(
            backend,
            &Table::alter()
                .table(MailOutbox::Table)
                .add_column(column)
                .to_owned(),
        ));
    }
    statements
}
