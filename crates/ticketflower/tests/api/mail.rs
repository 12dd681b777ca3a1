//! Mail leaves through SMTP when `smtp_url` is set: the reset mail reaches a receiver on a
//! loopback port, and a server that refuses at first gets the mail on a later try.

use std::time::Duration;

use domain::backoff::Backoff;
use serde_json::json;
use testkit::smtp::SmtpReceiver;
use testkit::spawn_app_with;

use crate::common::signup;

/// Waits for a mail's delivery status, read from the store: no endpoint shows the outbox.
async fn wait_for_status(app: &testkit::TestApp, id: domain::MailId, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mail = store::mail::get(app.app.db(), id).await.unwrap();
        if mail.status == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mail stayed {}",
            mail.status
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn reset_mail_is_delivered_over_smtp_and_retried_after_a_refusal() {
    let receiver = SmtpReceiver::start(1).await;
    let url = receiver.url();
    let app = spawn_app_with(|settings, mut jobs| {
        settings.smtp_url = Some(url.into());
        settings.mail_from = "Help Desk <desk@acme.test>".into();
        jobs.backoff = Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
        };
        jobs
    })
    .await;
    signup(&app, "Acme", "ada@acme.io").await;
    let response = app
        .post_json(
            "/api/v1/auth/password-reset",
            &json!({ "email": "ada@acme.io" }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let outbox = crate::common::wait_for_mail(&app, "ada@acme.io").await;
    assert_eq!(outbox.len(), 1);
    wait_for_status(&app, outbox[0].id, "sent").await;

    assert_eq!(receiver.attempts(), 2, "one refusal, then the delivery");
    let received = receiver.received().await;
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.from, "desk@acme.test");
    assert_eq!(mail.to, vec!["ada@acme.io".to_owned()]);
    assert!(
        mail.data
            .contains("Subject: Reset your TicketFlower password")
    );
    // The body is quoted-printable: undo soft line breaks and the escaped `=`.
    let body = mail.data.replace("=\n", "").replace("=3D", "=");
    assert!(body.contains("/reset-password?token=tfp_"), "{body}");
    app.stop().await;
}
