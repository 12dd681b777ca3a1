//! Properties of the workflow design rules that examples cannot pin down: the condition
//! evaluator and transforms never panic and keep their algebra, exports round-trip, validation
//! of arbitrary designs never panics, generated well-formed designs are valid, and diagrams of
//! arbitrary names stay well-formed XML.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use ticketflower_domain::workflow::{
    Condition, Limits, TaskSpec, TaskType, TicketTypeSpec, Transform, TransitionSpec, WorkflowSpec,
    to_mermaid, to_svg, validate_workflow,
};

/// Few names, so that generated conditions and data meet.
const FIELDS: [&str; 5] = ["a", "b", "a.b", "a.0", "c"];
const KEYS: [&str; 3] = ["a", "b", "c"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..=3).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-3.0f64..3.0).prop_map(Value::from),
        prop_oneof![Just("x"), Just("y"), Just(""), Just("$eq")].prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ]
}

/// Arbitrary JSON whose object keys often collide with the field names above.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        prop::sample::select(KEYS.to_vec()).prop_map(String::from),
        prop::sample::select(vec!["$eq", "$gt", "$in", "$and", "$or", "$not", "$exists"])
            .prop_map(String::from),
        "\\PC{0,4}",
    ];
    scalar().prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Syntactically valid condition JSON.
fn condition() -> impl Strategy<Value = Value> {
    let field = prop::sample::select(FIELDS.to_vec());
    let ordered = prop_oneof![
        (-3i64..=3).prop_map(Value::from),
        (-3.0f64..3.0).prop_map(Value::from),
        prop_oneof![Just("x"), Just("y")].prop_map(Value::from),
    ];
    let operator = prop_oneof![
        scalar().prop_map(|v| ("$eq", v)),
        scalar().prop_map(|v| ("$ne", v)),
        ordered.clone().prop_map(|v| ("$gt", v)),
        ordered.clone().prop_map(|v| ("$gte", v)),
        ordered.clone().prop_map(|v| ("$lt", v)),
        ordered.prop_map(|v| ("$lte", v)),
        prop::collection::vec(scalar(), 0..3).prop_map(|v| ("$in", Value::Array(v))),
        prop::collection::vec(scalar(), 0..3).prop_map(|v| ("$nin", Value::Array(v))),
        any::<bool>().prop_map(|v| ("$exists", Value::Bool(v))),
    ];
    let test = prop_oneof![
        scalar(),
        prop::collection::vec(operator, 1..3).prop_map(|pairs| {
            Value::Object(
                pairs
                    .into_iter()
                    .map(|(op, v)| (op.to_owned(), v))
                    .collect(),
            )
        }),
    ];
    let leaf = prop::collection::btree_map(field, test, 0..3)
        .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|c| json!({"$and": c})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|c| json!({"$or": c})),
            inner.prop_map(|c| json!({"$not": c})),
        ]
    })
}

fn parse(value: &Value) -> Condition {
    Condition::parse(value, &Limits::default()).expect("generated conditions are valid")
}

