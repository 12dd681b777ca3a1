//! Migration 17: channels (API and test) that conversations arrive through, their contacts,
//! the raw inbound webhooks, outbound deliveries with every attempt, and event webhook
//! subscriptions.

use sea_query::{ColumnDef, Expr, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

fn blob(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).blob().not_null().to_owned()
}

fn blob_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).blob().null().to_owned()
}

fn int_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).integer().null().to_owned()
}

pub(super) fn up(backend: Backend) -> Vec<String> {
    let channels = Table::create()
        .table(Channels::Table)
        .col(uuid_pk(Channels::Id))
        .col(ColumnDef::new(Channels::CompanyId).uuid().not_null())
        .col(text(Channels::PublicId))
        .col(text(Channels::Slug))
        .col(text(Channels::Name))
        .col(text(Channels::Kind).check(Expr::cust("kind IN ('api', 'test')")))
        .col(text(Channels::Verification).check(Expr::cust(
            "verification IN ('standard_webhooks', 'hmac_sha256', 'slack', 'telegram', 'shared_secret')",
        )))
        .col(text_null(Channels::SignatureHeader))
        .col(blob(Channels::InboundSecret))
        .col(text_null(Channels::OutboundUrl))
        .col(blob(Channels::SigningSecret))
        .col(blob_null(Channels::PreviousSigningSecret))
        .col(timestamp_null(Channels::PreviousUntil))
        .col(boolean(Channels::Active))
        .col(text_null(Channels::PausedReason))
        .col(int(Channels::ConsecutiveFailures))
        .col(timestamp_null(Channels::BreakerUntil))
        .col(timestamp_null(Channels::LastSuccessAt))
        .col(text_null(Channels::LastError))
        .col(timestamp_null(Channels::LastErrorAt))
        .col(timestamp(Channels::CreatedAt))
        .col(timestamp(Channels::UpdatedAt))
        .foreign_key(&mut company_fk(Channels::Table, Channels::CompanyId))
        .to_owned();
    let contacts = Table::create()
        .table(Contacts::Table)
        .col(uuid_pk(Contacts::Id))
        .col(ColumnDef::new(Contacts::CompanyId).uuid().not_null())
        .col(ColumnDef::new(Contacts::ChannelId).uuid().not_null())
        .col(text(Contacts::ExternalId))
        .col(text_null(Contacts::DisplayName))
        .col(json(Contacts::Metadata))
        .col(ColumnDef::new(Contacts::UserId).uuid().not_null())
        .col(timestamp(Contacts::CreatedAt))
        .col(timestamp(Contacts::UpdatedAt))
        .foreign_key(&mut company_fk(Contacts::Table, Contacts::CompanyId))
        .foreign_key(&mut fk(
            Contacts::Table,
            Contacts::ChannelId,
            Channels::Table,
            Channels::Id,
        ))
        .foreign_key(&mut fk(
            Contacts::Table,
            Contacts::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let inbound = Table::create()
        .table(InboundEvents::Table)
        .col(uuid_pk(InboundEvents::Id))
        .col(ColumnDef::new(InboundEvents::CompanyId).uuid().not_null())
        .col(ColumnDef::new(InboundEvents::ChannelId).uuid().not_null())
        .col(text_null(InboundEvents::ExternalMessageId))
        .col(text(InboundEvents::Kind))
        .col(json(InboundEvents::Headers))
        .col(text(InboundEvents::Body))
        .col(uuid_null(InboundEvents::MessageId))
        .col(timestamp(InboundEvents::ReceivedAt))
        .foreign_key(&mut company_fk(
            InboundEvents::Table,
            InboundEvents::CompanyId,
        ))
        .foreign_key(&mut fk(
            InboundEvents::Table,
            InboundEvents::ChannelId,
            Channels::Table,
            Channels::Id,
        ))
        .to_owned();
    let subscriptions = Table::create()
        .table(WebhookSubscriptions::Table)
        .col(uuid_pk(WebhookSubscriptions::Id))
        .col(
            ColumnDef::new(WebhookSubscriptions::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(text(WebhookSubscriptions::Url))
        .col(text_null(WebhookSubscriptions::Description))
        .col(json(WebhookSubscriptions::Kinds))
        .col(blob(WebhookSubscriptions::SigningSecret))
        .col(blob_null(WebhookSubscriptions::PreviousSigningSecret))
        .col(timestamp_null(WebhookSubscriptions::PreviousUntil))
        .col(boolean(WebhookSubscriptions::Active))
        .col(text_null(WebhookSubscriptions::PausedReason))
        .col(int(WebhookSubscriptions::ConsecutiveFailures))
        .col(timestamp_null(WebhookSubscriptions::BreakerUntil))
        .col(timestamp_null(WebhookSubscriptions::LastSuccessAt))
        .col(text_null(WebhookSubscriptions::LastError))
        .col(timestamp_null(WebhookSubscriptions::LastErrorAt))
        .col(timestamp(WebhookSubscriptions::CreatedAt))
        .col(timestamp(WebhookSubscriptions::UpdatedAt))
        .foreign_key(&mut company_fk(
            WebhookSubscriptions::Table,
            WebhookSubscriptions::CompanyId,
        ))
        .to_owned();
    let deliveries = Table::create()
        .table(Deliveries::Table)
        .col(uuid_pk(Deliveries::Id))
        .col(ColumnDef::new(Deliveries::CompanyId).uuid().not_null())
        .col(uuid_null(Deliveries::ChannelId))
        .col(uuid_null(Deliveries::SubscriptionId))
        .col(uuid_null(Deliveries::MessageId))
        .col(ColumnDef::new(Deliveries::EventId).big_integer().null())
        .col(text(Deliveries::WebhookId))
        .col(text(Deliveries::Kind))
        .col(json(Deliveries::Payload))
        .col(text(Deliveries::State).check(Expr::cust("state IN ('pending', 'delivered', 'dead')")))
        .col(int(Deliveries::Attempts))
        .col(int_null(Deliveries::LastStatus))
        .col(text_null(Deliveries::LastError))
        .col(timestamp_null(Deliveries::NextAttemptAt))
        .col(uuid_null(Deliveries::JobId))
        .col(timestamp(Deliveries::CreatedAt))
        .col(timestamp(Deliveries::UpdatedAt))
        .col(timestamp_null(Deliveries::DeliveredAt))
        .foreign_key(&mut company_fk(Deliveries::Table, Deliveries::CompanyId))
        .to_owned();
    let attempts = Table::create()
        .table(DeliveryAttempts::Table)
        .col(uuid_pk(DeliveryAttempts::Id))
        .col(
            ColumnDef::new(DeliveryAttempts::DeliveryId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(DeliveryAttempts::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(uuid_null(DeliveryAttempts::ChannelId))
        .col(uuid_null(DeliveryAttempts::SubscriptionId))
        .col(timestamp(DeliveryAttempts::At))
        .col(int_null(DeliveryAttempts::Status))
        .col(int(DeliveryAttempts::LatencyMs))
        .col(text_null(DeliveryAttempts::Error))
        .col(text_null(DeliveryAttempts::Response))
        .foreign_key(&mut fk(
            DeliveryAttempts::Table,
            DeliveryAttempts::DeliveryId,
            Deliveries::Table,
            Deliveries::Id,
        ))
        .to_owned();
    let mut statements = vec![
        render(backend, &channels),
        render(
            backend,
            &unique("channels_public_id_key", Channels::Table, &["public_id"]),
        ),
        render(
            backend,
            &unique(
                "channels_company_id_slug_key",
                Channels::Table,
                &["company_id", "slug"],
            ),
        ),
        render(backend, &contacts),
        render(
            backend,
            &unique(
                "contacts_channel_id_external_id_key",
                Contacts::Table,
                &["channel_id", "external_id"],
            ),
        ),
        render(
            backend,
            &index(
                "contacts_company_id_user_id_idx",
                Contacts::Table,
                &["company_id", "user_id"],
            ),
        ),
        render(backend, &inbound),
        // The dedupe: one accepted webhook per provider message id and channel.
        render(
            backend,
            &unique(
                "inbound_events_channel_id_external_message_id_key",
                InboundEvents::Table,
                &["channel_id", "external_message_id"],
            ),
        ),
        render(
            backend,
            &index(
                "inbound_events_company_id_channel_id_received_at_idx",
                InboundEvents::Table,
                &["company_id", "channel_id", "received_at"],
            ),
        ),
        render(backend, &subscriptions),
        render(
            backend,
            &index(
                "webhook_subscriptions_company_id_idx",
                WebhookSubscriptions::Table,
                &["company_id"],
            ),
        ),
        render(backend, &deliveries),
        render(
            backend,
            &index(
                "deliveries_company_id_channel_id_state_created_at_idx",
                Deliveries::Table,
                &["company_id", "channel_id", "state", "created_at"],
            ),
        ),
        render(
            backend,
            &index(
                "deliveries_company_id_subscription_id_state_created_at_idx",
                Deliveries::Table,
                &["company_id", "subscription_id", "state", "created_at"],
            ),
        ),
        render(
            backend,
            &index(
                "deliveries_state_next_attempt_at_idx",
                Deliveries::Table,
                &["state", "next_attempt_at"],
            ),
        ),
        render(
            backend,
            &index(
                "deliveries_company_id_message_id_idx",
                Deliveries::Table,
                &["company_id", "message_id"],
            ),
        ),
        render(backend, &attempts),
        render(
            backend,
            &index(
                "delivery_attempts_delivery_id_at_idx",
                DeliveryAttempts::Table,
                &["delivery_id", "at"],
            ),
        ),
        render(
            backend,
            &index(
                "delivery_attempts_company_id_channel_id_at_idx",
                DeliveryAttempts::Table,
                &["company_id", "channel_id", "at"],
            ),
        ),
        render(
            backend,
            &index(
                "delivery_attempts_company_id_subscription_id_at_idx",
                DeliveryAttempts::Table,
                &["company_id", "subscription_id", "at"],
            ),
        ),
    ];
    for column in [
        uuid_null(Conversations::ChannelId),
        uuid_null(Conversations::ContactId),
        text_null(Conversations::ExternalThread),
    ] {
        statements.push(render(
            backend,
            &Table::alter()
                .table(Conversations::Table)
                .add_column(column)
                .to_owned(),
        ));
    }
    statements.push(render(
        backend,
        &unique(
            "conversations_company_id_channel_id_external_thread_key",
            Conversations::Table,
            &["company_id", "channel_id", "external_thread"],
        ),
    ));
    statements.push(render(
        backend,
        &index(
            "conversations_company_id_channel_id_last_message_at_idx",
            Conversations::Table,
            &["company_id", "channel_id", "last_message_at"],
        ),
    ));
    statements.push(render(
        backend,
        &index(
            "conversations_company_id_contact_id_idx",
            Conversations::Table,
            &["company_id", "contact_id"],
        ),
    ));
    for column in [
        text_null(ConversationMessages::ExternalId),
        ColumnDef::new(ConversationMessages::ExternalFiles)
            .json_binary()
            .null()
            .to_owned(),
        text_null(ConversationMessages::Delivery),
        text_null(ConversationMessages::DeliveryError),
    ] {
        statements.push(render(
            backend,
            &Table::alter()
                .table(ConversationMessages::Table)
                .add_column(column)
                .to_owned(),
        ));
    }
    statements
}
