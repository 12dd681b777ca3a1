//! Searching support conversations' messages and exporting a conversation's transcript
//! (issue 17, item 6), on whichever database the run uses.
//!
//! What is decided here:
//! - A search finds the messages its caller may read: an agent (or admin) every
//!   conversation of the company, internal notes included; a requester their own
//!   conversations, never an internal note; another company nothing. Words are cut as
//!   ticket search cuts them (`north-west`, prefixes).
//! - A deleted message is found by nobody; an edited one by its new text, never its old.
//! - A query without a word, or longer than 200 characters, is a 422 naming `q`.
//! - Hits come newest first and page by `next_cursor`; each names its conversation, the
//!   message (id, seq), its author, time and a snippet, which the page shows escaped with the
//!   words found marked.
//! - A transcript (JSON, CSV, printable page) holds every message its reader may read in
//!   order: a requester's has no internal note, an agent's marks them; deleted messages are
//!   tombstones, edited ones are marked; the JSON's hashes re-compute the chain.

use chrono::DateTime;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::fixtures::{self, Company, Member};
use testkit::{ApiClient, ApiResponse, Body, TestApp, id, spawn_app};

use crate::common::{page, page_answer};

const CONVERSATIONS: &str = "/api/v1/conversations";

/// Acme with its admin Ada, an agent (Agnes) and two requesters (Rita, Rob), each with a
/// conversation; Globex with an agent (Gina).
struct Desk {
    app: TestApp,
    acme: Company,
    agent: Member,
    rita: Member,
    rob: Member,
    rita_conversation: String,
    rob_conversation: String,
    gina: Member,
    globex: Company,
}

async fn desk() -> Desk {
    let app = spawn_app().await;
    let acme = fixtures::sign_up(&app, "Acme", "ada@acme.io").await;
    let agent = acme
        .add_member("agnes@acme.io", "Agnes", &["agent"], &[])
        .await;
    let rita = acme
        .add_member("rita@acme.io", "Rita", &["user"], &[])
        .await;
    let rob = acme.add_member("rob@acme.io", "Rob", &["user"], &[]).await;
    let rita_conversation = id(&open(&rita.api, json!({"subject": "Printer trouble"})).await);
    let rob_conversation = id(&open(&rob.api, json!({})).await);
    let globex = fixtures::sign_up(&app, "Globex", "gus@globex.io").await;
    let gina = globex
        .add_member("gina@globex.io", "Gina", &["agent"], &[])
        .await;
    Desk {
        app,
        acme,
        agent,
        rita,
        rob,
        rita_conversation,
        rob_conversation,
        gina,
        globex,
    }
}

// ---- Calls

async fn call(client: &ApiClient, method: Method, path: &str, body: Option<Value>) -> ApiResponse {
    client
        .send(method, path, body.map_or(Body::Empty, Body::Json))
        .await
}

/// A conversation opened (201).
async fn open(client: &ApiClient, body: Value) -> Value {
    call(client, Method::POST, CONVERSATIONS, Some(body))
        .await
        .expect(201)
}

/// A message posted (201): public, or an internal note.
async fn post(client: &ApiClient, conversation: &str, body: &str, internal: bool) -> Value {
    let path = format!("{CONVERSATIONS}/{conversation}/messages");
    let message = json!({ "body": body, "internal": internal });
    call(client, Method::POST, &path, Some(message))
        .await
        .expect(201)
}

async fn edit(client: &ApiClient, conversation: &str, message: &str, body: &str) {
    let path = format!("{CONVERSATIONS}/{conversation}/messages/{message}");
    call(client, Method::PATCH, &path, Some(json!({ "body": body })))
        .await
        .expect(200);
}

async fn delete(client: &ApiClient, conversation: &str, message: &str) {
    let path = format!("{CONVERSATIONS}/{conversation}/messages/{message}");
    call(client, Method::DELETE, &path, None).await.expect(204);
}

/// `GET /api/v1/conversations/search?{query}`
async fn search(client: &ApiClient, query: &str) -> ApiResponse {
    let path = format!("{CONVERSATIONS}/search?{query}");
    call(client, Method::GET, &path, None).await
}

