//! Input: a JSONPath expression, a newline, then JSON data (or nothing). Parsing and applying
//! a transform must never panic, and every output key must be one of the transform's.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use ticketflower_domain::workflow::{Limits, Transform};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let (path, data) = text.split_once('\n').unwrap_or((text, "null"));
    let data = serde_json::from_str::<Value>(data).unwrap_or(Value::Null);
    let Ok(transform) = Transform::parse(&json!({"out": path}), &Limits::default()) else {
        return;
    };
    let result = transform.apply(&data);
    let object = result.as_object().expect("apply returns an object");
    assert!(object.keys().all(|key| key == "out"));
});
