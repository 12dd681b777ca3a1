//! Operations endpoints (probes on the main port, metrics on their own listener), the error
//! format, headers and the page shell.

use std::time::Duration;

use serde_json::Value;
use testkit::{json, spawn_app};

use crate::common::signup;

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(json(health).await["status"], "ok");

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body = json(ready).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["migrations"], "current");
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_when_the_schema_is_not_this_binarys() {
    let app = spawn_app().await;
    // A migration this binary does not know: the database is ahead of the code. No endpoint
    // records a migration, so the row is written to the database directly.
    let mut tx = app.app.db().begin().await.unwrap();
    let sql = match tx.backend() {
        store::Backend::Sqlite => {
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2030-01-01T00:00:00Z')"
        }
        store::Backend::Postgres => {
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', now())"
        }
    };
    tx.execute_script(sql).await.unwrap();
    tx.commit().await.unwrap();

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body = json(ready).await;
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["migrations"].as_str().unwrap().contains("9999"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_and_methods_are_problem_documents() {
    let app = spawn_app().await;
    let missing = app.get("/api/v1/no-such-thing").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let body = json(missing).await;
    assert_eq!(body["status"], 404);
    assert_eq!(body["title"], "Not found");

    let wrong_method = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(
        wrong_method.headers()["content-type"],
        "application/problem+json"
    );
    let body = json(wrong_method).await;
    assert_eq!(body["status"], 405);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("DELETE is not allowed"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    for path in ["/", "/healthz", "/api/v1/missing", "/static/app.css"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        assert!(
            !headers.contains_key("strict-transport-security"),
            "{path}: HSTS over plain HTTP"
        );
        let id = headers["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{path}: request id {id}");
    }
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-me-123");
    app.stop().await;
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let app = testkit::spawn_app_with(|settings, jobs| {
        settings.public_url = Some("https://desk.example.com".into());
        jobs
    })
    .await;
    let response = app.get("/healthz").await;
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_with_request_and_job_metrics() {
    let app = spawn_app().await;
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    let metrics = app.client.get(app.metrics_url()).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    // The job gauges are counted in the background, once at start and then every second.
    let text = app
        .scrape_until(r#"ticketflower_jobs{status="queued"} 0"#)
        .await;
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains(r#"route="/healthz""#)
                && l.contains(r#"status="200""#)
        })
        .unwrap_or_else(|| panic!("no healthz counter in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/healthz""#),
        "no latency histogram in:\n{text}"
    );
    for status in ["running", "done", "dead"] {
        assert!(
            text.contains(&format!(r#"ticketflower_jobs{{status="{status}"}}"#)),
            "{status}: {text}"
        );
    }
    assert!(
        text.contains("ticketflower_jobs_refreshed_timestamp_seconds "),
        "{text}"
    );
    // The metrics listener serves metrics and nothing else.
    let address = app.metrics_address.unwrap();
    let other = app
        .client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn the_main_port_does_not_serve_metrics() {
    let app = spawn_app().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 404);
    assert!(
        response.text().await.unwrap().contains("Page not found"),
        "the main port's 404 page"
    );
    let doc = json(app.get("/api/openapi.json").await).await;
    assert!(doc["paths"].get("/metrics").is_none(), "{}", doc["paths"]);
    app.stop().await;
}

#[tokio::test]
async fn a_scrape_reads_the_last_counts_and_never_the_database() {
    let app = testkit::spawn_app_with(|settings, jobs| {
        // Nothing runs the job queued below, and no refresh comes while the test runs.
        settings.job_workers = 0;
        settings.metrics_refresh_secs = 3600;
        jobs
    })
    .await;
    app.scrape_until(r#"ticketflower_jobs{status="queued"} 0"#)
        .await;

    // A password reset queues its mail: the database now holds a queued job...
    signup(&app, "Acme", "ada@acme.io").await;
    let reset = app
        .post_json(
            "/api/v1/auth/password-reset",
            &serde_json::json!({ "email": "ada@acme.io" }),
        )
        .await;
    assert_eq!(reset.status(), 202);
    let counted = app::infra::system::job_counts(&app.app).await.unwrap();
    assert!(
        counted
            .iter()
            .any(|(status, n)| *status == domain::job::JobStatus::Queued && *n > 0),
        "{counted:?}"
    );
    // ...which a scrape does not show, as it only renders the counts of the last refresh.
    let (status, text) = app.scrape().await;
    assert_eq!(status, 200);
    assert!(
        text.contains(r#"ticketflower_jobs{status="queued"} 0"#),
        "{text}"
    );

    // With the database closed under the server, the main port is not ready...
    app.app.db().close().await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(json(ready).await["status"], "not_ready");
    // ...and a scrape still answers at once, with the job gauges.
    let (status, text) = tokio::time::timeout(Duration::from_secs(5), app.scrape())
        .await
        .expect("a scrape waited on the closed database");
    assert_eq!(status, 200);
    assert!(
        text.contains(r#"ticketflower_jobs{status="queued"} 0"#),
        "{text}"
    );
    assert!(text.contains("http_requests_total{"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_and_vendored_docs_are_served() {
    let app = spawn_app().await;
    let doc = json(app.get("/api/openapi.json").await).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    assert!(doc["paths"]["/healthz"]["get"].is_object());
    assert!(doc["paths"]["/readyz"]["get"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());

    let docs = app.get("/api/docs/").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    // Everything the docs page loads must come from this server: no CDN.
    let external: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("http"))
        .collect();
    assert!(
        external.is_empty(),
        "docs page loads external assets: {external:?}"
    );
    let init = app.get("/api/docs/swagger-initializer.js").await;
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/api/openapi.json"));
    let bundle = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    app.stop().await;
}

#[tokio::test]
async fn landing_page_and_cached_static_assets() {
    let app = spawn_app().await;
    let page = app.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<h1>Your service desk, your workflows</h1>"),
        "{html}"
    );
    // It promises only what exists: no chat or inbox until they land (issue 15, defect 4).
    for unbuilt in ["real time", "real-time", "chat", "inbox"] {
        assert!(
            !html.to_lowercase().contains(unbuilt),
            "promises {unbuilt}: {html}"
        );
    }
    let readme = include_str!("../../../../README.md").to_lowercase();
    for unbuilt in ["real-time support chat", "one inbox"] {
        assert!(!readme.contains(unbuilt), "the README promises {unbuilt}");
    }
    let css_href = html
        .split('"')
        .find(|s| s.starts_with("/static/app.css?v="))
        .unwrap_or_else(|| panic!("no stylesheet link in {html}"));

    let css = app.get(css_href).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = css.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url(css_href))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let missing_page = app.get("/no/such/page").await;
    assert_eq!(missing_page.status(), 404);
    assert!(
        missing_page
            .text()
            .await
            .unwrap()
            .contains("Page not found")
    );
    let missing_asset = app.get("/static/nope.js").await;
    assert_eq!(missing_asset.status(), 404);
    let body: Value = json(missing_asset).await;
    assert_eq!(body["status"], 404);
    app.stop().await;
}
