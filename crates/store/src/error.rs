//! The store's error type. Unique violations are kept apart from other database errors so
//! that the web layer can answer 409 naming what collided instead of a 500.

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique index rejected the write. `constraint` is the index name in the
    /// `<table>_<columns>_key` convention, identical on both backends.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// A stored value no longer parses into its domain type.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The group commit of SQLite's writer failed: nothing of the change stands
    /// (`writer.rs`).
    #[error("the commit failed: {0}")]
    Commit(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict {
                constraint: db
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| sqlite_constraint_name(db.message())),
            },
            _ => Self::Database(error),
        }
    }
}

/// SQLite reports `UNIQUE constraint failed: users.company_id, users.name` instead of the
/// index name; rebuild the name PostgreSQL would give (`users_company_id_name_key`).
fn sqlite_constraint_name(message: &str) -> String {
    let columns = message
        .rsplit(": ")
        .next()
        .unwrap_or(message)
        .split(", ")
        .map(str::trim)
        .collect::<Vec<_>>();
    let table = columns
        .first()
        .and_then(|c| c.split_once('.'))
        .map(|(t, _)| t)
        .unwrap_or("unknown");
    let names = columns
        .iter()
        .map(|c| c.split_once('.').map(|(_, col)| col).unwrap_or(c))
        .collect::<Vec<_>>()
        .join("_");
    format!("{table}_{names}_key")
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::sqlite_constraint_name;

    #[test]
    fn rebuilds_postgres_style_names() {
        assert_eq!(
            sqlite_constraint_name("UNIQUE constraint failed: users.email"),
            "users_email_key"
        );
        assert_eq!(
            sqlite_constraint_name(
                "UNIQUE constraint failed: company_roles.company_id, company_roles.name"
            ),
            "company_roles_company_id_name_key"
        );
    }
}
