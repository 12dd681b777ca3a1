//! A throw-away database per test. PostgreSQL databases get a unique name and are dropped
//! when the test ends; if `TEST_DATABASE_URL` is set but the server cannot be reached, the
//! test fails loudly instead of quietly falling back to SQLite.

use std::path::PathBuf;

use sqlx::{Connection, PgConnection};

/// Which backend this test run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestDbKind {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    pub kind: TestDbKind,
    /// Holds the SQLite file and the data directory alive until the test ends.
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub fn kind_from_env() -> TestDbKind {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => TestDbKind::Postgres,
            _ => TestDbKind::Sqlite,
        }
    }

    /// Stands in for a database handed on to a restarted server: dropping it drops nothing.
    pub(crate) fn placeholder() -> Self {
        Self {
            url: String::new(),
            kind: Self::kind_from_env(),
            dir: tempfile::Builder::new()
                .prefix("ticketflower-moved-")
                .tempdir()
                .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}")),
            postgres: None,
        }
    }

    /// A fresh, empty database (no migrations applied yet).
    pub async fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ticketflower-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.trim().is_empty() => {
                let name = format!("tf_test_{}", uuid::Uuid::now_v7().simple());
                let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "TEST_DATABASE_URL is set ({admin_url}) but PostgreSQL is unreachable: {e}"
                    )
                });
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
                let _ = admin.close().await;
                let url = replace_database(&admin_url, &name);
                Self {
                    url,
                    kind: TestDbKind::Postgres,
                    dir,
                    postgres: Some((admin_url, name)),
                }
            }
            _ => {
                let path: PathBuf = dir.path().join("test.db");
                Self {
                    url: format!("sqlite://{}", path.display()),
                    kind: TestDbKind::Sqlite,
                    dir,
                    postgres: None,
                }
            }
        }
    }
}

/// Swaps the database name in a PostgreSQL URL, keeping user, host and parameters.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = &base[scheme_end..];
    let prefix = match host_part.find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside async context; a short-lived runtime on its own thread does it.
        let result = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(error)) = result {
            eprintln!("warning: could not drop test database: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn swaps_the_database_name() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
