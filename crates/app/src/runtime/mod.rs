//! The ticket runtime: tickets, their tasks, the workflow engine that moves them, and the
//! action tasks it calls.

pub mod actions;
pub mod data;
pub mod engine;
pub mod tasks;
pub mod tickets;
pub mod versions;
