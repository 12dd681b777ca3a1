//! A Firebase service account for tests of mobile push: an RSA key made for the tests
//! (never a real project's) and the JSON key file the server reads, pointing its token
//! endpoint wherever the test serves its fake.

use serde_json::{Value, json};

/// The service account's private key (PKCS#8 PEM, 2048 bits, as Google issues them).
pub const PRIVATE_KEY_PEM: &str = include_str!("fcm_test_key.pem");

/// The public half as a JWK's modulus and exponent (base64url), for checking assertions
/// with `jsonwebtoken::DecodingKey::from_rsa_components`.
pub const PUBLIC_KEY_N: &str = "oqO5AHnJUa8jDx3IIdXT10W7ioXzLVZ41TjyuOERllHSyM6LPzr4fRKQDxEHlti6yzoNM5IBkrxz_NDnYs7UvaPldnEaUqIQkHNvGD1cMG0rAk6SgYiUHSzF2y2ATRxRf-PHofVT-XIvEFaQpQgdV03gi62ydJ5r5D9XtaFqvJ_yO5AISl8fQrIo4YvEkA36iYrpL2yRvVaBNAEw4V8kPpGyKUscFMeMJco_FP-CLaPdZMseXtVffe6ZAAqmyB2l2tcFoagEyZxrasCnM8-hXCNAJjGdFjcD1Xn2YkfRh7ehUgOWVhmTSJqUEmx53ze-Rllqbg9Hz7TTGvh35x85fQ";
pub const PUBLIC_KEY_E: &str = "AQAB";

/// The test account's email and project.
pub const CLIENT_EMAIL: &str = "push@ticketflower-test.iam.gserviceaccount.com";
pub const PROJECT_ID: &str = "ticketflower-test";
pub const PRIVATE_KEY_ID: &str = "test-key-1";

/// The service account's JSON key, with its token endpoint at `token_uri`.
pub fn service_account(token_uri: &str) -> Value {
    json!({
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": PRIVATE_KEY_ID,
        "private_key": PRIVATE_KEY_PEM,
        "client_email": CLIENT_EMAIL,
        "client_id": "1",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    })
}
