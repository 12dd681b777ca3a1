//! Transition conditions: MongoDB-style JSON queries over the workflow data, parsed once
//! into a small AST so that saving a design rejects what the engine could not evaluate.
//!
//! Syntax: a condition is a JSON object whose entries must all hold (`{}` always holds).
//! An entry is either a field test or a logical operator:
//! - `{"amount": 5}` is shorthand for `{"amount": {"$eq": 5}}`;
//! - `{"amount": {"$gt": 3, "$lt": 9}}`: every operator must hold. Field operators are
//!   `$eq $ne $gt $gte $lt $lte` (a value), `$in $nin` (an array), `$exists` (a boolean);
//! - `{"$and": [c, ...]}`, `{"$or": [c, ...]}` take non-empty arrays of conditions,
//!   `{"$not": c}` takes one condition.
//!
//! Fields are dotted paths (`manager.approved`); a segment indexes an object by name or an
//! array by position (`items.0.sku`). There is no implicit traversal of arrays as in MongoDB:
//! `{"tags": "x"}` compares the whole `tags` value.
//!
//! Semantics (total: evaluation never fails, so the engine has no error path here):
//! - equality (`$eq $ne $in $nin` and the shorthand) is JSON equality in which numbers compare
//!   by value, so `1` equals `1.0`;
//! - `$gt $gte $lt $lte` hold only between two numbers (compared numerically, integers exactly,
//!   mixed integer/float as `f64`) or two strings (compared by Unicode code point); any other
//!   pairing, including a missing field, is simply false, as in MongoDB;
//! - a missing field equals `null`: `{"x": null}` holds when `x` is missing or null,
//!   `$ne` and `$nin` hold on a missing field unless they name `null`;
//! - `$exists: true` holds when the field is present, even if null.
//!
//! [`Condition::to_value`] gives back the exact JSON that was parsed (shorthand stays
//! shorthand), so export → import → export is the identity.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Number, Value};

use super::Limits;
use super::problem::{Problem, pointer, walk_bounded};

/// A parsed condition; see the module docs for its syntax and semantics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Condition {
    clauses: Vec<Clause>,
}

/// One entry of a condition object.
#[derive(Clone, Debug, PartialEq)]
enum Clause {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Field { path: String, test: FieldTest },
}

#[derive(Clone, Debug, PartialEq)]
enum FieldTest {
    /// `{"field": value}`.
    Equals(Value),
    /// `{"field": {"$op": arg, ...}}`.
    Operators(Vec<Operator>),
}

#[derive(Clone, Debug, PartialEq)]
enum Operator {
    Compare(Comparison, Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    const ALL: [Comparison; 6] = [Self::Eq, Self::Ne, Self::Gt, Self::Gte, Self::Lt, Self::Lte];

    fn operator(self) -> &'static str {
        match self {
            Self::Eq => "$eq",
            Self::Ne => "$ne",
            Self::Gt => "$gt",
            Self::Gte => "$gte",
            Self::Lt => "$lt",
            Self::Lte => "$lte",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
        }
    }

    fn holds(self, found: Option<&Value>, expected: &Value) -> bool {
        let order = || found.and_then(|found| order(found, expected));
        match self {
            Self::Eq => equals(found, expected),
            Self::Ne => !equals(found, expected),
            Self::Gt => order() == Some(Ordering::Greater),
            Self::Gte => order().is_some_and(Ordering::is_ge),
            Self::Lt => order() == Some(Ordering::Less),
            Self::Lte => order().is_some_and(Ordering::is_le),
        }
    }
}

impl Condition {
    /// Parses a condition, reporting every problem with a JSON pointer into `value`.
    pub fn parse(value: &Value, limits: &Limits) -> Result<Self, Vec<Problem>> {
        let problems = walk_bounded(
            value,
            limits.max_condition_depth,
            limits.max_condition_nodes,
            |_, _| {},
        );
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut problems = Vec::new();
        let condition = parse_condition(value, "", limits, &mut problems);
        if problems.is_empty() {
            Ok(condition)
        } else {
            Err(problems)
        }
    }

