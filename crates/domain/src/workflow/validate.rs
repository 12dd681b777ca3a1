//! The rules a workflow design must meet to be saved or published, all checked in one pass so
//! the designer sees every problem at once.
//!
//! Field flow: a task may read (top-level `input_schema` properties) the workflow fields and
//! the outputs of every task that can run before it; a transition's condition may read the
//! workflow fields and the outputs of its `from_task` and of the tasks that can run before that.
//! A task's outputs are its `output_schema` properties plus its `output_transform` keys. Only
//! the first segment of a dotted condition path is checked: nested shapes are the schema's
//! business. Whether company role names exist is checked by the app, which knows the company.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;
use url::Url;

use super::condition::Condition;
use super::graph::Graph;
use super::problem::{Problem, extend_under, pointer};
use super::schema::{check_schema, top_level_fields};
use super::transform::Transform;
use super::{Limits, TaskSpec, TicketTypeSpec, TransitionSpec, WorkflowSpec};

/// Every problem with a workflow design and the ticket types that start it; empty = valid.
/// Locations follow the convention of [`Problem`].
pub fn validate_workflow(
    spec: &WorkflowSpec,
    ticket_types: &[TicketTypeSpec],
    limits: &Limits,
) -> Vec<Problem> {
    let mut check = Check {
        limits,
        problems: Vec::new(),
    };
    check.counts(spec, ticket_types);
    if !check.problems.is_empty() {
        return check.problems;
    }

    check.header(spec);

    check.unique_keys("/tasks", spec.tasks.iter().map(|t| t.key.as_str()), "task");
    for (i, task) in spec.tasks.iter().enumerate() {
        check.task(&pointer("/tasks", i), task);
    }

    let graph = Graph::new(spec);
    check.unique_keys(
        "/transitions",
        spec.transitions.iter().map(|t| t.key.as_str()),
        "transition",
    );
    let conditions: Vec<_> = spec
        .transitions
        .iter()
        .enumerate()
        .map(|(i, transition)| check.transition(&pointer("/transitions", i), transition, &graph))
        .collect();
    check.graph(spec, &graph);
    check.assignments(spec, &graph);

    let workflow_fields: BTreeSet<String> = top_level_fields(&spec.fields).into_iter().collect();
    check.field_flow(spec, &graph, &workflow_fields, &conditions);

    check.unique_keys(
        "/ticket_types",
        ticket_types.iter().map(|t| t.key.as_str()),
        "ticket type",
    );
    for (i, ticket_type) in ticket_types.iter().enumerate() {
        check.ticket_type(&pointer("/ticket_types", i), ticket_type, &workflow_fields);
    }
    check.problems
}

/// The checks of a workflow's own fields (title, description, links, `fields` schema), for
/// saving it before its graph is complete. Locations are pointers into the workflow.
pub fn check_workflow_header(spec: &WorkflowSpec, limits: &Limits) -> Vec<Problem> {
    let mut check = Check {
        limits,
        problems: Vec::new(),
    };
    check.header(spec);
    check.problems
}

/// The checks of one task on its own. Locations are pointers into the task.
pub fn check_task(task: &TaskSpec, limits: &Limits) -> Vec<Problem> {
    let mut check = Check {
        limits,
        problems: Vec::new(),
    };
    check.key("/key", &task.key);
    check.task("", task);
    check.problems
}

/// The checks of one transition on its own: its references name tasks of `task_keys`, its
/// condition parses and reads only `known_fields` (the workflow's fields and task outputs;
/// the finer per-path rule is checked on publish). Locations are pointers into it.
pub fn check_transition(
    transition: &TransitionSpec,
    task_keys: &[String],
    known_fields: &[String],
    limits: &Limits,
) -> Vec<Problem> {
    let mut check = Check {
        limits,
        problems: Vec::new(),
    };
    check.key("/key", &transition.key);
    let stubs = WorkflowSpec {
        title: String::new(),
        description: String::new(),
        ext_ref: Vec::new(),
        fields: Value::Null,
        tasks: task_keys
            .iter()
            .map(|key| TaskSpec {
                key: key.clone(),
                name: key.clone(),
                description: String::new(),
                task_type: super::TaskType::Form,
                input_schema: None,
                output_schema: None,
                action_url: None,
                input_transform: None,
                output_transform: None,
                timeout_seconds: None,
                company_role_access: Vec::new(),
                assignment: super::AssignmentStrategy::default(),
            })
            .collect(),
        transitions: Vec::new(),
    };
    let graph = Graph::new(&stubs);
    if let Some(condition) = check.transition("", transition, &graph) {
        for field in condition.fields() {
            let top = field.split('.').next().unwrap_or(field);
            if !known_fields.iter().any(|k| k == top) {
                check.problem(
                    "/condition",
                    format!("`{field}` is not a workflow field or a task output"),
                );
            }
        }
    }
    check.problems
}

