//! Properties of the workflow engine over generated valid designs: a simulated run never stops
//! silently (after every step it has ended, reported an error or still has an active task),
//! never runs two instances of a task at once, and hands tasks only the fields they read. The
//! example bundles are walked down every branch to their end status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use ticketflower_domain::workflow::{
    EngineError, Limits, RunState, Step, TaskSpec, TaskType, TicketTypeSpec, TransitionSpec,
    WorkflowRunStatus, WorkflowSpec, action_body, apply_action_response, apply_output, is_stalled,
    step, top_level_fields, validate_workflow,
};

const MAX_STEPS: usize = 200;
/// Workflow fields the generated tasks write and the conditions read.
const FIELDS: [&str; 3] = ["x", "ok", "flag"];

#[derive(Debug, Clone)]
struct TaskShape {
    action: bool,
    /// Per field of [`FIELDS`]: (written, required in the output).
    outputs: [(bool, bool); 3],
    /// The task's input schema requires `x`.
    needs_x: bool,
}

#[derive(Debug, Clone)]
enum Target {
    Task(usize),
    Status(&'static str),
}

#[derive(Debug, Clone)]
struct Edge {
    /// `None`: a start transition.
    from: Option<usize>,
    to: Target,
    condition: Option<Value>,
    priority: i32,
}

#[derive(Debug, Clone)]
struct Design {
    tasks: Vec<TaskShape>,
    edges: Vec<Edge>,
}

fn condition() -> impl Strategy<Value = Value> {
    let k = -3i64..=3;
    prop_oneof![
        k.clone().prop_map(|k| json!({"x": {"$gt": k}})),
        k.clone().prop_map(|k| json!({"x": {"$lte": k}})),
        any::<bool>().prop_map(|b| json!({"ok": b})),
        Just(json!({"flag": {"$ne": true}})),
        k.prop_map(|k| json!({"$or": [{"x": k}, {"ok": {"$exists": false}}]})),
    ]
}

/// Mostly unconditional, so that generated runs get somewhere.
fn maybe_condition() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(0.3, condition())
}

fn status() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just("COMPLETED"), 1 => Just("REJECTED")]
}

fn target(n: usize) -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => (0..n).prop_map(Target::Task),
        1 => status().prop_map(Target::Status),
    ]
}

/// Designs valid by construction: a tree of forward edges from the start reaches every task
/// and every leaf of the tree can end. Extra edges add branching (a pair guarded by a
/// condition and its negation), parallel fan-out, joins, loops and conflicting targets.
fn design() -> impl Strategy<Value = Design> {
    let task = (
        any::<bool>(),
        prop::array::uniform3((any::<bool>(), any::<bool>())),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(action, outputs, needs_x)| TaskShape {
            action,
            outputs,
            needs_x,
        });
    prop::collection::vec(task, 1..8).prop_flat_map(|tasks| {
        let n = tasks.len();
        let tree = prop::collection::vec((any::<usize>(), maybe_condition(), -2i32..=2), n);
        let leaf_ends = prop::collection::vec((status(), maybe_condition(), -2i32..=2), n);
        let extra = prop::collection::vec(
            (
                0..n,
                target(n),
                prop::option::of(target(n)),
                condition(),
                -2i32..=2,
            ),
            0..n + 2,
        );
        let starts = prop::collection::vec((0..n, maybe_condition()), 0..2);
        (
            Just(tasks),
            tree,
            leaf_ends,
            extra,
            starts,
            maybe_condition(),
        )
            .prop_map(|(tasks, tree, leaf_ends, extra, starts, start_condition)| {
                let n = tasks.len();
                let mut edges = vec![Edge {
                    from: None,
                    to: Target::Task(0),
                    condition: start_condition,
                    priority: 0,
                }];
                let mut has_child = vec![false; n];
                for (i, (parent, condition, priority)) in tree.into_iter().enumerate().skip(1) {
                    let parent = parent % i;
                    has_child[parent] = true;
                    edges.push(Edge {
                        from: Some(parent),
                        to: Target::Task(i),
                        condition,
                        priority,
                    });
                }
                for (i, (status, condition, priority)) in leaf_ends.into_iter().enumerate() {
                    if !has_child[i] {
                        edges.push(Edge {
                            from: Some(i),
                            to: Target::Status(status),
                            condition,
                            priority,
                        });
                    }
                }
                for (from, to, otherwise, condition, priority) in extra {
                    if let Some(otherwise) = otherwise {
                        edges.push(Edge {
                            from: Some(from),
                            to: otherwise,
                            condition: Some(json!({"$not": condition.clone()})),
                            priority,
                        });
                    }
                    edges.push(Edge {
                        from: Some(from),
                        to,
                        condition: Some(condition),
                        priority,
                    });
                }
                for (to, condition) in starts {
                    edges.push(Edge {
                        from: None,
                        to: Target::Task(to),
                        condition,
                        priority: 0,
                    });
                }
                Design { tasks, edges }
            })
    })
}

