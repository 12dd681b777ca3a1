//! How the API documents design objects. A [`DesignView`] flattens the stored spec of its
//! kind (a `Value`), so deriving cannot describe it: a flattened `Value` has no fields, and
//! `allOf` with a spec that refuses unknown fields (`additionalProperties: false`) would
//! refuse the bookkeeping beside it. Each kind gets its own schemas instead, built from the
//! spec type the kind stores: the object as answered, the body that creates one and the
//! body that changes one.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, Object, ObjectBuilder, Schema, Type,
};
use utoipa::{PartialSchema, ToSchema};

use domain::WorkflowId;
use domain::workflow::{TaskSpec, TicketTypeSpec};

use super::{DesignView, StoredTransition, WorkflowHeader};

/// A list of schemas and the names they go by, as `ToSchema::schemas` collects them.
type Schemas = Vec<(String, RefOr<Schema>)>;

/// Declares the three schemas of one kind of design object: `$answer` (a `DesignView` of
/// the kind), `$new` (the body of `POST`) and `$change` (the body of `PATCH`).
macro_rules! design_schemas {
    ($spec:ty, in_workflow: $in_workflow:literal,
     $answer:ident: $answer_doc:literal, $new:ident: $new_doc:literal, $change:ident: $change_doc:literal) => {
        #[doc = $answer_doc]
        pub struct $answer;

        impl PartialSchema for $answer {
            fn schema() -> RefOr<Schema> {
                let mut object = fields_of(<$spec as PartialSchema>::schema(), $answer_doc);
                let bookkeeping = fields_of(<DesignView as PartialSchema>::schema(), "");
                object.properties.extend(bookkeeping.properties);
                object.required.extend(bookkeeping.required);
                object.into()
            }
        }

        impl ToSchema for $answer {
            fn schemas(schemas: &mut Schemas) {
                <$spec as ToSchema>::schemas(schemas);
                <DesignView as ToSchema>::schemas(schemas);
            }
        }

        #[doc = $new_doc]
        pub struct $new;

        impl PartialSchema for $new {
            fn schema() -> RefOr<Schema> {
                creation(<$spec as PartialSchema>::schema(), $in_workflow, $new_doc)
            }
        }

        impl ToSchema for $new {
            fn schemas(schemas: &mut Schemas) {
                <$spec as ToSchema>::schemas(schemas);
            }
        }

        #[doc = $change_doc]
        pub struct $change;

        impl PartialSchema for $change {
            fn schema() -> RefOr<Schema> {
                change(<$spec as PartialSchema>::schema(), $change_doc)
            }
        }

        impl ToSchema for $change {
            fn schemas(schemas: &mut Schemas) {
                <$spec as ToSchema>::schemas(schemas);
            }
        }
    };
}

design_schemas!(
    WorkflowHeader, in_workflow: false,
    DesignWorkflow: "A workflow: its own fields in the working copy, and the bookkeeping.",
    NewDesignWorkflow: "A new workflow's own fields; its tasks, transitions and ticket types are created on their own.",
    DesignWorkflowChange: "Fields of the workflow to replace; `null` removes an optional one."
);
design_schemas!(
    TaskSpec, in_workflow: true,
    DesignTask: "A task of a workflow's working copy.",
    NewDesignTask: "A new task of the workflow `workflow_id`; without a `key`, one is made from the name.",
    DesignTaskChange: "Fields of the task to replace; `null` removes an optional one."
);
design_schemas!(
    StoredTransition, in_workflow: true,
    DesignTransition: "A transition of a workflow's working copy; it names its tasks by id.",
    NewDesignTransition: "A new transition of the workflow `workflow_id`; without a `key`, one is made from its ends.",
    DesignTransitionChange: "Fields of the transition to replace; `null` removes an optional one."
);
design_schemas!(
    TicketTypeSpec, in_workflow: true,
    DesignTicketType: "A ticket type of a workflow's working copy.",
    NewDesignTicketType: "A new ticket type of the workflow `workflow_id`; without a `key`, one is made from the title.",
    DesignTicketTypeChange: "Fields of the ticket type to replace; `null` removes an optional one."
);