fn jsonpath() -> impl Strategy<Value = String> {
    let segment = prop::sample::select(vec![
        ".a",
        ".b",
        "[0]",
        "[-1]",
        "[*]",
        "..a",
        "..*",
        "['c']",
        "[1:3]",
        "[::-1]",
        "[?@.a > 1]",
        "[?@ == 'x']",
        "[?length(@) > 0]",
        "[?match(@, 'x.*')]",
        "[?!@.b]",
    ]);
    prop_oneof![
        prop::collection::vec(segment, 0..5).prop_map(|s| format!("${}", s.concat())),
        "\\PC{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_conditions_never_panic(condition in any_json(), data in any_json()) {
        if let Ok(parsed) = Condition::parse(&condition, &Limits::default()) {
            parsed.evaluate(&data);
            parsed.describe();
            prop_assert_eq!(parsed.to_value(), condition);
        }
    }

    #[test]
    fn conditions_round_trip(value in condition()) {
        let parsed = parse(&value);
        prop_assert_eq!(&parsed.to_value(), &value);
        prop_assert_eq!(parse(&parsed.to_value()), parsed);
    }

    #[test]
    fn not_inverts(value in condition(), data in any_json()) {
        let negated = parse(&json!({"$not": value.clone()}));
        prop_assert_eq!(negated.evaluate(&data), !parse(&value).evaluate(&data));
    }

    #[test]
    fn and_with_itself_is_itself(value in condition(), data in any_json()) {
        let doubled = parse(&json!({"$and": [value.clone(), value.clone()]}));
        prop_assert_eq!(doubled.evaluate(&data), parse(&value).evaluate(&data));
    }

    #[test]
    fn membership_of_one_is_equality(
        field in prop::sample::select(FIELDS.to_vec()),
        value in scalar(),
        data in any_json(),
    ) {
        let eq = parse(&json!({field: {"$eq": value.clone()}})).evaluate(&data);
        prop_assert_eq!(parse(&json!({field: {"$in": [value.clone()]}})).evaluate(&data), eq);
        prop_assert_eq!(parse(&json!({field: value.clone()})).evaluate(&data), eq);
        prop_assert_eq!(parse(&json!({field: {"$ne": value.clone()}})).evaluate(&data), !eq);
        prop_assert_eq!(parse(&json!({field: {"$nin": [value]}})).evaluate(&data), !eq);
    }

    #[test]
    fn transforms_never_panic(
        paths in prop::collection::btree_map("[a-z]{1,3}", jsonpath(), 0..4),
        data in any_json(),
    ) {
        let map = Value::Object(paths.into_iter().map(|(k, v)| (k, Value::from(v))).collect());
        if let Ok(transform) = Transform::parse(&map, &Limits::default()) {
            let out = transform.apply(&data);
            prop_assert!(out.as_object().is_some_and(|o| o.keys().all(|k| map.get(k).is_some())));
            prop_assert_eq!(transform.to_value(), map);
        }
    }
}

/// A generated design: tasks only lead forward, so every task is reachable (each one after the
/// first has an earlier predecessor) and can end (the last tasks all end).
#[derive(Debug, Clone)]
struct Shape {
    tasks: Vec<(TaskType, String)>,
    /// For task i > 0: its predecessor is `parents[i] % i`.
    parents: Vec<usize>,
    /// Extra edges (from, to), any direction: loops are allowed.
    extra: Vec<(usize, usize, bool)>,
}

fn shape() -> impl Strategy<Value = Shape> {
    let task = (
        prop::sample::select(vec![
            TaskType::Form,
            TaskType::SyncAction,
            TaskType::AsyncAction,
        ]),
        "\\PC{0,40}",
    );
    prop::collection::vec(task, 1..8).prop_flat_map(|tasks| {
        let n = tasks.len();
        (
            Just(tasks),
            prop::collection::vec(any::<usize>(), n),
            prop::collection::vec((0..n, 0..n, any::<bool>()), 0..6),
        )
            .prop_map(|(tasks, parents, extra)| Shape {
                tasks,
                parents,
                extra,
            })
    })
}

fn build(shape: &Shape) -> WorkflowSpec {
    let n = shape.tasks.len();
    let key = |i: usize| format!("t{i}");
    let tasks = shape
        .tasks
        .iter()
        .enumerate()
        .map(|(i, (task_type, name))| {
            let action = task_type.is_action();
            TaskSpec {
                key: key(i),
                name: format!("task {i} {}", name.trim()),
                description: String::new(),
                task_type: *task_type,
                input_schema: Some(json!({"type": "object", "properties": {"amount": {}}})),
                output_schema: Some(json!({"properties": {format!("out{i}"): {}}})),
                action_url: action.then(|| "https://example.com/hook".to_owned()),
                input_transform: action.then(|| json!({"value": "$.amount"})),
                output_transform: action.then(|| json!({format!("res{i}"): "$.id"})),
                timeout_seconds: action.then_some(30),
                company_role_access: vec![],
                assignment: Default::default(),
            }
        })
        .collect();
    let mut transitions = vec![TransitionSpec {
        key: "start".into(),
        from_task: None,
        to_task: Some(key(0)),
        to_status: None,
        condition: None,
        priority: 0,
    }];
    let mut edge = |from: usize, to: Option<usize>, condition: Option<Value>| {
        transitions.push(TransitionSpec {
            key: format!("e{}", transitions.len()),
            from_task: Some(key(from)),
            to_task: to.map(key),
            to_status: to.is_none().then(|| "COMPLETED".to_owned()),
            condition,
            priority: 0,
        })
    };
    for i in 1..n {
        edge(shape.parents[i] % i, Some(i), None);
    }
    let mut has_forward = vec![false; n];
    for i in 1..n {
        has_forward[shape.parents[i] % i] = true;
    }
    for (i, forward) in has_forward.iter().enumerate() {
        if !forward {
            edge(i, None, Some(json!({"amount": {"$gt": 10}})));
        }
    }
    for &(from, to, conditional) in &shape.extra {
        let condition = conditional.then(|| json!({format!("out{from}"): {"$exists": true}}));
        edge(from, Some(to), condition);
    }
    WorkflowSpec {
        title: "Generated".into(),
        description: String::new(),
        ext_ref: vec![],
        fields: json!({"type": "object", "properties": {"amount": {"type": "number"}}}),
        tasks,
        transitions,
    }
}

