//! Migration 3: workflow design: design objects, published workflow versions.

use sea_query::{ColumnDef, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
    let objects = Table::create()
        .table(DesignObjects::Table)
        .col(uuid_pk(DesignObjects::Id))
        .col(ColumnDef::new(DesignObjects::CompanyId).uuid().not_null())
        .col(ColumnDef::new(DesignObjects::WorkflowId).uuid().not_null())
        .col(text(DesignObjects::Kind))
        .col(text(DesignObjects::Key))
        .col(text(DesignObjects::Title))
        .col(text(DesignObjects::Status))
        .col(int(DesignObjects::Version))
        .col(json(DesignObjects::Spec))
        .col(ColumnDef::new(DesignObjects::CreatedBy).uuid().not_null())
        .col(timestamp(DesignObjects::CreatedAt))
        .col(timestamp(DesignObjects::UpdatedAt))
        .foreign_key(&mut company_fk(
            DesignObjects::Table,
            DesignObjects::CompanyId,
        ))
        .to_owned();
    let versions = Table::create()
        .table(WorkflowVersions::Table)
        .col(uuid_pk(WorkflowVersions::Id))
        .col(
            ColumnDef::new(WorkflowVersions::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(WorkflowVersions::WorkflowId)
                .uuid()
                .not_null(),
        )
        .col(int(WorkflowVersions::Version))
        .col(text(WorkflowVersions::Status))
        .col(json(WorkflowVersions::Snapshot))
        .col(
            ColumnDef::new(WorkflowVersions::PublishedBy)
                .uuid()
                .not_null(),
        )
        .col(timestamp(WorkflowVersions::PublishedAt))
        .col(timestamp(WorkflowVersions::UpdatedAt))
        .foreign_key(&mut company_fk(
            WorkflowVersions::Table,
            WorkflowVersions::CompanyId,
        ))
        .to_owned();
    vec![
        render(backend, &objects),
        render(
            backend,
            &unique(
                "design_objects_workflow_id_kind_key_key",
                DesignObjects::Table,
                &["workflow_id", "kind", "key"],
            ),
        ),
        render(
            backend,
            &index(
                "design_objects_company_id_kind_idx",
                DesignObjects::Table,
                &["company_id", "kind"],
            ),
        ),
        render(backend, &versions),
        render(
            backend,
            &unique(
                "workflow_versions_workflow_id_version_key",
                WorkflowVersions::Table,
                &["workflow_id", "version"],
            ),
        ),
    ]
}
