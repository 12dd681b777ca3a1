//! Input: a workflow design as JSON, with its ticket types in a `ticket_types` member (the
//! export format). Validation and both renderers must never panic on any design.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use ticketflower_domain::workflow::{
    Limits, TicketTypeSpec, WorkflowSpec, to_mermaid, to_svg, validate_workflow,
};

fuzz_target!(|bytes: &[u8]| {
    let Ok(document) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let ticket_types: Vec<TicketTypeSpec> = document
        .get("ticket_types")
        .and_then(|types| serde_json::from_value(types.clone()).ok())
        .unwrap_or_default();
    let Ok(spec) = serde_json::from_value::<WorkflowSpec>(document) else {
        return;
    };
    let _ = validate_workflow(&spec, &ticket_types, &Limits::default());
    let svg = to_svg(&spec);
    assert!(!svg.contains("<script"));
    let _ = to_mermaid(&spec);
});