fn field_schema(field: &str) -> Value {
    match field {
        "x" => json!({"type": "integer", "minimum": -5, "maximum": 5}),
        _ => json!({"type": "boolean"}),
    }
}

fn build(design: &Design) -> WorkflowSpec {
    let key = |i: usize| format!("t{i}");
    let tasks = design
        .tasks
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            let written: Vec<&str> = FIELDS
                .iter()
                .zip(shape.outputs)
                .filter(|(_, (written, _))| *written)
                .map(|(field, _)| *field)
                .collect();
            let required: Vec<&str> = FIELDS
                .iter()
                .zip(shape.outputs)
                .filter(|(_, (written, required))| *written && *required)
                .map(|(field, _)| *field)
                .collect();
            let properties: Map<String, Value> = written
                .iter()
                .map(|field| ((*field).to_owned(), field_schema(field)))
                .collect();
            let output_schema =
                json!({"type": "object", "properties": properties, "required": required});
            let input_schema = json!({
                "type": "object",
                "properties": {"x": {"type": "integer"}, "ok": {}},
                "required": if shape.needs_x { vec!["x"] } else { vec![] },
            });
            let action = shape.action;
            TaskSpec {
                key: key(i),
                name: format!("Task {i}"),
                description: String::new(),
                task_type: if action {
                    TaskType::SyncAction
                } else {
                    TaskType::Form
                },
                input_schema: Some(input_schema),
                output_schema: Some(output_schema),
                action_url: action.then(|| "https://example.com/hook".to_owned()),
                input_transform: action.then(|| json!({"value": "$.x", "all": "$.*"})),
                output_transform: action.then(|| {
                    Value::Object(
                        written
                            .iter()
                            .map(|f| ((*f).to_owned(), Value::from(format!("$.result.{f}"))))
                            .collect(),
                    )
                }),
                timeout_seconds: action.then_some(10),
                company_role_access: vec![],
                assignment: Default::default(),
            }
        })
        .collect();
    let transitions = design
        .edges
        .iter()
        .enumerate()
        .map(|(i, edge)| TransitionSpec {
            key: format!("e{i}"),
            from_task: edge.from.map(key),
            to_task: match edge.to {
                Target::Task(to) => Some(key(to)),
                Target::Status(_) => None,
            },
            to_status: match edge.to {
                Target::Task(_) => None,
                Target::Status(status) => Some(status.to_owned()),
            },
            condition: edge.condition.clone(),
            priority: edge.priority,
        })
        .collect();
    WorkflowSpec {
        title: "Generated".into(),
        description: String::new(),
        ext_ref: vec![],
        fields: json!({"type": "object", "properties": {
            "x": {"type": "integer"}, "ok": {"type": "boolean"}, "flag": {"type": "boolean"}}}),
        tasks,
        transitions,
    }
}

/// SplitMix64: the run's choices come from one generated seed, so a failing case replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

/// An output that meets the task's output schema.
fn output(task: &TaskSpec, rng: &mut Rng) -> Value {
    let schema = task.output_schema.as_ref().unwrap();
    let required = schema["required"].as_array().unwrap();
    let mut out = Map::new();
    for field in top_level_fields(schema) {
        if required.iter().any(|r| r == field.as_str()) || rng.coin() {
            let value = match field.as_str() {
                "x" => Value::from(rng.below(11) as i64 - 5),
                _ => Value::from(rng.coin()),
            };
            out.insert(field, value);
        }
    }
    Value::Object(out)
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Ended(String),
    Failed(EngineError),
    /// Still running after [`MAX_STEPS`] (a loop): not a failure.
    Running,
}