/// The properties and required ones of an inline object schema (a derived struct's), in a
/// fresh object without its other keywords (`additionalProperties` among them).
fn fields_of(schema: RefOr<Schema>, description: &str) -> Object {
    let mut object = ObjectBuilder::new().schema_type(Type::Object).build();
    if !description.is_empty() {
        object.description = Some(description.to_owned());
    }
    if let RefOr::T(Schema::Object(spec)) = schema {
        object.properties = spec.properties;
        object.required = spec.required;
    }
    object
}

/// `POST` body: the kind's fields, refusing others (the spec refuses unknown fields and the
/// server's own are reserved). `key` may be left out; objects inside a workflow name it.
fn creation(spec: RefOr<Schema>, in_workflow: bool, description: &str) -> RefOr<Schema> {
    let mut object = fields_of(spec, description);
    object.required.retain(|field| field != "key");
    if in_workflow {
        object.properties.insert(
            "workflow_id".into(),
            <WorkflowId as PartialSchema>::schema(),
        );
        object.required.push("workflow_id".into());
    }
    object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    object.into()
}

/// `PATCH` body: any of the kind's fields, each also `null`; nothing else (an object never
/// leaves its workflow).
fn change(spec: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    let mut object = fields_of(spec, description);
    object.required.clear();
    for property in object.properties.values_mut() {
        let either = AnyOfBuilder::new()
            .item(property.clone())
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build();
        *property = RefOr::T(Schema::AnyOf(either));
    }
    object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    object.into()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::design::parse;
    use domain::UserId;
    use domain::ids::DesignObjectId;
    use domain::workflow::WorkflowStatus;

    fn object(schema: RefOr<Schema>) -> Object {
        match schema {
            RefOr::T(Schema::Object(object)) => object,
            _ => panic!("not an inline object"),
        }
    }

    /// Each kind's answer has every key its `DesignView` serializes and requires only keys
    /// that are always there; its bodies name the same fields.
    #[test]
    fn each_kind_is_documented_as_it_is_serialized() {
        let view = |spec: Value| DesignView {
            id: DesignObjectId::new(),
            workflow_id: WorkflowId::new(),
            spec,
            status: WorkflowStatus::Draft.as_str().into(),
            version: 1,
            created_by: UserId::new(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let header: WorkflowHeader = parse(json!({ "title": "Access" })).unwrap();
        let task: TaskSpec = parse(json!({
            "key": "check", "name": "Check", "task_type": "SYNC_ACTION",
            "action_url": "https://example.com", "input_transform": {}, "timeout_seconds": 5,
        }))
        .unwrap();
        let transition: StoredTransition = parse(json!({
            "from_task": DesignObjectId::new(), "to_status": "DONE", "condition": {},
        }))
        .unwrap();
        let ticket_type: TicketTypeSpec =
            parse(json!({ "key": "access", "title": "Access", "fields": {} })).unwrap();
        let cases = [
            (
                DesignWorkflow::schema(),
                NewDesignWorkflow::schema(),
                DesignWorkflowChange::schema(),
                serde_json::to_value(&header).unwrap(),
            ),
            (
                DesignTask::schema(),
                NewDesignTask::schema(),
                DesignTaskChange::schema(),
                serde_json::to_value(&task).unwrap(),
            ),
            (
                DesignTransition::schema(),
                NewDesignTransition::schema(),
                DesignTransitionChange::schema(),
                serde_json::to_value(&transition).unwrap(),
            ),
            (
                DesignTicketType::schema(),
                NewDesignTicketType::schema(),
                DesignTicketTypeChange::schema(),
                serde_json::to_value(&ticket_type).unwrap(),
            ),
        ];
        for (answer, new, change, spec) in cases {
            let (answer, new, change) = (object(answer), object(new), object(change));
            let json = serde_json::to_value(view(spec.clone())).unwrap();
            let keys = json.as_object().unwrap();
            for key in keys.keys() {
                assert!(
                    answer.properties.contains_key(key),
                    "{key} is not documented"
                );
            }
            for key in &answer.required {
                assert!(keys.contains_key(key), "{key} is required but absent");
            }
            // An answer holds the bookkeeping beside the kind's own (closed) fields.
            assert!(answer.additional_properties.is_none());
            for key in spec.as_object().unwrap().keys() {
                assert!(new.properties.contains_key(key), "{key} cannot be created");
                assert!(
                    change.properties.contains_key(key),
                    "{key} cannot be changed"
                );
            }
            assert!(change.required.is_empty());
            assert!(!change.properties.contains_key("workflow_id"));
        }
    }
}