    /// The JSON this condition was parsed from.
    pub fn to_value(&self) -> Value {
        Value::Object(self.clauses.iter().map(Clause::to_entry).collect())
    }

    /// Whether the condition holds for `data` (the workflow data object).
    pub fn evaluate(&self, data: &Value) -> bool {
        self.clauses.iter().all(|clause| clause.evaluate(data))
    }

    /// The dotted field paths the condition reads.
    pub fn fields(&self) -> BTreeSet<&str> {
        self.field_locations("")
            .into_iter()
            .map(|(_, path)| path)
            .collect()
    }

    /// Each field path read, with the pointer of its entry below `at`.
    pub(crate) fn field_locations(&self, at: &str) -> Vec<(String, &str)> {
        let mut found = Vec::new();
        self.collect_fields(at, &mut found);
        found
    }

    fn collect_fields<'a>(&'a self, at: &str, found: &mut Vec<(String, &'a str)>) {
        for clause in &self.clauses {
            match clause {
                Clause::And(items) | Clause::Or(items) => {
                    let at = pointer(at, clause.key());
                    for (i, item) in items.iter().enumerate() {
                        item.collect_fields(&pointer(&at, i), found);
                    }
                }
                Clause::Not(inner) => inner.collect_fields(&pointer(at, "$not"), found),
                Clause::Field { path, .. } => found.push((pointer(at, path), path)),
            }
        }
    }

    /// A short human-readable form for edge labels, e.g. `amount > 1000 and (a = 1 or b = 2)`.
    pub fn describe(&self) -> String {
        let terms = self.terms();
        if terms.is_empty() {
            "always".to_owned()
        } else {
            join_terms(&terms, " and ")
        }
    }

    /// The conjuncts of this condition; `bool` marks terms that need parentheses when joined.
    fn terms(&self) -> Vec<(String, bool)> {
        let mut terms = Vec::new();
        for clause in &self.clauses {
            match clause {
                Clause::And(items) => terms.extend(items.iter().map(Condition::as_term)),
                Clause::Or(items) => {
                    let parts: Vec<_> = items.iter().map(Condition::as_term).collect();
                    terms.push((join_terms(&parts, " or "), parts.len() > 1));
                }
                Clause::Not(inner) => {
                    let (text, compound) = inner.as_term();
                    let text = if compound {
                        format!("not ({text})")
                    } else {
                        format!("not {text}")
                    };
                    terms.push((text, false));
                }
                Clause::Field { path, test } => match test {
                    FieldTest::Equals(value) => terms.push((format!("{path} = {value}"), false)),
                    FieldTest::Operators(ops) => {
                        terms.extend(ops.iter().map(|op| (op.describe(path), false)));
                    }
                },
            }
        }
        terms
    }