struct Run<'s> {
    spec: &'s WorkflowSpec,
    data: Value,
    active: Vec<String>,
    pending_end: Option<String>,
}

impl Run<'_> {
    fn step(&self, from: Option<&str>, listed: bool) -> Result<Step, EngineError> {
        let mut active = self.active.clone();
        if let Some(from) = from.filter(|_| listed) {
            active.push(from.to_owned());
        }
        let state = RunState {
            data: &self.data,
            active_tasks: &active,
            pending_end: self.pending_end.as_deref(),
        };
        step(self.spec, from, &state, &Limits::default())
    }

    /// Applies a step's result, checking what must hold of it; `Some` when the run is over.
    fn apply(&mut self, result: Result<Step, EngineError>) -> Result<Option<Outcome>, String> {
        match result {
            Err(error) => return Ok(Some(Outcome::Failed(error))),
            Ok(Step::End { status }) => {
                if !self.active.is_empty() {
                    return Err(format!("ended with {status} while {:?} run", self.active));
                }
                return Ok(Some(Outcome::Ended(status)));
            }
            Ok(Step::WaitForBranches { pending_end }) => {
                if self.active.is_empty() {
                    return Err("waits for branches but none is active".into());
                }
                self.pending_end = Some(pending_end);
            }
            Ok(Step::Tasks { create, joined }) => {
                if create.is_empty() && joined.is_empty() {
                    return Err("a step with no task".into());
                }
                if let Some(key) = joined.iter().find(|key| !self.active.contains(key)) {
                    return Err(format!("joined `{key}`, which is not running"));
                }
                for task in create {
                    if self.active.contains(&task.key) {
                        return Err(format!("a second instance of `{}`", task.key));
                    }
                    let spec = self.spec.tasks.iter().find(|t| t.key == task.key).unwrap();
                    let reads = spec.input_schema.as_ref().map(top_level_fields);
                    let input = task.input_data.as_object().unwrap();
                    let unread =
                        |field: &&String| reads.as_ref().is_some_and(|r| !r.contains(field));
                    if let Some(field) = input.keys().find(unread) {
                        return Err(format!(
                            "`{}` got `{field}`, which it does not read",
                            task.key
                        ));
                    }
                    if spec.task_type.is_action() != task.action_body.is_some() {
                        return Err(format!("`{}` has the wrong kind of body", task.key));
                    }
                    self.active.push(task.key);
                }
            }
        }
        // The property: a running instance always has a task someone can complete.
        if is_stalled(WorkflowRunStatus::InProgress, self.active.len()) {
            return Err("still in progress with no active task".into());
        }
        Ok(None)
    }
}

fn simulate(spec: &WorkflowSpec, data: Value, seed: u64) -> Result<Outcome, String> {
    let limits = Limits::default();
    let mut rng = Rng(seed);
    let mut run = Run {
        spec,
        data,
        active: Vec::new(),
        pending_end: None,
    };
    if let Some(outcome) = run.apply(run.step(None, false))? {
        return Ok(outcome);
    }
    for _ in 0..MAX_STEPS {
        let key = run.active.remove(rng.below(run.active.len()));
        let task = spec.tasks.iter().find(|t| t.key == key).unwrap();
        let out = output(task, &mut rng);
        let merged = if task.task_type.is_action() {
            let response = json!({"result": out, "noise": rng.coin()});
            apply_action_response(task, &run.data, &response, &limits)
        } else {
            apply_output(task, &run.data, &out, &limits)
        }
        .map_err(|problems| format!("a valid output of `{key}` was refused: {problems:?}"))?;
        for change in &merged.changes {
            if merged.data.get(&change.field) != Some(&change.new)
                || run.data.get(&change.field) != change.old.as_ref()
            {
                return Err(format!("change {change:?} does not match the data"));
            }
        }
        run.data = merged.data;

        let result = run.step(Some(&key), false);
        // The completing task may still be listed as active by the caller: same result.
        if run.step(Some(&key), true) != result {
            return Err(format!("listing `{key}` as active changed its step"));
        }
        if let Some(outcome) = run.apply(result)? {
            return Ok(outcome);
        }
    }
    Ok(Outcome::Running)
}

