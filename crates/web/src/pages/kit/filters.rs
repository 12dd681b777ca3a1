//! Template filters of our own; a page module that uses one brings `filters` into scope
//! (`use crate::pages::kit::filters;`), where askama looks for them.

use std::fmt::Display;

/// A status as people say it: `IN_PROGRESS` reads "In progress", `COMPLETED` "Done",
/// `blocked` "Blocked". Badges keep the status itself as their class, for the colours.
#[askama::filter_fn]
pub fn words(status: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(app::runtime::tickets::status_words(&status.to_string()))
}