/// The hits of a search for `q` (200), newest first.
async fn found(client: &ApiClient, q: &str) -> Vec<Value> {
    let page = search(client, &format!("q={}", pct(q))).await.expect(200);
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{q:?}: {page}"))
        .clone()
}

/// The bodies' message ids a search for `q` finds.
async fn found_ids(client: &ApiClient, q: &str) -> Vec<String> {
    found(client, q)
        .await
        .iter()
        .map(|hit| hit["message_id"].as_str().unwrap().to_owned())
        .collect()
}

/// `GET /api/v1/conversations/{id}/transcript?format=…`
async fn transcript(client: &ApiClient, conversation: &str, format: Option<&str>) -> ApiResponse {
    let query = format.map(|f| format!("?format={f}")).unwrap_or_default();
    let path = format!("{CONVERSATIONS}/{conversation}/transcript{query}");
    call(client, Method::GET, &path, None).await
}

fn pct(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The fields a 422 problem names.
#[track_caller]
fn fields(answer: ApiResponse) -> Vec<String> {
    assert!(answer.is_problem(), "not a problem document: {answer}");
    answer.expect(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

// ---- Search

#[tokio::test]
async fn each_reader_finds_only_the_messages_they_may_read() {
    let d = desk().await;
    let (agnes, rita, rob) = (&d.agent.api, &d.rita.api, &d.rob.api);
    let (ritas, robs) = (&d.rita_conversation, &d.rob_conversation);
    let asked = id(&post(rita, ritas, "My printer jams on floor three", false).await);
    let answered = id(&post(agnes, ritas, "Try the north-west tray first", false).await);
    let noted = id(&post(agnes, ritas, "Printer under warranty: refund-ticket", true).await);
    let robs_message = id(&post(rob, robs, "Printer is out of toner", false).await);

    // Agents and admins: the company's conversations, internal notes included, newest first.
    assert_eq!(
        found_ids(agnes, "printer").await,
        [robs_message.as_str(), noted.as_str(), asked.as_str()]
    );
    assert_eq!(found_ids(&d.acme.admin, "warranty").await, [noted.as_str()]);
    // Requesters: their own conversations, never a note.
    assert_eq!(found_ids(rita, "printer").await, [asked.as_str()]);
    assert_eq!(found_ids(rob, "printer").await, [robs_message.as_str()]);
    assert!(found_ids(rita, "warranty").await.is_empty());
    assert!(found_ids(rita, "toner").await.is_empty());
    // Another company: nothing, whatever it asks.
    for client in [&d.gina.api, &d.globex.admin] {
        for q in ["printer", "warranty", "toner", "north-west"] {
            assert!(found_ids(client, q).await.is_empty(), "{q}");
        }
    }
    // Words are cut like ticket text: hyphens, prefixes, punctuation as breaks.
    for q in ["north-west", "northwest", "west", "tra", "TRY the"] {
        assert_eq!(found_ids(rita, q).await, [answered.as_str()], "{q:?}");
    }
    assert_eq!(found_ids(agnes, "refund").await, [noted.as_str()]);
    assert!(found_ids(agnes, "ray").await.is_empty());

    // A hit names its conversation, the message, its author, time and a snippet.
    let hits = found(agnes, "warranty").await;
    let hit = &hits[0];
    assert_eq!(hit["conversation_id"], ritas.as_str(), "{hit}");
    assert_eq!(hit["conversation_title"], "Printer trouble", "{hit}");
    assert_eq!(hit["requester_id"], d.rita.id.as_str(), "{hit}");
    assert_eq!(hit["requester_name"], "Rita Acme", "{hit}");
    assert_eq!(hit["seq"], 3, "{hit}");
    assert_eq!(hit["author_id"], d.agent.id.as_str(), "{hit}");
    assert_eq!(hit["author_name"], "Agnes Acme", "{hit}");
    assert_eq!(hit["internal"], true, "{hit}");
    assert_eq!(hit["edited_at"], Value::Null, "{hit}");
    assert!(DateTime::parse_from_rfc3339(hit["created_at"].as_str().unwrap()).is_ok());
    assert_eq!(
        hit["snippet"], "Printer under warranty: refund-ticket",
        "{hit}"
    );
    let robs_hit = &found(agnes, "toner").await[0];
    assert_eq!(robs_hit["conversation_title"], "Support for Rob Acme");
    d.app.stop().await;
}

#[tokio::test]
async fn an_edited_message_is_found_by_its_new_text_and_a_deleted_one_by_nobody() {
    let d = desk().await;
    let (agnes, rita) = (&d.agent.api, &d.rita.api);
    let conversation = &d.rita_conversation;
    let message = id(&post(rita, conversation, "A blue screen at boot", false).await);
    let note = id(&post(agnes, conversation, "Known bluescreen driver", true).await);
    assert_eq!(found_ids(rita, "blue").await, [message.as_str()]);

    edit(rita, conversation, &message, "A green screen at boot").await;
    edit(agnes, conversation, &note, "Known greenscreen driver").await;
    for client in [rita, agnes] {
        assert!(found_ids(client, "blue").await.is_empty());
    }
    assert!(found_ids(agnes, "bluescreen").await.is_empty());
    assert_eq!(found_ids(rita, "green").await, [message.as_str()]);
    assert_eq!(
        found_ids(agnes, "green").await,
        [note.as_str(), message.as_str()]
    );
    let hit = &found(rita, "green").await[0];
    assert!(hit["edited_at"].is_string(), "{hit}");
    assert_eq!(hit["snippet"], "A green screen at boot");

    delete(rita, conversation, &message).await;
    delete(agnes, conversation, &note).await;
    for client in [rita, agnes] {
        for q in ["green", "blue", "boot", "driver"] {
            assert!(found_ids(client, q).await.is_empty(), "{q}");
        }
    }
    d.app.stop().await;
}

#[tokio::test]
async fn a_query_without_a_word_or_over_two_hundred_characters_is_refused_naming_q() {
    let d = desk().await;
    let rita = &d.rita.api;
    post(rita, &d.rita_conversation, "hello", false).await;
    let long = "a".repeat(201);
    for query in [
        String::new(),
        "q=".into(),
        "q=%20%20".into(),
        "q=%21%3F%2A%22".into(),
        format!("q={long}"),
    ] {
        assert_eq!(fields(search(rita, &query).await), ["q"], "{query}");
    }
    let longest = format!("hello {}", "b".repeat(194));
    assert_eq!(longest.chars().count(), 200);
    assert!(found_ids(rita, &longest).await.is_empty());
    assert_eq!(
        fields(search(rita, "q=hello&cursor=nope").await),
        ["cursor"]
    );
    assert_eq!(fields(search(rita, "q=hello&limit=-1").await), ["limit"]);
    d.app.stop().await;
}

#[tokio::test]
async fn hits_page_newest_first_by_cursor() {
    let d = desk().await;
    let rita = &d.rita.api;
    let mut written = Vec::new();
    for n in 1..=5 {
        let body = format!("alpha number {n}");
        written.push(id(&post(rita, &d.rita_conversation, &body, false).await));
    }
    post(rita, &d.rita_conversation, "beta", false).await;
    written.reverse();
    let mut seen = Vec::new();
    let mut query = "q=alpha&limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = search(rita, &query).await.expect(200);
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{page}");
        seen.extend(
            items
                .iter()
                .map(|h| h["message_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("q=alpha&limit=2&cursor={cursor}"),
            None => break,
        }
        assert!(pages < 5, "paging does not end: {page}");
    }
    assert_eq!(seen, written);
    assert_eq!(pages, 3);
    d.app.stop().await;
}

#[tokio::test]
async fn a_snippet_is_cut_around_the_words_and_the_page_shows_it_escaped_and_marked() {
    let d = desk().await;
    let (agnes, rita) = (&d.agent.api, &d.rita.api);
    let filler = "lorem ipsum dolor ".repeat(20);
    let body = format!("{filler}the <b>needle</b> & haystack {filler}");
    let message = post(rita, &d.rita_conversation, &body, false).await;
    let hit = &found(rita, "needle hay").await[0];
    let snippet = hit["snippet"].as_str().unwrap();
    assert!(
        snippet.starts_with('…') && snippet.ends_with('…'),
        "{snippet}"
    );
    assert!(
        snippet.contains("the <b>needle</b> & haystack"),
        "{snippet}"
    );
    assert!(snippet.chars().count() <= 170, "{snippet}");

    // The list page: the hit links to the message in its conversation, its text escaped.
    let html = page(&d.app, rita.token().unwrap(), "/conversations?q=needle+hay").await;
    let anchor = format!("/conversations/{}#m{}", d.rita_conversation, message["seq"]);
    assert!(html.contains(&anchor), "{html}");
    assert!(
        html.contains("&#60;b&#62;<mark>needle</mark>&#60;/b&#62; &#38; <mark>haystack</mark>"),
        "{html}"
    );
    assert!(!html.contains("<b>needle"), "{html}");
    // An agent's page marks internal notes; a refused search says why, naming nothing else.
    post(agnes, &d.rita_conversation, "needle note", true).await;
    let html = page(&d.app, agnes.token().unwrap(), "/conversations?q=needle").await;
    assert!(html.contains("internal note"), "{html}");
    assert!(html.contains("Agnes Acme · to Rita Acme"), "{html}");
    let refused = page_answer(&d.app, agnes.token().unwrap(), "/conversations?q=%21%21").await;
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(text.contains("must hold a word to search for"), "{text}");
    d.app.stop().await;
}

#[tokio::test]
async fn messages_written_before_the_index_existed_are_found_after_the_sweep() {
    let d = desk().await;
    let rita = &d.rita.api;
    let message = id(&post(rita, &d.rita_conversation, "Legacy quokka", false).await);
    let deleted = id(&post(rita, &d.rita_conversation, "Gone quokka", false).await);
    delete(rita, &d.rita_conversation, &deleted).await;
    // As a database migrated from before message search holds them: no words at all.
    let mut tx = d.app.app.db().begin().await.unwrap();
    let sql = match tx.backend() {
        store::Backend::Sqlite => "DELETE FROM message_search",
        store::Backend::Postgres => "DELETE FROM message_search",
    };
    tx.execute_script(sql).await.unwrap();
    tx.commit().await.unwrap();
    assert!(found_ids(rita, "quokka").await.is_empty());
    // The sweep indexes what stands (once), never the tombstone.
    let indexed = app::conversations::search::index_missing(&d.app.app)
        .await
        .unwrap();
    assert!(indexed >= 1, "{indexed}");
    assert_eq!(found_ids(rita, "quokka").await, [message.as_str()]);
    let again = app::conversations::search::index_missing(&d.app.app)
        .await
        .unwrap();
    assert_eq!(again, 0);
    // A company's words dropped (its search setting changed) come back through the sweep;
    // another company's stay as they are.
    let gus = id(&open(&d.globex.admin, json!({"subject": "quokka at Globex"})).await);
    let theirs = id(&post(&d.gina.api, &gus, "Globex quokka note", true).await);
    let acme: domain::CompanyId = d.acme.id.parse().unwrap();
    let mut tx = d.app.app.db().begin().await.unwrap();
    app::conversations::search::reset(&mut tx, acme)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(found_ids(rita, "quokka").await.is_empty());
    assert_eq!(found_ids(&d.gina.api, "quokka").await, [theirs.as_str()]);
    let rebuilt = app::conversations::search::index_missing(&d.app.app)
        .await
        .unwrap();
    assert_eq!(rebuilt, 1);
    assert_eq!(found_ids(rita, "quokka").await, [message.as_str()]);
    d.app.stop().await;
}

// ---- Transcripts

/// Rita's conversation: her question (edited), Agnes's answer, an internal note, Rita's
/// deleted message and a message with CSV's troublesome characters; the message ids.
async fn conversation_with_history(d: &Desk) -> Vec<String> {
    let (agnes, rita) = (&d.agent.api, &d.rita.api);
    let conversation = &d.rita_conversation;
    let asked = id(&post(rita, conversation, "My printer jams", false).await);
    edit(rita, conversation, &asked, "My printer jams on floor 3").await;
    let answered = id(&post(agnes, conversation, "Try tray <b>2</b>", false).await);
    let noted = id(&post(agnes, conversation, "Secret: warranty ends", true).await);
    let gone = id(&post(rita, conversation, "never mind", false).await);
    delete(rita, conversation, &gone).await;
    let tricky = "=SUM(A1), \"quoted\"\nsecond line";
    let last = id(&post(rita, conversation, tricky, false).await);
    vec![asked, answered, noted, gone, last]
}

/// Re-computes a message's hash from the transcript's JSON, as `verify` does.
fn link_of(conversation: &str, m: &Value) -> String {
    let at = DateTime::parse_from_rfc3339(m["created_at"].as_str().unwrap()).unwrap();
    let canonical = format!(
        "{}\n{conversation}\n{}\n{}\n{}\n{}\n{}",
        m["prev_hash"].as_str().unwrap(),
        m["seq"],
        m["author_id"].as_str().unwrap(),
        m["internal"],
        at.timestamp_micros(),
        m["body_hash"].as_str().unwrap()
    );
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

#[tokio::test]
async fn a_json_transcript_holds_what_its_reader_may_read_and_checks_against_the_chain() {
    let d = desk().await;
    let ids = conversation_with_history(&d).await;
    let conversation = &d.rita_conversation;

    let answer = transcript(&d.agent.api, conversation, None).await;
    assert_eq!(answer.content_type(), "application/json");
    let disposition = answer.headers["content-disposition"].to_str().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"conversation-{conversation}-transcript.json\"")
    );
    let full = answer.expect(200);
    assert_eq!(full["conversation"]["id"], conversation.as_str());
    assert_eq!(full["title"], "Printer trouble");
    assert_eq!(full["with_internal"], true);
    let messages = full["messages"].as_array().unwrap();
    let listed: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let (asked, answered, noted, gone) = (&messages[0], &messages[1], &messages[2], &messages[3]);
    assert_eq!(asked["body"], "My printer jams on floor 3");
    assert!(asked["edited_at"].is_string(), "{asked}");
    assert_eq!(asked["version"], 2);
    assert_eq!(asked["author_name"], "Rita Acme");
    assert_eq!(answered["body"], "Try tray <b>2</b>");
    assert_eq!(answered["edited_at"], Value::Null);
    assert_eq!(noted["internal"], true);
    assert_eq!(noted["body"], "Secret: warranty ends");
    assert_eq!(
        (gone["deleted"].clone(), gone["body"].clone()),
        (json!(true), json!(""))
    );
    // The chain: each message follows the one before, and its hash re-computes.
    let mut prev = "0".repeat(64);
    for m in messages {
        assert_eq!(m["prev_hash"], prev.as_str(), "{m}");
        assert_eq!(link_of(conversation, m), m["hash"].as_str().unwrap(), "{m}");
        prev = m["hash"].as_str().unwrap().to_owned();
    }
    // The answer the chain covers: the first body of an unedited message.
    assert_eq!(
        answered["body_hash"],
        hex::encode(Sha256::digest(b"Try tray <b>2</b>"))
    );

    // The requester's: the same without the note, whose hash still links the chain.
    let own = transcript(&d.rita.api, conversation, Some("json"))
        .await
        .expect(200);
    assert_eq!(own["with_internal"], false);
    let own_messages = own["messages"].as_array().unwrap();
    let own_seqs: Vec<i64> = own_messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(own_seqs, [1, 2, 4, 5]);
    assert!(!own.to_string().contains("warranty"), "{own}");
    assert!(own_messages.iter().all(|m| m["internal"] == false));
    for m in own_messages {
        assert_eq!(link_of(conversation, m), m["hash"].as_str().unwrap(), "{m}");
    }
    d.app.stop().await;
}

#[tokio::test]
async fn a_csv_transcript_has_a_row_per_readable_message_quoted_and_defused() {
    let d = desk().await;
    conversation_with_history(&d).await;
    let conversation = &d.rita_conversation;
    for (client, seqs, with_note) in [
        (&d.agent.api, vec!["1", "2", "3", "4", "5"], true),
        (&d.rita.api, vec!["1", "2", "4", "5"], false),
    ] {
        let answer = transcript(client, conversation, Some("csv")).await;
        assert_eq!(answer.status, 200, "{answer}");
        assert_eq!(answer.content_type(), "text/csv; charset=utf-8");
        let disposition = answer.headers["content-disposition"].to_str().unwrap();
        assert!(disposition.ends_with("-transcript.csv\""), "{disposition}");
        let mut reader = csv::Reader::from_reader(answer.bytes.as_slice());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            header,
            [
                "seq",
                "message_id",
                "created_at",
                "author_id",
                "author_name",
                "internal",
                "edited_at",
                "deleted",
                "body",
                "answers",
                "body_hash",
                "prev_hash",
                "hash"
            ]
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let got: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(got, seqs);
        let by_seq = |seq: &str| rows.iter().find(|r| &r[0] == seq).unwrap();
        assert_eq!(&by_seq("1")[8], "My printer jams on floor 3");
        assert!(!by_seq("1")[6].is_empty(), "edited: {:?}", by_seq("1"));
        assert_eq!(&by_seq("1")[4], "Rita Acme");
        assert_eq!((&by_seq("4")[7], &by_seq("4")[8]), ("true", ""));
        // Commas, quotes and lines survive; a formula is written as text.
        assert_eq!(&by_seq("5")[8], "'=SUM(A1), \"quoted\"\nsecond line");
        let text = String::from_utf8(answer.bytes.clone()).unwrap();
        assert_eq!(text.contains("warranty"), with_note, "{text}");
        if with_note {
            assert_eq!(&by_seq("3")[5], "true");
        }
    }
    let bad = transcript(&d.agent.api, conversation, Some("xml")).await;
    assert_eq!(fields(bad), ["format"]);
    d.app.stop().await;
}

#[tokio::test]
async fn the_printable_transcript_shows_each_reader_their_messages_escaped() {
    let d = desk().await;
    conversation_with_history(&d).await;
    let conversation = &d.rita_conversation;
    let path = format!("/conversations/{conversation}/transcript");
    let agents = page(&d.app, d.agent.api.token().unwrap(), &path).await;
    let ritas = page(&d.app, d.rita.api.token().unwrap(), &path).await;
    for html in [&agents, &ritas] {
        assert!(html.contains("Printer trouble"), "{html}");
        assert!(html.contains("My printer jams on floor 3"), "{html}");
        assert!(html.contains("Try tray &#60;b&#62;2&#60;/b&#62;"), "{html}");
        assert!(html.contains("This message was deleted."), "{html}");
        assert!(html.contains("· <span class=\"edited\">edited "), "{html}");
        assert!(html.contains("data-print"), "{html}");
        assert!(html.contains(&format!(
            "/api/v1/conversations/{conversation}/transcript?format=csv"
        )));
        assert!(!html.contains("never mind"), "{html}");
    }
    assert!(agents.contains("Secret: warranty ends"), "{agents}");
    assert!(agents.contains("internal note"), "{agents}");
    assert!(!ritas.contains("warranty"), "{ritas}");
    // The conversation's page links to it, for both sides.
    for client in [&d.agent.api, &d.rita.api] {
        let html = page(
            &d.app,
            client.token().unwrap(),
            &format!("/conversations/{conversation}"),
        )
        .await;
        assert!(html.contains(&format!("href=\"{path}\"")), "{html}");
    }
    // The CSV and JSON links work with the page's cookie.
    let download = page_answer(
        &d.app,
        d.rita.api.token().unwrap(),
        &format!("{CONVERSATIONS}/{conversation}/transcript?format=csv"),
    )
    .await;
    assert_eq!(download.status(), 200);
    d.app.stop().await;
}

#[tokio::test]
async fn another_requesters_or_another_companys_transcript_is_not_found() {
    let d = desk().await;
    conversation_with_history(&d).await;
    let conversation = &d.rita_conversation;
    for (who, client) in [
        ("another requester", &d.rob.api),
        ("another company's agent", &d.gina.api),
        ("another company's admin", &d.globex.admin),
    ] {
        for format in [None, Some("json"), Some("csv")] {
            let answer = transcript(client, conversation, format).await;
            assert_eq!(answer.status, 404, "{who}: {answer}");
            assert!(answer.is_problem(), "{who}: {answer}");
            assert!(!answer.text().contains("printer"), "{who}: {answer}");
        }
        let html = page_answer(
            &d.app,
            client.token().unwrap(),
            &format!("/conversations/{conversation}/transcript"),
        )
        .await;
        assert_eq!(html.status(), 404, "{who}");
        assert!(!html.text().await.unwrap().contains("printer"), "{who}");
    }
    d.app.stop().await;
}