    /// This condition as one term of a larger expression.
    fn as_term(&self) -> (String, bool) {
        let terms = self.terms();
        match terms.as_slice() {
            [] => ("always".to_owned(), false),
            [single] => single.clone(),
            _ => (join_terms(&terms, " and "), true),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

fn join_terms(terms: &[(String, bool)], joiner: &str) -> String {
    if let [(single, _)] = terms {
        return single.clone();
    }
    terms
        .iter()
        .map(|(text, compound)| {
            if *compound {
                format!("({text})")
            } else {
                text.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(joiner)
}

impl Clause {
    fn key(&self) -> &str {
        match self {
            Self::And(_) => "$and",
            Self::Or(_) => "$or",
            Self::Not(_) => "$not",
            Self::Field { path, .. } => path,
        }
    }

    fn to_entry(&self) -> (String, Value) {
        let value = match self {
            Self::And(items) | Self::Or(items) => {
                Value::Array(items.iter().map(Condition::to_value).collect())
            }
            Self::Not(inner) => inner.to_value(),
            Self::Field { test, .. } => match test {
                FieldTest::Equals(value) => value.clone(),
                FieldTest::Operators(ops) => {
                    Value::Object(ops.iter().map(Operator::to_entry).collect())
                }
            },
        };
        (self.key().to_owned(), value)
    }

    fn evaluate(&self, data: &Value) -> bool {
        match self {
            Self::And(items) => items.iter().all(|item| item.evaluate(data)),
            Self::Or(items) => items.iter().any(|item| item.evaluate(data)),
            Self::Not(inner) => !inner.evaluate(data),
            Self::Field { path, test } => {
                let found = lookup(data, path);
                match test {
                    FieldTest::Equals(expected) => equals(found, expected),
                    FieldTest::Operators(ops) => ops.iter().all(|op| op.holds(found)),
                }
            }
        }
    }
}

impl Operator {
    fn to_entry(&self) -> (String, Value) {
        match self {
            Self::Compare(comparison, value) => (comparison.operator().to_owned(), value.clone()),
            Self::In(values) => ("$in".to_owned(), Value::Array(values.clone())),
            Self::Nin(values) => ("$nin".to_owned(), Value::Array(values.clone())),
            Self::Exists(yes) => ("$exists".to_owned(), Value::Bool(*yes)),
        }
    }

    fn holds(&self, found: Option<&Value>) -> bool {
        match self {
            Self::Compare(comparison, expected) => comparison.holds(found, expected),
            Self::In(values) => values.iter().any(|value| equals(found, value)),
            Self::Nin(values) => !values.iter().any(|value| equals(found, value)),
            Self::Exists(yes) => found.is_some() == *yes,
        }
    }

    fn describe(&self, path: &str) -> String {
        match self {
            Self::Compare(comparison, value) => format!("{path} {} {value}", comparison.symbol()),
            Self::In(values) => format!("{path} in {}", Value::Array(values.clone())),
            Self::Nin(values) => format!("{path} not in {}", Value::Array(values.clone())),
            Self::Exists(true) => format!("{path} exists"),
            Self::Exists(false) => format!("{path} is missing"),
        }
    }
}

fn parse_condition(
    value: &Value,
    at: &str,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Condition {
    let Some(map) = value.as_object() else {
        problems.push(Problem::new(at, "must be an object"));
        return Condition::default();
    };
    let clauses = map
        .iter()
        .filter_map(|(key, value)| parse_clause(key, value, &pointer(at, key), limits, problems))
        .collect();
    Condition { clauses }
}

fn parse_clause(
    key: &str,
    value: &Value,
    at: &str,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Option<Clause> {
    match key {
        "$and" | "$or" => {
            let items = match value.as_array() {
                Some(items) if !items.is_empty() => items,
                _ => {
                    problems.push(Problem::new(at, "must be a non-empty array of conditions"));
                    return None;
                }
            };
            let items = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_condition(item, &pointer(at, i), limits, problems))
                .collect();
            Some(if key == "$and" {
                Clause::And(items)
            } else {
                Clause::Or(items)
            })
        }
        "$not" => Some(Clause::Not(Box::new(parse_condition(
            value, at, limits, problems,
        )))),
        operator if operator.starts_with('$') => {
            problems.push(Problem::new(
                at,
                format!(
                    "unknown operator `{operator}`: expected a field name or one of $and, $or, $not"
                ),
            ));
            None
        }
        path => {
            if let Err(message) = check_field_path(path, limits) {
                problems.push(Problem::new(at, message));
            }
            let test = parse_field_test(value, at, problems)?;
            Some(Clause::Field {
                path: path.to_owned(),
                test,
            })
        }
    }
}

fn check_field_path(path: &str, limits: &Limits) -> Result<(), String> {
    if path.chars().count() > limits.max_jsonpath_len {
        return Err(format!(
            "field path is longer than {} characters",
            limits.max_jsonpath_len
        ));
    }
    if path.split('.').any(|segment| segment.is_empty()) {
        return Err("field path has an empty segment".to_owned());
    }
    if path.split('.').any(|segment| segment.starts_with('$')) {
        return Err("field path segments must not start with `$`".to_owned());
    }
    Ok(())
}

fn parse_field_test(value: &Value, at: &str, problems: &mut Vec<Problem>) -> Option<FieldTest> {
    let Some(map) = value
        .as_object()
        .filter(|map| map.keys().any(|key| key.starts_with('$')))
    else {
        return Some(FieldTest::Equals(value.clone()));
    };
    if map.keys().any(|key| !key.starts_with('$')) {
        problems.push(Problem::new(
            at,
            "mixes operators with plain keys; use only operators such as {\"$eq\": ...}",
        ));
        return None;
    }
    let before = problems.len();
    let ops: Vec<_> = map
        .iter()
        .filter_map(|(op, arg)| parse_operator(op, arg, &pointer(at, op), problems))
        .collect();
    (problems.len() == before).then_some(FieldTest::Operators(ops))
}

fn parse_operator(
    op: &str,
    arg: &Value,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<Operator> {
    let mut problem = |message: &str| {
        problems.push(Problem::new(at, message));
        None
    };
    if let Some(comparison) = Comparison::ALL.into_iter().find(|c| c.operator() == op) {
        let ordered = matches!(arg, Value::Number(_) | Value::String(_));
        if !matches!(comparison, Comparison::Eq | Comparison::Ne) && !ordered {
            return problem("must be a number or a string: only those are ordered");
        }
        return Some(Operator::Compare(comparison, arg.clone()));
    }
    match (op, arg) {
        ("$in", Value::Array(values)) => Some(Operator::In(values.clone())),
        ("$nin", Value::Array(values)) => Some(Operator::Nin(values.clone())),
        ("$in" | "$nin", _) => problem("must be an array of values"),
        ("$exists", Value::Bool(yes)) => Some(Operator::Exists(*yes)),
        ("$exists", _) => problem("must be true or false"),
        ("$and" | "$or" | "$not", _) => {
            problem("is not allowed on a field; use it at the top level of a condition")
        }
        _ => problem(
            "unknown operator: expected one of $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists",
        ),
    }
}

/// The value at a dotted path, if present.
fn lookup<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(data, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// Equality with a missing field counting as `null`.
fn equals(found: Option<&Value>, expected: &Value) -> bool {
    match found {
        Some(found) => json_eq(found, expected),
        None => expected.is_null(),
    }
}

/// JSON equality in which numbers compare by value. Recurses no deeper than the shallower
/// side, and conditions are depth-bounded at parse.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => objects_eq(x, y),
        _ => a == b,
    }
}

fn objects_eq(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len()
        && x.iter()
            .all(|(key, x)| y.get(key).is_some_and(|y| json_eq(x, y)))
}

/// The order between two values, defined only for two numbers or two strings.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let exact = |n: &Number| n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
    match (exact(a), exact(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Condition {
        Condition::parse(&value, &Limits::default()).unwrap()
    }

    fn problems(value: Value) -> Vec<String> {
        Condition::parse(&value, &Limits::default())
            .unwrap_err()
            .into_iter()
            .map(|p| p.location)
            .collect()
    }

    #[test]
    fn shorthand_and_operators_evaluate() {
        let data = json!({"amount": 1500, "manager": {"approved": true}, "tags": ["a"]});
        assert!(parse(json!({"amount": {"$gt": 1000, "$lte": 1500.0}})).evaluate(&data));
        assert!(parse(json!({"manager.approved": true})).evaluate(&data));
        assert!(parse(json!({"tags.0": "a"})).evaluate(&data));
        assert!(!parse(json!({"amount": {"$lt": 1000}})).evaluate(&data));
        assert!(parse(json!({"$or": [{"amount": 1}, {"amount": 1500}]})).evaluate(&data));
        assert!(!parse(json!({"$not": {"amount": 1500}})).evaluate(&data));
        assert!(parse(json!({"amount": {"$in": [1, 1500.0]}})).evaluate(&data));
        assert!(parse(json!({})).evaluate(&data));
    }

    #[test]
    fn mismatched_types_and_missing_fields() {
        let data = json!({"name": "bob", "none": null});
        assert!(!parse(json!({"name": {"$gt": 3}})).evaluate(&data));
        assert!(parse(json!({"name": {"$gt": "alice"}})).evaluate(&data));
        assert!(!parse(json!({"missing": {"$lt": 3}})).evaluate(&data));
        assert!(parse(json!({"missing": null})).evaluate(&data));
        assert!(parse(json!({"missing": {"$ne": 3}})).evaluate(&data));
        assert!(parse(json!({"missing": {"$nin": [3]}})).evaluate(&data));
        assert!(!parse(json!({"missing": {"$nin": [null]}})).evaluate(&data));
        assert!(parse(json!({"none": {"$exists": true}})).evaluate(&data));
        assert!(parse(json!({"missing": {"$exists": false}})).evaluate(&data));
        assert!(!parse(json!({"name.first": "b"})).evaluate(&data));
    }

    #[test]
    fn reports_every_problem_with_a_pointer() {
        let mut found = problems(json!({
            "$and": [],
            "$nor": [],
            "a": {"$gt": true, "$in": 3, "$exists": "yes", "$regex": "x"},
            "b": {"$eq": 1, "plain": 2},
            "c..d": 1,
            "$or": [{"x": {"$not": {"$eq": 1}}}, 7],
        }));
        found.sort();
        assert_eq!(
            found,
            [
                "/$and",
                "/$nor",
                "/$or/0/x/$not",
                "/$or/1",
                "/a/$exists",
                "/a/$gt",
                "/a/$in",
                "/a/$regex",
                "/b",
                "/c..d"
            ]
        );
        assert_eq!(problems(json!([])), [""]);
    }

    #[test]
    fn limits_apply_before_parsing() {
        let limits = Limits {
            max_condition_depth: 4,
            ..Limits::default()
        };
        let deep = json!({"$not": {"$not": {"$not": {"a": 1}}}});
        let problems = Condition::parse(&deep, &limits).unwrap_err();
        assert_eq!(problems[0].location, "/$not/$not/$not/a");

        let values: Vec<_> = (0..300).collect();
        assert!(Condition::parse(&json!({"a": {"$in": values}}), &Limits::default()).is_err());
    }

    #[test]
    fn round_trips_exactly() {
        let value = json!({
            "amount": {"$gte": 10, "$lt": 9.5},
            "status": "OPEN",
            "meta": {"nested": 1},
            "$or": [{"a.b": {"$in": [1, "x"]}}, {"$not": {"c": {"$exists": false}}}],
        });
        assert_eq!(parse(value.clone()).to_value(), value);
    }

    #[test]
    fn lists_fields_with_pointers() {
        let condition = parse(json!({"a": 1, "$or": [{"b.c": 2}, {"$not": {"a": 3}}]}));
        assert_eq!(
            condition.fields().into_iter().collect::<Vec<_>>(),
            ["a", "b.c"]
        );
        assert_eq!(
            condition.field_locations("/condition"),
            [
                ("/condition/$or/0/b.c".to_owned(), "b.c"),
                ("/condition/$or/1/$not/a".to_owned(), "a"),
                ("/condition/a".to_owned(), "a"),
            ]
        );
    }

    #[test]
    fn describes_for_humans() {
        assert_eq!(
            parse(json!({"amount": {"$gt": 1000}})).describe(),
            "amount > 1000"
        );
        assert_eq!(parse(json!({})).describe(), "always");
        assert_eq!(
            parse(json!({"x": "A", "$or": [{"a": 1}, {"b": {"$in": [2, 3]}, "c": {"$exists": false}}]}))
                .describe(),
            "(a = 1 or (b in [2,3] and c is missing)) and x = \"A\""
        );
        assert_eq!(parse(json!({"$not": {"a": 1}})).describe(), "not a = 1");
        assert_eq!(
            parse(json!({"$not": {"a": 1, "b": 2}})).describe(),
            "not (a = 1 and b = 2)"
        );
    }
}