fn ticket_type() -> TicketTypeSpec {
    TicketTypeSpec {
        key: "ask".into(),
        title: "Ask".into(),
        description: String::new(),
        summary: String::new(),
        fields: json!({"properties": {"amount": {"type": "number"}}}),
        company_role_access: vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_well_formed_designs_are_valid(shape in shape()) {
        let spec = build(&shape);
        prop_assert_eq!(validate_workflow(&spec, &[ticket_type()], &Limits::default()), vec![]);
    }

    #[test]
    fn diagrams_of_any_names_are_well_formed(shape in shape()) {
        let spec = build(&shape);
        let svg = to_svg(&spec);
        let document = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let titles = document.descendants().filter(|n| n.has_tag_name("title")).count();
        let conditional = spec.transitions.iter().filter(|t| t.condition.is_some()).count();
        // The diagram, each node, each edge and each edge label carry one.
        prop_assert_eq!(
            titles,
            1 + (1 + spec.tasks.len() + 1) + spec.transitions.len() + conditional
        );
        let area = |rect: roxmltree::Node<'_, '_>| {
            ["x", "y", "width", "height"].map(|a| rect.attribute(a).unwrap().parse::<f64>().unwrap())
        };
        let (labels, nodes): (Vec<_>, Vec<_>) = document
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .partition(|r| r.attribute("class") == Some("edge-label-bg"));
        let overlap = |[ax, ay, aw, ah]: [f64; 4], [bx, by, bw, bh]: [f64; 4]| {
            ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah
        };
        for (i, &label) in labels.iter().enumerate() {
            for &other in labels[i + 1..].iter().chain(&nodes) {
                prop_assert!(!overlap(area(label), area(other)), "{:?} {:?}", label, other);
            }
        }
        let mermaid = to_mermaid(&spec);
        let label_lines = mermaid.lines().filter(|l| l.contains(":::")).count();
        prop_assert_eq!(label_lines, 1 + spec.tasks.len() + 1);
    }

    #[test]
    fn arbitrary_designs_never_panic(
        shape in shape(),
        edits in prop::collection::vec((0usize..64, any_json()), 0..6),
        keys in prop::collection::vec(prop::sample::select(vec!["t0", "t1", "x", "", "t0"]), 0..6),
    ) {
        let mut spec = serde_json::to_value(build(&shape)).unwrap();
        let mut pointers = Vec::new();
        collect_pointers(&spec, String::new(), &mut pointers);
        for (pick, value) in edits {
            let at = &pointers[pick % pointers.len()];
            if let Some(slot) = spec.pointer_mut(at) {
                *slot = value;
            }
        }
        let Ok(mut spec) = serde_json::from_value::<WorkflowSpec>(spec) else { return Ok(()) };
        for (i, key) in keys.into_iter().enumerate() {
            if let Some(transition) = spec.transitions.get_mut(i) {
                transition.from_task = Some(key.to_owned());
            }
        }
        validate_workflow(&spec, &[ticket_type()], &Limits::default());
        roxmltree::Document::parse(&to_svg(&spec)).expect("well-formed SVG");
        to_mermaid(&spec);
    }
}

fn collect_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                collect_pointers(
                    item,
                    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_pointers(item, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}
