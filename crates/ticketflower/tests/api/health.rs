//! Operations endpoints, the error format, headers and the page shell.

use serde_json::Value;
use testkit::{json, spawn_app};

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
async fn metrics_expose_request_counts_latency_and_queue_depth() {
    let app = spawn_app().await;
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
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
    assert!(
        text.contains(r#"ticketflower_jobs{status="queued"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"ticketflower_jobs{status="dead"}"#),
        "{text}"
    );
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
