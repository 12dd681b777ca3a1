//! Input: JSON `[condition, data]` (anything else is taken as a condition over `null`).
//! Parsing, evaluation and description must never panic, and a parsed condition must export
//! exactly what was imported.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use ticketflower_domain::workflow::{Condition, Limits};

fuzz_target!(|bytes: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let (condition, data) = match &input {
        Value::Array(pair) if pair.len() == 2 => (&pair[0], &pair[1]),
        other => (other, &Value::Null),
    };
    let limits = Limits::default();
    let Ok(parsed) = Condition::parse(condition, &limits) else {
        return;
    };
    let holds = parsed.evaluate(data);
    let _ = parsed.describe();
    let _ = parsed.fields();
    assert_eq!(&parsed.to_value(), condition);
    if let Ok(negated) = Condition::parse(&json!({"$not": condition}), &limits) {
        assert_eq!(negated.evaluate(data), !holds);
    }
});
