//! How values survive a round trip through each backend: UUIDs, timestamps, JSON, and the
//! unique-violation mapping that turns a duplicate into a 409 instead of a 500. White-box:
//! these check the store's own mapping, below any endpoint.

use domain::user::UserStatus;
use domain::{Email, SystemRole};
use store::StoreError;
use store::users::{self, NewUser};
use testkit::spawn_app;

fn staff(email: &str) -> NewUser {
    NewUser {
        company_id: None,
        email: Email::parse(email).unwrap(),
        password_hash: "$argon2id$not-a-real-hash".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        status: UserStatus::Active,
        system_roles: vec![SystemRole::Superadmin, SystemRole::User],
        kind: store::users::UserKind::Person,
    }
}

#[tokio::test]
async fn uuids_timestamps_and_json_round_trip() {
    let app = spawn_app().await;
    let db = app.app.db();
    let before = chrono::Utc::now();
    let mut tx = db.begin().await.unwrap();
    let created = users::insert(&mut tx, staff("Ada@Example.com"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let found = users::find_credentials(db, &Email::parse("ada@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, created);
    assert_eq!(found.user.email.as_str(), "ada@example.com");
    assert_eq!(
        found.user.system_roles,
        vec![SystemRole::Superadmin, SystemRole::User]
    );
    let skew = (found.user.created_at - before).num_milliseconds();
    assert!((0..5_000).contains(&skew), "created_at off by {skew} ms");
    assert_eq!(
        users::get_staff(db, created.id).await.unwrap().id,
        created.id
    );
    app.stop().await;
}

#[tokio::test]
async fn unique_violations_name_the_same_constraint_on_both_backends() {
    let app = spawn_app().await;
    let db = app.app.db();
    let mut tx = db.begin().await.unwrap();
    users::insert(&mut tx, staff("grace@example.com"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    let error = users::insert(&mut tx, staff("grace@example.com"))
        .await
        .unwrap_err();
    match error {
        StoreError::Conflict { constraint } => assert_eq!(constraint, "users_email_key"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    drop(tx);
    app.stop().await;
}