/// The checks of one ticket type on its own; its fields must be `workflow_fields`.
/// Locations are pointers into it.
pub fn check_ticket_type(
    ticket_type: &TicketTypeSpec,
    workflow_fields: &[String],
    limits: &Limits,
) -> Vec<Problem> {
    let mut check = Check {
        limits,
        problems: Vec::new(),
    };
    check.key("/key", &ticket_type.key);
    let fields: BTreeSet<String> = workflow_fields.iter().cloned().collect();
    check.ticket_type("", ticket_type, &fields);
    check.problems
}

struct Check<'l> {
    limits: &'l Limits,
    problems: Vec<Problem>,
}

impl Check<'_> {
    /// The workflow's own fields.
    fn header(&mut self, spec: &WorkflowSpec) {
        self.text("/title", &spec.title, self.limits.max_title_len, true);
        self.text(
            "/description",
            &spec.description,
            self.limits.max_description_len,
            false,
        );
        for (i, ext_ref) in spec.ext_ref.iter().enumerate() {
            let at = pointer("/ext_ref", i);
            self.text(
                &pointer(&at, "label"),
                &ext_ref.label,
                self.limits.max_title_len,
                true,
            );
            self.text(
                &pointer(&at, "desc"),
                &ext_ref.desc,
                self.limits.max_description_len,
                false,
            );
            self.url(&pointer(&at, "uri"), &ext_ref.uri);
        }
        self.schema("/fields", &spec.fields);
    }

    fn problem(&mut self, at: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(at, message));
    }

    /// Counts come first: a design over them is refused before any per-item work.
    fn counts(&mut self, spec: &WorkflowSpec, ticket_types: &[TicketTypeSpec]) {
        let limits = self.limits;
        for (at, count, max) in [
            ("/tasks", spec.tasks.len(), limits.max_tasks),
            (
                "/transitions",
                spec.transitions.len(),
                limits.max_transitions,
            ),
            ("/ext_ref", spec.ext_ref.len(), limits.max_ext_refs),
            ("/ticket_types", ticket_types.len(), limits.max_ticket_types),
        ] {
            if count > max {
                self.problem(
                    at,
                    format!("has {count} entries; at most {max} are allowed"),
                );
            }
        }
    }

    fn text(&mut self, at: &str, value: &str, max: usize, required: bool) {
        if required && value.trim().is_empty() {
            self.problem(at, "is required");
        } else if value.chars().count() > max {
            self.problem(at, format!("must be at most {max} characters"));
        }
    }

    /// Keys are identifiers so they stay readable in exports, pointers and diagrams.
    fn key(&mut self, at: &str, key: &str) {
        let max = self.limits.max_name_len;
        let valid = (1..=max).contains(&key.chars().count())
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            self.problem(
                at,
                format!("must be 1 to {max} letters, digits, `_` or `-`"),
            );
        }
    }

    fn unique_keys<'k>(&mut self, base: &str, keys: impl Iterator<Item = &'k str>, what: &str) {
        let mut seen = HashSet::new();
        for (i, key) in keys.enumerate() {
            let at = pointer(&pointer(base, i), "key");
            self.key(&at, key);
            if !seen.insert(key) {
                self.problem(&at, format!("`{key}` is the key of another {what}"));
            }
        }
    }

    fn url(&mut self, at: &str, raw: &str) {
        if raw.chars().count() > self.limits.max_url_len {
            return self.problem(
                at,
                format!("must be at most {} characters", self.limits.max_url_len),
            );
        }
        let message = match Url::parse(raw) {
            Err(error) => format!("is not a valid URL: {error}"),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                "must be an http or https URL".to_owned()
            }
            Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                "must not contain credentials".to_owned()
            }
            Ok(_) => return,
        };
        self.problem(at, message);
    }

    fn schema(&mut self, at: &str, schema: &Value) {
        extend_under(&mut self.problems, at, check_schema(schema, self.limits));
    }

    fn roles(&mut self, at: &str, roles: &[String]) {
        let max = self.limits.max_name_len;
        for (i, role) in roles.iter().enumerate() {
            if role.trim().is_empty() || role.chars().count() > max {
                self.problem(
                    &pointer(at, i),
                    format!("role names have 1 to {max} characters"),
                );
            }
        }
    }

    fn task(&mut self, at: &str, task: &TaskSpec) {
        let limits = self.limits;
        self.text(&pointer(at, "name"), &task.name, limits.max_title_len, true);
        self.text(
            &pointer(at, "description"),
            &task.description,
            limits.max_description_len,
            false,
        );
        for (field, schema) in [
            ("input_schema", &task.input_schema),
            ("output_schema", &task.output_schema),
        ] {
            if let Some(schema) = schema {
                self.schema(&pointer(at, field), schema);
            }
        }
        self.roles(
            &pointer(at, "company_role_access"),
            &task.company_role_access,
        );

        if task.task_type.is_action() && task.assignment.is_personal() {
            self.problem(
                &pointer(at, "assignment"),
                "only form tasks are given to a person: the engine runs actions",
            );
        }
        if !task.task_type.is_action() {
            if task.output_schema.is_none() {
                self.problem(
                    &pointer(at, "output_schema"),
                    "is required: a form's output schema is the form",
                );
            }
            let action_only = [
                ("action_url", task.action_url.is_some()),
                ("input_transform", task.input_transform.is_some()),
                ("output_transform", task.output_transform.is_some()),
                ("timeout_seconds", task.timeout_seconds.is_some()),
            ];
            for (field, present) in action_only {
                if present {
                    self.problem(&pointer(at, field), "only action tasks have this");
                }
            }
            return;
        }
        match &task.action_url {
            Some(url) => self.url(&pointer(at, "action_url"), url),
            None => self.problem(&pointer(at, "action_url"), "is required for actions"),
        }
        let (min, max) = (limits.min_timeout_seconds, limits.max_timeout_seconds);
        match task.timeout_seconds {
            Some(seconds) if (min..=max).contains(&seconds) => {}
            _ => self.problem(
                &pointer(at, "timeout_seconds"),
                format!("must be between {min} and {max} seconds"),
            ),
        }
        for (field, transform) in [
            ("input_transform", &task.input_transform),
            ("output_transform", &task.output_transform),
        ] {
            if let Some(Err(problems)) = transform.as_ref().map(|t| Transform::parse(t, limits)) {
                extend_under(&mut self.problems, &pointer(at, field), problems);
            }
        }
    }

    /// Checks one transition; returns its condition when it parsed, for the field-flow rule.
    fn transition(
        &mut self,
        at: &str,
        transition: &TransitionSpec,
        graph: &Graph<'_>,
    ) -> Option<Condition> {
        for (field, key) in [
            ("from_task", &transition.from_task),
            ("to_task", &transition.to_task),
        ] {
            if let Some(key) = key.as_deref().filter(|key| graph.task(key).is_none()) {
                self.problem(
                    &pointer(at, field),
                    format!("no task `{key}` in this workflow"),
                );
            }
        }
        if transition.to_task.is_some() == transition.to_status.is_some() {
            self.problem(at, "must have exactly one of to_task and to_status");
        }
        if let Some(status) = &transition.to_status {
            let max = self.limits.max_name_len;
            let valid = status.len() <= max
                && status.starts_with(|c: char| c.is_ascii_uppercase())
                && status
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                self.problem(
                    &pointer(at, "to_status"),
                    format!(
                        "must be an upper-case identifier such as COMPLETED (at most {max} characters)"
                    ),
                );
            }
        }
        let condition = transition.condition.as_ref()?;
        match Condition::parse(condition, self.limits) {
            Ok(condition) => Some(condition),
            Err(problems) => {
                extend_under(&mut self.problems, &pointer(at, "condition"), problems);
                None
            }
        }
    }

    fn graph(&mut self, spec: &WorkflowSpec, graph: &Graph<'_>) {
        if !spec.transitions.iter().any(|t| t.from_task.is_none()) {
            self.problem(
                "/transitions",
                "nothing starts the workflow: add a transition without from_task",
            );
        }
        let reachable = graph.reachable_from_start();
        let can_end = graph.can_end();
        for i in 0..spec.tasks.len() {
            let at = pointer("/tasks", i);
            if !reachable[i] {
                self.problem(&at, "cannot be reached from the ticket's submission");
            }
            if !can_end[i] {
                self.problem(&at, "no path from this task reaches an end status");
            }
        }
    }

    /// `completer_of` names a form of this workflow that can run before the task, so that
    /// someone will have completed it when the task opens.
    fn assignments(&mut self, spec: &WorkflowSpec, graph: &Graph<'_>) {
        for (i, task) in spec.tasks.iter().enumerate() {
            let super::AssignmentStrategy::CompleterOf(key) = &task.assignment else {
                continue;
            };
            let at = pointer(
                &pointer(&pointer("/tasks", i), "assignment"),
                "completer_of",
            );
            let message = match graph.task(key) {
                None => format!("no task `{key}` in this workflow"),
                Some(earlier) if spec.tasks[earlier].task_type.is_action() => {
                    format!("`{key}` is an action: the engine completes it, not a person")
                }
                Some(earlier) if !graph.ancestors(i)[earlier] => {
                    format!("`{key}` cannot run before this task, so nobody will have completed it")
                }
                Some(_) => continue,
            };
            self.problem(&at, message);
        }
    }

    fn field_flow(
        &mut self,
        spec: &WorkflowSpec,
        graph: &Graph<'_>,
        workflow_fields: &BTreeSet<String>,
        conditions: &[Option<Condition>],
    ) {
        let outputs: Vec<BTreeSet<String>> = spec.tasks.iter().map(task_outputs).collect();
        let ancestors: Vec<Vec<bool>> = (0..spec.tasks.len()).map(|i| graph.ancestors(i)).collect();
        // Membership is tested per field rather than by building each task's set of known
        // names, which would cost tasks × fields per task on a design at the limits.
        let known_before = |task: usize, field: &str| {
            workflow_fields.contains(field)
                || outputs
                    .iter()
                    .zip(&ancestors[task])
                    .any(|(fields, &before)| before && fields.contains(field))
        };

        for (i, task) in spec.tasks.iter().enumerate() {
            let Some(schema) = &task.input_schema else {
                continue;
            };
            for field in top_level_fields(schema) {
                if !known_before(i, &field) {
                    let at = pointer(
                        &pointer(&pointer("/tasks", i), "input_schema"),
                        "properties",
                    );
                    self.problem(
                        &pointer(&at, &field),
                        format!(
                            "`{field}` is neither a workflow field nor an output of a task that can run before this one"
                        ),
                    );
                }
            }
        }

        for (i, (transition, condition)) in spec.transitions.iter().zip(conditions).enumerate() {
            let Some(condition) = condition else { continue };
            let from = match transition.from_task.as_deref() {
                None => None,
                Some(key) => match graph.task(key) {
                    Some(from) => Some(from),
                    None => continue,
                },
            };
            let known = |field: &str| match from {
                None => workflow_fields.contains(field),
                Some(from) => outputs[from].contains(field) || known_before(from, field),
            };
            let at = pointer(&pointer("/transitions", i), "condition");
            for (location, path) in condition.field_locations(&at) {
                let field = path.split('.').next().unwrap_or(path);
                if !known(field) {
                    self.problem(
                        &location,
                        format!(
                            "`{field}` is neither a workflow field nor an output of a task that can run before this transition"
                        ),
                    );
                }
            }
        }
    }

    fn ticket_type(
        &mut self,
        at: &str,
        ticket_type: &TicketTypeSpec,
        workflow_fields: &BTreeSet<String>,
    ) {
        let limits = self.limits;
        self.text(
            &pointer(at, "title"),
            &ticket_type.title,
            limits.max_title_len,
            true,
        );
        self.text(
            &pointer(at, "description"),
            &ticket_type.description,
            limits.max_description_len,
            false,
        );
        let fields_at = pointer(at, "fields");
        self.schema(&fields_at, &ticket_type.fields);
        self.summary(&pointer(at, "summary"), ticket_type);
        for field in top_level_fields(&ticket_type.fields) {
            if !workflow_fields.contains(&field) {
                self.problem(
                    &pointer(&pointer(&fields_at, "properties"), &field),
                    format!("`{field}` is not a field of the workflow, so it would be lost"),
                );
            }
        }
        self.roles(
            &pointer(at, "company_role_access"),
            &ticket_type.company_role_access,
        );
    }
}

