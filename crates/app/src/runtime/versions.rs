//! Published workflow versions as the runtime uses them: parsed, with their schemas compiled
//! once, and cached by id because a published version never changes.

use domain::ids::{WorkflowId, WorkflowVersionId};
use std::collections::HashMap;
use std::sync::Arc;

use domain::CompanyId;
use domain::workflow::{self as wf, Problem, TicketTypeSpec};
use serde_json::Value;

use crate::design::Bundle;
use crate::{App, AppError, Result};

/// A published workflow version as the runtime uses it. Versions never change once
/// published, so they are cached by id.
pub struct Published {
    pub id: WorkflowVersionId,
    pub workflow_id: WorkflowId,
    pub version: i32,
    pub bundle: Bundle,
    pub spec: wf::WorkflowSpec,
    /// Compiled once: compiling a JSON Schema costs far more than validating with it.
    ticket_schemas: HashMap<String, wf::CompiledSchema>,
    output_schemas: HashMap<String, wf::CompiledSchema>,
}

impl std::fmt::Debug for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Published")
            .field("id", &self.id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Published {
    fn new(row: store::design::WorkflowVersion, limits: &wf::Limits) -> Result<Self> {
        let bundle: Bundle = serde_json::from_value(row.snapshot).map_err(AppError::internal)?;
        let spec = bundle.workflow_spec();
        let compile = |schema: &Value| {
            wf::CompiledSchema::compile(schema, limits).map_err(|problems| {
                AppError::internal(format!("published schema does not compile: {problems:?}"))
            })
        };
        let mut ticket_schemas = HashMap::new();
        for t in &bundle.ticket_types {
            ticket_schemas.insert(t.key.clone(), compile(&t.fields)?);
        }
        let mut output_schemas = HashMap::new();
        for t in &spec.tasks {
            if let Some(schema) = &t.output_schema {
                output_schemas.insert(t.key.clone(), compile(schema)?);
            }
        }
        Ok(Self {
            id: row.id,
            workflow_id: row.workflow_id,
            version: row.version,
            bundle,
            spec,
            ticket_schemas,
            output_schemas,
        })
    }

    /// Every way `data` breaks the ticket type's schema.
    pub fn check_ticket_data(&self, key: &str, data: &Value) -> Vec<Problem> {
        let mut problems = self
            .ticket_type(key)
            .map(|t| wf::undeclared_fields(&t.fields, data))
            .unwrap_or_default();
        if let Some(schema) = self.ticket_schemas.get(key) {
            problems.extend(schema.validate(data));
        }
        problems
    }

    /// The task's compiled output schema.
    pub fn output_schema(&self, key: &str) -> Option<&wf::CompiledSchema> {
        self.output_schemas.get(key)
    }

    pub fn ticket_type(&self, key: &str) -> Option<&TicketTypeSpec> {
        self.bundle.ticket_types.iter().find(|t| t.key == key)
    }

    pub fn task(&self, key: &str) -> Option<&wf::TaskSpec> {
        self.spec.tasks.iter().find(|t| t.key == key)
    }
}

/// A published version by id, from the cache when it has been read before.
pub(crate) async fn published(
    app: &App,
    company: CompanyId,
    id: WorkflowVersionId,
) -> Result<Arc<Published>> {
    if let Some(found) = app.cached_version(id) {
        if found.0 == company {
            return Ok(found.1);
        }
        return Err(AppError::NotFound);
    }
    let row = store::design::version_by_id(app.db(), company, id).await?;
    let limits = crate::design::limits(app);
    let published = Arc::new(
        tokio::task::spawn_blocking(move || Published::new(row, &limits))
            .await
            .map_err(AppError::internal)??,
    );
    app.cache_version(company, published.clone());
    Ok(published)
}
