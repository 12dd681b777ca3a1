//! Migration 12: searchable text rebuilt, cut into words by the application.

use crate::db::Backend;

/// Issue 15: the text used to be indexed as written, so each database cut hyphenated words
/// and URLs its own way, and the requester was not in it. Text is now stored cut by
/// `domain::search::index_words` with the requester's name and email; the old text is
/// dropped here and rebuilt by the job workers' sweep (`app::runtime::data::reindex_missing`).
/// On SQLite the rows of `ticket_search_rows` stay: they keep each ticket's FTS rowid.
pub(super) fn up(_backend: Backend) -> Vec<String> {
    [
        "DELETE FROM ticket_search",
        "DELETE FROM ticket_note_search",
    ]
    .map(str::to_owned)
    .to_vec()
}
