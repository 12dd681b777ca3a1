//! Workflow design rules: what a workflow, its tasks, transitions and ticket types may look
//! like before a company can publish them. Everything here is pure so the same checks run
//! when a designer saves, when a workflow is published and when a design is imported.
//!
//! A design arrives as plain data ([`WorkflowSpec`], [`TicketTypeSpec`]) whose JSON form is
//! also the import/export format. [`validate_workflow`] reports every problem at once as
//! [`Problem`]s located by JSON pointers into that JSON form. Everything a hostile upload
//! controls is bounded by [`Limits`], checked before any recursive or expensive work, so an
//! oversized design is a quick error rather than a slow path.
//!
//! At run time the same spec drives the engine: [`step`] decides what a ticket's submission or
//! a completed task leads to, and [`apply_output`] merges a task's output into the workflow data.

mod condition;
mod definition;
mod engine;
mod graph;
pub mod order;
mod problem;
mod render;
mod schema;
pub mod summary;
mod transform;
mod validate;

pub use condition::Condition;
pub use definition::{
    AssignmentStrategy, ExtRef, StatusChangeError, TaskSpec, TaskType, TicketTypeSpec,
    TransitionSpec, UnknownWorkflowStatus, WorkflowSpec, WorkflowStatus,
};
pub use engine::{
    Ending, EndingChoice, EngineError, FieldChange, Merged, NewTask, RunState, Step, TaskStatus,
    UnknownVariant, WorkflowErrorStatus, WorkflowErrorType, WorkflowRunStatus, action_body,
    action_output, apply_action_response, apply_checked_output, apply_output, end_after, ending,
    is_stalled, step, task_input,
};
pub use problem::Problem;
pub use render::{Progress, to_mermaid, to_svg, to_svg_progress};
pub use schema::{CompiledSchema, check_schema, top_level_fields, undeclared_fields, validate};
pub use transform::Transform;
pub use validate::{
    check_task, check_ticket_type, check_transition, check_workflow_header, validate_workflow,
};

/// Upper bounds on everything a designer (or an attacker posing as one) controls.
///
/// Depths count nesting levels of JSON values: the document itself is level 1, so
/// `{"a": {"b": 1}}` is 3 levels deep. Every `$and`/`$or` level of a condition uses two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Smallest `timeout_seconds` an action task may have.
    pub min_timeout_seconds: u32,
    /// Largest `timeout_seconds` an action task may have.
    pub max_timeout_seconds: u32,
    pub max_tasks: usize,
    pub max_transitions: usize,
    pub max_ext_refs: usize,
    /// Ticket types starting one workflow.
    pub max_ticket_types: usize,
    /// Nesting depth of one JSON Schema document.
    pub max_schema_depth: usize,
    /// JSON values in one JSON Schema document.
    pub max_schema_nodes: usize,
    /// Entries of one `properties` keyword.
    pub max_schema_properties: usize,
    /// Nesting depth of one condition.
    pub max_condition_depth: usize,
    /// JSON values in one condition.
    pub max_condition_nodes: usize,
    /// Characters of one JSONPath expression or dotted field path.
    pub max_jsonpath_len: usize,
    /// Nesting of brackets and parentheses in one JSONPath expression: the parser's time
    /// doubles with each nested filter, so this keeps the worst case around a millisecond.
    pub max_jsonpath_depth: usize,
    /// Entries of one input or output transform.
    pub max_transform_entries: usize,
    /// Characters of keys, end statuses, role names and transform keys.
    pub max_name_len: usize,
    /// Characters of titles, task names and ext-ref labels.
    pub max_title_len: usize,
    /// Characters of descriptions.
    pub max_description_len: usize,
    /// Characters of action URLs and ext-ref URIs.
    pub max_url_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            min_timeout_seconds: 1,
            max_timeout_seconds: 300,
            max_tasks: 100,
            max_transitions: 400,
            max_ext_refs: 20,
            max_ticket_types: 50,
            max_schema_depth: 32,
            max_schema_nodes: 5_000,
            max_schema_properties: 200,
            max_condition_depth: 16,
            max_condition_nodes: 256,
            max_jsonpath_len: 256,
            max_jsonpath_depth: 4,
            max_transform_entries: 64,
            max_name_len: 64,
            max_title_len: 200,
            max_description_len: 10_000,
            max_url_len: 2_048,
        }
    }
}