impl Check<'_> {
    /// A summary template names fields of its ticket type (or the requester) and closes
    /// every placeholder it opens.
    fn summary(&mut self, at: &str, ticket_type: &TicketTypeSpec) {
        let template = &ticket_type.summary;
        self.text(at, template, self.limits.max_title_len, false);
        match super::summary::placeholders(template) {
            Err(open) => self.problem(at, format!("`{open}` opens a placeholder without `}}}}`")),
            Ok(names) => {
                let fields = top_level_fields(&ticket_type.fields);
                for name in names {
                    if name != super::summary::REQUESTER && !fields.iter().any(|f| f == name) {
                        self.problem(
                            at,
                            format!(
                                "`{{{{{name}}}}}` is not a field of this ticket type (nor `{{{{requester}}}}`)"
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// The workflow fields a task writes when it completes.
fn task_outputs(task: &TaskSpec) -> BTreeSet<String> {
    let schema_fields = task.output_schema.iter().flat_map(top_level_fields);
    let transform_keys = task
        .output_transform
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|map| map.keys().cloned());
    schema_fields.chain(transform_keys).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A valid design; tests edit it by JSON pointer, the same pointers problems carry.
    fn design() -> Value {
        json!({
            "title": "Purchase request",
            "description": "Buy things",
            "ext_ref": [{"label": "Policy", "desc": "", "uri": "https://example.com/policy"}],
            "fields": {"type": "object", "properties": {
                "amount": {"type": "number"}, "item": {"type": "string"},
                "approved": {"type": "boolean"}
            }},
            "tasks": [
                {"key": "review", "name": "Review", "task_type": "FORM",
                 "input_schema": {"type": "object", "properties": {"amount": {}, "item": {}}},
                 "output_schema": {"type": "object", "properties": {
                     "approved": {"type": "boolean"}, "note": {"type": "string"}}},
                 "company_role_access": ["manager"]},
                {"key": "order", "name": "Order", "task_type": "SYNC_ACTION",
                 "input_schema": {"type": "object", "properties": {"item": {}, "note": {}}},
                 "action_url": "https://erp.example.com/orders", "timeout_seconds": 30,
                 "input_transform": {"sku": "$.item"}, "output_transform": {"order_id": "$.id"}}
            ],
            "transitions": [
                {"key": "start", "to_task": "review"},
                {"key": "approve", "from_task": "review", "to_task": "order",
                 "condition": {"approved": true, "amount": {"$gt": 0}}, "priority": 1},
                {"key": "reject", "from_task": "review", "to_status": "REJECTED",
                 "condition": {"approved": false}},
                {"key": "done", "from_task": "order", "to_status": "COMPLETED",
                 "condition": {"order_id": {"$exists": true}}}
            ],
            "ticket_types": [
                {"key": "purchase", "title": "Purchase", "company_role_access": ["user"],
                 "fields": {"type": "object", "properties": {
                     "amount": {"type": "number"}, "item": {"type": "string"}}}}
            ]
        })
    }

    /// Sets (or appends, for an array index equal to its length) the value at `at`.
    fn set(doc: &mut Value, at: &str, value: Value) {
        let (parent, last) = at.rsplit_once('/').unwrap();
        match doc.pointer_mut(parent).unwrap() {
            Value::Object(map) => {
                map.insert(last.to_owned(), value);
            }
            Value::Array(items) => {
                let i: usize = last.parse().unwrap();
                if i == items.len() {
                    items.push(value);
                } else {
                    items[i] = value;
                }
            }
            other => panic!("cannot set {at} in {other}"),
        }
    }

    fn problems_with(limits: &Limits, edits: &[(&str, Value)]) -> Vec<String> {
        let mut doc = design();
        for (at, value) in edits {
            set(&mut doc, at, value.clone());
        }
        let spec: WorkflowSpec = serde_json::from_value(doc.clone()).unwrap();
        let ticket_types: Vec<TicketTypeSpec> =
            serde_json::from_value(doc["ticket_types"].clone()).unwrap();
        let mut found: Vec<_> = validate_workflow(&spec, &ticket_types, limits)
            .into_iter()
            .map(|p| p.location)
            .collect();
        found.sort();
        found
    }

    fn problems(edits: &[(&str, Value)]) -> Vec<String> {
        problems_with(&Limits::default(), edits)
    }

    fn extra_task() -> Value {
        json!({"key": "extra", "name": "Extra", "task_type": "FORM", "output_schema": {}})
    }

    #[test]
    fn the_example_design_is_valid() {
        assert_eq!(problems(&[]), Vec::<String>::new());
    }

    #[test]
    fn texts_are_required_and_bounded() {
        assert_eq!(problems(&[("/title", json!("  "))]), ["/title"]);
        assert_eq!(problems(&[("/title", json!("x".repeat(201)))]), ["/title"]);
        assert!(problems(&[("/title", json!("x".repeat(200)))]).is_empty());
        assert_eq!(problems(&[("/tasks/0/name", json!(""))]), ["/tasks/0/name"]);
        assert_eq!(
            problems(&[("/ticket_types/0/title", json!(""))]),
            ["/ticket_types/0/title"]
        );
        assert_eq!(
            problems(&[("/ext_ref/0/label", json!(""))]),
            ["/ext_ref/0/label"]
        );
    }

    #[test]
    fn links_are_plain_http() {
        for bad in [
            "javascript:alert(1)",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            assert_eq!(
                problems(&[("/ext_ref/0/uri", json!(bad))]),
                ["/ext_ref/0/uri"]
            );
        }
        assert!(problems(&[("/ext_ref/0/uri", json!("http://intranet:8080/x?y#z"))]).is_empty());
    }

    #[test]
    fn keys_are_identifiers_and_unique() {
        let renamed = |key: &str| {
            problems(&[
                ("/tasks/0/key", json!(key)),
                ("/transitions/0/to_task", json!(key)),
                ("/transitions/1/from_task", json!(key)),
                ("/transitions/2/from_task", json!(key)),
            ])
        };
        assert_eq!(renamed("re view"), ["/tasks/0/key"]);
        assert!(renamed("re_view-2").is_empty());
        assert_eq!(
            problems(&[("/transitions/2/key", json!("approve"))]),
            ["/transitions/2/key"]
        );
        let mut twin = extra_task();
        twin["key"] = json!("review");
        assert_eq!(
            problems(&[("/tasks/2", twin)]),
            ["/tasks/2", "/tasks/2", "/tasks/2/key"]
        );
    }

    #[test]
    fn every_schema_is_json_schema_2020_12() {
        let bad = json!({"type": "nmber"});
        assert_eq!(
            problems(&[("/fields/properties/amount", bad.clone())]),
            ["/fields/properties/amount/type"]
        );
        assert_eq!(
            problems(&[("/tasks/1/input_schema/properties/item", bad.clone())]),
            ["/tasks/1/input_schema/properties/item/type"]
        );
        assert_eq!(
            problems(&[("/ticket_types/0/fields/properties/amount", bad)]),
            ["/ticket_types/0/fields/properties/amount/type"]
        );
        assert!(problems(&[("/fields/properties/amount", json!({"type": "integer"}))]).is_empty());
    }

    #[test]
    fn forms_have_an_output_schema_and_no_action_settings() {
        assert_eq!(
            problems(&[("/tasks/0/output_schema", Value::Null)]),
            // `note` was an output of the form, so the next task loses it too.
            [
                "/tasks/0/output_schema",
                "/tasks/1/input_schema/properties/note"
            ]
        );
        assert_eq!(
            problems(&[("/tasks/0/timeout_seconds", json!(10))]),
            ["/tasks/0/timeout_seconds"]
        );
    }

    #[test]
    fn actions_have_an_http_url() {
        assert_eq!(
            problems(&[("/tasks/1/action_url", Value::Null)]),
            ["/tasks/1/action_url"]
        );
        assert_eq!(
            problems(&[("/tasks/1/action_url", json!("ftp://erp/x"))]),
            ["/tasks/1/action_url"]
        );
        assert!(problems(&[("/tasks/1/action_url", json!("http://erp.local:8080/x"))]).is_empty());
    }

    #[test]
    fn action_timeouts_are_within_limits() {
        for bad in [Value::Null, json!(0), json!(301)] {
            assert_eq!(
                problems(&[("/tasks/1/timeout_seconds", bad)]),
                ["/tasks/1/timeout_seconds"]
            );
        }
        for good in [1, 300] {
            assert!(problems(&[("/tasks/1/timeout_seconds", json!(good))]).is_empty());
        }
    }

    #[test]
    fn transforms_are_jsonpath() {
        assert_eq!(
            problems(&[("/tasks/1/input_transform/sku", json!("$["))]),
            ["/tasks/1/input_transform/sku"]
        );
        assert!(problems(&[("/tasks/1/input_transform/sku", json!("$.item[0]"))]).is_empty());
    }

    #[test]
    fn role_names_are_not_blank() {
        assert_eq!(
            problems(&[("/tasks/0/company_role_access/0", json!(" "))]),
            ["/tasks/0/company_role_access/0"]
        );
        assert!(problems(&[("/tasks/0/company_role_access/1", json!("clerk"))]).is_empty());
    }

    #[test]
    fn transitions_have_exactly_one_target() {
        assert_eq!(
            problems(&[("/transitions/2/to_task", json!("order"))]),
            ["/transitions/2"]
        );
        assert_eq!(
            problems(&[("/transitions/2/to_status", Value::Null)]),
            ["/transitions/2"]
        );
    }

    #[test]
    fn references_stay_inside_the_workflow() {
        assert_eq!(
            problems(&[("/transitions/3/from_task", json!("ghost"))]),
            ["/tasks/1", "/transitions/3/from_task"]
        );
        assert_eq!(
            problems(&[("/transitions/1/to_task", json!("ghost"))]),
            [
                "/tasks/1",
                "/tasks/1/input_schema/properties/note",
                "/transitions/1/to_task"
            ]
        );
    }

    #[test]
    fn a_task_goes_to_the_completer_of_an_earlier_form_only() {
        let to_completer = |key: &str| {
            let mut task = extra_task();
            task["assignment"] = json!({"completer_of": key});
            problems(&[
                ("/tasks/2", task),
                (
                    "/transitions/4",
                    json!({"key": "x", "from_task": "review", "to_task": "extra"}),
                ),
                (
                    "/transitions/5",
                    json!({"key": "y", "from_task": "extra", "to_status": "DONE"}),
                ),
            ])
        };
        assert!(to_completer("review").is_empty());
        assert_eq!(to_completer("ghost"), ["/tasks/2/assignment/completer_of"]);
        // An action has no person who completed it; a later task has not run yet.
        assert_eq!(to_completer("order"), ["/tasks/2/assignment/completer_of"]);
        let mut first = design();
        first["tasks"][0]["assignment"] = json!({"completer_of": "order"});
        let spec: WorkflowSpec = serde_json::from_value(first).unwrap();
        let found = validate_workflow(&spec, &[], &Limits::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].location, "/tasks/0/assignment/completer_of");
        assert!(found[0].message.contains("action"), "{found:?}");
    }

    #[test]
    fn only_forms_go_to_a_person() {
        assert_eq!(
            problems(&[("/tasks/1/assignment", json!("requester"))]),
            ["/tasks/1/assignment"]
        );
        assert!(problems(&[("/tasks/0/assignment", json!("requester"))]).is_empty());
    }

    #[test]
    fn end_statuses_are_upper_case_identifiers() {
        assert_eq!(
            problems(&[("/transitions/3/to_status", json!("completed"))]),
            ["/transitions/3/to_status"]
        );
        assert!(problems(&[("/transitions/3/to_status", json!("COMPLETED_2"))]).is_empty());
    }

    #[test]
    fn conditions_parse_and_use_known_fields() {
        assert_eq!(
            problems(&[(
                "/transitions/1/condition",
                json!({"amount": {"$regex": "x"}})
            )]),
            ["/transitions/1/condition/amount/$regex"]
        );
        assert_eq!(
            problems(&[("/transitions/1/condition", json!({"colour": "red"}))]),
            ["/transitions/1/condition/colour"]
        );
        assert!(problems(&[("/transitions/1/condition", json!({"note.text": "x"}))]).is_empty());
        assert_eq!(
            problems(&[("/transitions/0/condition", json!({"$or": [{"note": "x"}]}))]),
            ["/transitions/0/condition/$or/0/note"]
        );
        assert!(problems(&[("/transitions/0/condition", json!({"amount": 1}))]).is_empty());
    }

    #[test]
    fn something_starts_the_workflow() {
        assert_eq!(
            problems(&[("/transitions/0/from_task", json!("order"))]),
            ["/tasks/0", "/tasks/1", "/transitions"]
        );
    }

    #[test]
    fn every_task_is_reachable() {
        let unreachable = [
            ("/tasks/2", extra_task()),
            (
                "/transitions/4",
                json!({"key": "x", "from_task": "extra", "to_status": "DONE"}),
            ),
        ];
        assert_eq!(problems(&unreachable), ["/tasks/2"]);
        let reached = json!({"key": "y", "from_task": "review", "to_task": "extra"});
        assert!(
            problems(&[
                unreachable[0].clone(),
                unreachable[1].clone(),
                ("/transitions/5", reached)
            ])
            .is_empty()
        );
    }

    #[test]
    fn every_task_can_end() {
        let dead_end = [
            ("/tasks/2", extra_task()),
            (
                "/transitions/4",
                json!({"key": "x", "from_task": "review", "to_task": "extra"}),
            ),
        ];
        assert_eq!(problems(&dead_end), ["/tasks/2"]);
        let exit = json!({"key": "y", "from_task": "extra", "to_task": "review"});
        assert!(
            problems(&[
                dead_end[0].clone(),
                dead_end[1].clone(),
                ("/transitions/5", exit)
            ])
            .is_empty()
        );
    }

    #[test]
    fn task_inputs_come_from_fields_or_earlier_outputs() {
        assert_eq!(
            problems(&[("/tasks/1/input_schema/properties/order_id", json!({}))]),
            ["/tasks/1/input_schema/properties/order_id"]
        );
        assert!(problems(&[("/tasks/1/input_schema/properties/approved", json!({}))]).is_empty());
    }

    #[test]
    fn ticket_fields_map_onto_workflow_fields() {
        assert_eq!(
            problems(&[("/ticket_types/0/fields/properties/colour", json!({}))]),
            ["/ticket_types/0/fields/properties/colour"]
        );
        assert!(problems(&[("/ticket_types/0/fields/properties/approved", json!({}))]).is_empty());
    }

    #[test]
    fn counts_are_bounded_before_anything_else() {
        let tight = Limits {
            max_tasks: 1,
            ..Limits::default()
        };
        assert_eq!(problems_with(&tight, &[("/title", json!(""))]), ["/tasks"]);
        let exact = Limits {
            max_tasks: 2,
            max_transitions: 4,
            ..Limits::default()
        };
        assert!(problems_with(&exact, &[]).is_empty());
    }

    #[test]
    fn reports_every_problem_at_once() {
        let found = problems(&[
            ("/title", json!("")),
            ("/tasks/1/timeout_seconds", json!(0)),
            ("/transitions/3/to_status", json!("done")),
            ("/ticket_types/0/fields/properties/colour", json!({})),
            ("/fields/properties/amount", json!({"minimum": "zero"})),
        ]);
        assert_eq!(
            found,
            [
                "/fields/properties/amount/minimum",
                "/tasks/1/timeout_seconds",
                "/ticket_types/0/fields/properties/colour",
                "/title",
                "/transitions/3/to_status"
            ]
        );
    }
}