fn ticket_data() -> impl Strategy<Value = Value> {
    (
        prop::option::of(-5i64..=5),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(x, ok, flag)| {
            let mut data = Map::new();
            for (field, value) in [
                ("x", x.map(Value::from)),
                ("ok", ok.map(Value::from)),
                ("flag", flag.map(Value::from)),
            ] {
                if let Some(value) = value {
                    data.insert(field.to_owned(), value);
                }
            }
            Value::Object(data)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn runs_never_stall_silently(design in design(), data in ticket_data(), seed in any::<u64>()) {
        let spec = build(&design);
        let problems = validate_workflow(&spec, &[], &Limits::default());
        prop_assume!(problems.is_empty());
        match simulate(&spec, data, seed) {
            Ok(_) => {}
            Err(message) => prop_assert!(false, "{}", message),
        }
    }

    #[test]
    fn every_valid_action_response_is_accepted(design in design(), seed in any::<u64>()) {
        let spec = build(&design);
        let mut rng = Rng(seed);
        for task in spec.tasks.iter().filter(|t| t.task_type.is_action()) {
            let data = json!({"x": 1});
            let body = action_body(task, &data, &Limits::default()).unwrap();
            prop_assert_eq!(&body["value"], &json!(1));
            let out = output(task, &mut rng);
            let merged = apply_action_response(task, &data, &json!({"result": out.clone()}), &Limits::default()).unwrap();
            let expected_changes = out.as_object().unwrap().iter().filter(|(k, v)| data.get(*k) != Some(*v)).count();
            prop_assert_eq!(merged.changes.len(), expected_changes);
        }
    }
}

/// An export file: a workflow with the ticket types that start it.
#[derive(Deserialize)]
struct Bundle {
    #[serde(flatten)]
    spec: WorkflowSpec,
    #[serde(default)]
    ticket_types: Vec<TicketTypeSpec>,
}

fn bundle(yaml: &str) -> WorkflowSpec {
    let bundle: Bundle = serde_yaml_ng::from_str(yaml).unwrap();
    let problems = validate_workflow(&bundle.spec, &bundle.ticket_types, &Limits::default());
    assert_eq!(problems, vec![]);
    bundle.spec
}

fn document_review() -> WorkflowSpec {
    bundle(include_str!(
        "../../../examples/bundles/document-review.yaml"
    ))
}

fn it_access_request() -> WorkflowSpec {
    bundle(include_str!(
        "../../../examples/bundles/it-access-request.yaml"
    ))
}

/// Submits `data`, then completes the single active task with each output in turn (an action
/// task's "output" is its response), checking which task that is; returns the end status and
/// the input each task got.
fn walk(spec: &WorkflowSpec, data: Value, outputs: &[(&str, Value)]) -> (String, Vec<Value>) {
    let limits = Limits::default();
    let mut run = Run {
        spec,
        data,
        active: Vec::new(),
        pending_end: None,
    };
    let mut inputs = Vec::new();
    let mut bodies = Vec::new();
    let mut result = run.step(None, false);
    for (key, out) in outputs {
        match result.clone().unwrap() {
            Step::Tasks { create, joined } => {
                assert!(joined.is_empty());
                assert_eq!(create.len(), 1, "{create:?}");
                inputs.push(create[0].input_data.clone());
                bodies.push(create[0].action_body.clone());
            }
            other => panic!("expected `{key}` to start, got {other:?}"),
        }
        assert_eq!(run.apply(result).unwrap(), None);
        assert_eq!(run.active, [*key]);
        run.active.clear();
        let task = spec.tasks.iter().find(|t| t.key == *key).unwrap();
        let merged = if task.task_type.is_action() {
            assert_eq!(
                bodies.last().unwrap().as_ref(),
                Some(&action_body(task, &run.data, &limits).unwrap())
            );
            apply_action_response(task, &run.data, out, &limits)
        } else {
            apply_output(task, &run.data, out, &limits)
        };
        run.data = merged.unwrap().data;
        result = run.step(Some(key), false);
    }
    match result {
        Ok(Step::End { status }) => (status, inputs),
        other => panic!("expected the end, got {other:?}"),
    }
}

#[test]
fn document_review_is_accepted_at_once() {
    let submission = json!({"document_url": "https://docs.example.com/d/1", "summary": "Intro"});
    let (status, inputs) = walk(
        &document_review(),
        submission.clone(),
        &[("review", json!({"decision": "accept"}))],
    );
    assert_eq!(status, "ACCEPTED");
    assert_eq!(inputs, [submission]);
}

#[test]
fn document_review_loops_through_edits_until_accepted() {
    let (status, inputs) = walk(
        &document_review(),
        json!({"document_url": "https://docs.example.com/d/1", "summary": "Intro", "level": 1}),
        &[
            (
                "review",
                json!({"decision": "revise", "review_comments": "Shorter"}),
            ),
            ("edit", json!({"revision_note": "Cut it"})),
            ("review", json!({"decision": "revise"})),
            (
                "edit",
                json!({"revision_note": "Cut more", "withdraw": false}),
            ),
            ("review", json!({"decision": "accept"})),
        ],
    );
    assert_eq!(status, "ACCEPTED");
    assert_eq!(inputs[2]["revision_note"], "Cut it");
    assert_eq!(inputs[4]["revision_note"], "Cut more");
    assert!(inputs.iter().all(|input| input.get("level").is_none()));
}

#[test]
fn document_review_can_be_withdrawn() {
    let (status, _) = walk(
        &document_review(),
        json!({"document_url": "https://docs.example.com/d/1", "summary": "Intro"}),
        &[
            ("review", json!({"decision": "revise"})),
            ("edit", json!({"withdraw": true})),
        ],
    );
    assert_eq!(status, "WITHDRAWN");
}

#[test]
fn document_review_refuses_a_decision_outside_the_form() {
    let spec = document_review();
    let review = spec.tasks.iter().find(|t| t.key == "review").unwrap();
    let problems = apply_output(
        review,
        &json!({}),
        &json!({"decision": "withdraw", "review_comments": 3}),
        &Limits::default(),
    )
    .unwrap_err();
    let mut locations: Vec<_> = problems.iter().map(|p| p.location.as_str()).collect();
    locations.sort();
    assert_eq!(locations, ["/decision", "/review_comments"]);
}

fn access(level: &str) -> Value {
    json!({"system": "crm", "level": level, "justification": "Support work"})
}

#[test]
fn it_access_rejected_by_the_manager() {
    let (status, _) = walk(
        &it_access_request(),
        access("admin"),
        &[("manager_approval", json!({"approved": false}))],
    );
    assert_eq!(status, "REJECTED");
}

#[test]
fn it_read_access_is_granted_without_security() {
    let (status, inputs) = walk(
        &it_access_request(),
        access("read"),
        &[
            ("manager_approval", json!({"approved": true})),
            ("grant_access", json!({"id": "g-1", "status": "ok"})),
        ],
    );
    assert_eq!(status, "COMPLETED");
    assert_eq!(inputs[0], access("read"));
}

#[test]
fn it_elevated_access_passes_security_then_is_granted() {
    let spec = it_access_request();
    let (status, inputs) = walk(
        &spec,
        access("write"),
        &[
            (
                "manager_approval",
                json!({"approved": true, "manager_note": "Fine"}),
            ),
            ("security_review", json!({"security_ok": true})),
            ("grant_access", json!({"id": "g-2"})),
        ],
    );
    assert_eq!(status, "COMPLETED");
    assert_eq!(
        inputs[1],
        json!({"system": "crm", "level": "write", "manager_note": "Fine"})
    );
    let grant = spec.tasks.iter().find(|t| t.key == "grant_access").unwrap();
    let merged = apply_action_response(
        grant,
        &access("write"),
        &json!({"id": "g-2"}),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(merged.data["grant_id"], "g-2");
    assert_eq!(
        action_body(grant, &access("write"), &Limits::default()).unwrap(),
        json!({"system": "crm", "level": "write"})
    );
}

#[test]
fn it_elevated_access_refused_by_security() {
    let (status, _) = walk(
        &it_access_request(),
        access("admin"),
        &[
            ("manager_approval", json!({"approved": true})),
            ("security_review", json!({"security_ok": false})),
        ],
    );
    assert_eq!(status, "REJECTED");
}
