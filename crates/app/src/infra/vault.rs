//! Attachments at rest: sealed with XChaCha20-Poly1305 under a key id, so the key can be
//! rotated (new blobs use the current key, old ones still open with a previous key), and
//! content-type sniffing that ignores what the uploader claimed.
//!
//! A sealed blob is
//!
//! ```text
//! "TFV" | version (1) | key id length (1) | key id | nonce (24) | ciphertext and tag
//! ```
//!
//! The header is authenticated along with the caller's associated data, so neither the key
//! id nor the owner the blob was sealed for can be changed without `open` failing.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::Secrets;

const MAGIC: &[u8; 3] = b"TFV";
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Why a blob could not be sealed or opened, or the vault not built.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("not a sealed blob")]
    NotSealed,
    #[error("sealed with format version {0}, which this version cannot read")]
    UnsupportedVersion(u8),
    #[error("the sealed blob is truncated")]
    Truncated,
    /// The key was retired, or the blob comes from another installation.
    #[error("sealed with key {kid}, which is not configured")]
    UnknownKey { kid: String },
    /// Altered, or opened with other associated data than it was sealed with (e.g. copied
    /// to another attachment): the two cannot be told apart, by design of the AEAD.
    #[error("the sealed blob was altered or belongs to another owner")]
    Inauthentic,
    #[error("a key id must be 1 to 255 bytes")]
    InvalidKeyId,
    #[error("key id {kid} is configured twice")]
    DuplicateKeyId { kid: String },
    /// Beyond XChaCha20-Poly1305's limit of about 256 GiB per message.
    #[error("the plaintext is too large to seal")]
    TooLarge,
}

struct VaultKey {
    kid: String,
    cipher: XChaCha20Poly1305,
}

/// Seals with the current key and opens with the current or any previous key.
pub struct Vault {
    current: VaultKey,
    previous: Vec<VaultKey>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("current", &self.current.kid)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Vault {
    /// `current` seals; `previous` keys (retired by a rotation) only open.
    pub fn new(
        current: (String, [u8; 32]),
        previous: Vec<(String, [u8; 32])>,
    ) -> Result<Self, VaultError> {
        let key = |(kid, bytes): (String, [u8; 32])| {
            if kid.is_empty() || kid.len() > usize::from(u8::MAX) {
                return Err(VaultError::InvalidKeyId);
            }
            Ok(VaultKey {
                kid,
                cipher: XChaCha20Poly1305::new(&Key::from(bytes)),
            })
        };
        let current = key(current)?;
        let previous = previous
            .into_iter()
            .map(key)
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = vec![current.kid.as_str()];
        for old in &previous {
            if seen.contains(&old.kid.as_str()) {
                return Err(VaultError::DuplicateKeyId {
                    kid: old.kid.clone(),
                });
            }
            seen.push(&old.kid);
        }
        Ok(Self { current, previous })
    }

    /// The vault for the configured encryption key, with no previous keys.
    pub fn from_secrets(secrets: &Secrets) -> Result<Self, VaultError> {
        Self::new(
            (secrets.encryption_kid.clone(), *secrets.encryption_key()),
            Vec::new(),
        )
    }

    /// The id of the key new blobs are sealed with.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// Encrypts `plaintext` for the owner named by `aad` (e.g. `company_id|attachment_id`);
    /// [`Vault::open`] needs the same `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let kid = self.current.kid.as_bytes();
        let mut sealed =
            Vec::with_capacity(MAGIC.len() + 2 + kid.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.extend_from_slice(MAGIC);
        sealed.push(VERSION);
        // `new` keeps key ids within a byte's range.
        sealed.push(u8::try_from(kid.len()).map_err(|_| VaultError::InvalidKeyId)?);
        sealed.extend_from_slice(kid);
        sealed.extend_from_slice(&nonce);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &associated_data(&sealed, aad),
                },
            )
            .map_err(|_| VaultError::TooLarge)?;
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts a blob sealed by [`Vault::seal`] for the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let header = Header::parse(sealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.kid.as_bytes() == header.kid)
            .ok_or_else(|| VaultError::UnknownKey {
                kid: String::from_utf8_lossy(header.kid).into_owned(),
            })?;
        let (head, ciphertext) = sealed.split_at(header.len);
        key.cipher
            .decrypt(
                &XNonce::from(header.nonce),
                Payload {
                    msg: ciphertext,
                    aad: &associated_data(head, aad),
                },
            )
            .map_err(|_| VaultError::Inauthentic)
    }

    /// The key id a blob was sealed with, so a rotation job can find the blobs still under
    /// a previous key and seal them again.
    pub fn key_id(sealed: &[u8]) -> Result<String, VaultError> {
        Header::parse(sealed).map(|header| String::from_utf8_lossy(header.kid).into_owned())
    }
}

fn associated_data(header: &[u8], aad: &[u8]) -> Vec<u8> {
    // The header is self-delimiting (it ends after a length-prefixed key id and a fixed
    // nonce), so concatenating cannot make two different pairs look the same.
    [header, aad].concat()
}

struct Header<'a> {
    kid: &'a [u8],
    nonce: [u8; NONCE_LEN],
    /// Bytes before the ciphertext.
    len: usize,
}

impl<'a> Header<'a> {
    fn parse(sealed: &'a [u8]) -> Result<Self, VaultError> {
        let Some((magic, rest)) = sealed.split_first_chunk::<3>() else {
            return Err(if MAGIC.starts_with(sealed) {
                VaultError::Truncated
            } else {
                VaultError::NotSealed
            });
        };
        if magic != MAGIC {
            return Err(VaultError::NotSealed);
        }
        let (&version, rest) = rest.split_first().ok_or(VaultError::Truncated)?;
        if version != VERSION {
            return Err(VaultError::UnsupportedVersion(version));
        }
        let (&kid_len, rest) = rest.split_first().ok_or(VaultError::Truncated)?;
        let (kid, rest) = rest
            .split_at_checked(usize::from(kid_len))
            .ok_or(VaultError::Truncated)?;
        let (nonce, rest) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(VaultError::Truncated)?;
        if rest.len() < TAG_LEN {
            return Err(VaultError::Truncated);
        }
        Ok(Self {
            kid,
            nonce: *nonce,
            len: sealed.len() - rest.len(),
        })
    }
}

/// What an upload really is, whatever its name and declared type say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sniffed {
    pub mime: String,
    /// Without the dot; safe to put in a download's file name.
    pub extension: String,
}

/// Extensions kept from the declared name for text content; any other text is `.txt`, so
/// a text file named `x.html` is not saved as HTML by the browser that downloads it.
const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "csv", "tsv", "log", "md", "json", "yaml", "yml", "ini", "conf",
];

/// Identifies content by its bytes: magic numbers first, then text (valid UTF-8 without
/// NUL bytes) as `text/plain`, else `application/octet-stream`. `declared_name` only
/// chooses among harmless text extensions. It refuses nothing; serving decides with
/// [`is_inline_safe`].
pub fn sniff(bytes: &[u8], declared_name: &str) -> Sniffed {
    let sniffed = |mime: &str, extension: &str| Sniffed {
        mime: mime.to_owned(),
        extension: extension.to_owned(),
    };
    if let Some(kind) = infer::get(bytes) {
        // infer knows XML but not SVG, which a browser runs scripts in.
        if kind.mime_type() == "text/xml" && looks_like_svg(bytes) {
            return sniffed("image/svg+xml", "svg");
        }
        return sniffed(kind.mime_type(), kind.extension());
    }
    let is_text = !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok();
    if !is_text {
        return sniffed("application/octet-stream", "bin");
    }
    if looks_like_svg(bytes) {
        return sniffed("image/svg+xml", "svg");
    }
    let declared = declared_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .filter(|extension| TEXT_EXTENSIONS.contains(&extension.as_str()));
    Sniffed {
        mime: "text/plain".into(),
        extension: declared.unwrap_or_else(|| "txt".into()),
    }
}

fn looks_like_svg(bytes: &[u8]) -> bool {
    let start = &bytes[..bytes.len().min(4096)];
    String::from_utf8_lossy(start)
        .to_ascii_lowercase()
        .contains("<svg")
}

/// Types a browser may show in the page (`Content-Disposition: inline`). Everything else,
/// notably HTML, SVG, XML and JavaScript, which can run script in TicketFlower's origin,
/// is served as an attachment. An allowlist, so a type not thought of is downloaded.
pub fn is_inline_safe(mime: &str) -> bool {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/plain"
            | "application/pdf"
            | "image/png"
            | "image/jpeg"
            | "image/gif"
            | "image/webp"
            | "image/avif"
            | "image/bmp"
            | "audio/mpeg"
            | "audio/ogg"
            | "audio/wav"
            | "audio/x-wav"
            | "audio/webm"
            | "video/mp4"
            | "video/webm"
            | "video/ogg"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const AAD: &[u8] = b"company-1|attachment-1";

    fn vault(kid: &str, key: u8) -> Vault {
        Vault::new((kid.into(), [key; 32]), Vec::new()).unwrap()
    }

    #[test]
    fn a_sealed_blob_opens_for_its_owner() {
        let vault = vault("k1", 1);
        let plaintext = b"the printer is on fire".to_vec();
        let sealed = vault.seal(&plaintext, AAD).unwrap();
        assert!(!sealed.windows(plaintext.len()).any(|w| w == plaintext));
        assert_eq!(vault.open(&sealed, AAD).unwrap(), plaintext);
        assert_eq!(Vault::key_id(&sealed).unwrap(), "k1");
        // A fresh nonce each time: the same file never seals to the same bytes.
        assert_ne!(vault.seal(&plaintext, AAD).unwrap(), sealed);
        assert_eq!(
            vault.open(&vault.seal(b"", AAD).unwrap(), AAD).unwrap(),
            b""
        );
    }

    #[test]
    fn a_blob_copied_to_another_owner_does_not_open() {
        let vault = vault("k1", 1);
        let sealed = vault.seal(b"payroll.xlsx", AAD).unwrap();
        for other in [
            &b"company-2|attachment-1"[..],
            b"company-1|attachment-2",
            b"",
        ] {
            assert!(matches!(
                vault.open(&sealed, other),
                Err(VaultError::Inauthentic)
            ));
        }
    }

    #[test]
    fn any_altered_byte_is_detected() {
        let vault = vault("k1", 1);
        let sealed = vault.seal(b"contract", AAD).unwrap();
        for i in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 0x01;
            assert!(vault.open(&altered, AAD).is_err(), "byte {i}");
        }
    }

    #[test]
    fn truncated_or_foreign_blobs_are_refused() {
        let vault = vault("k1", 1);
        let sealed = vault.seal(b"contract", AAD).unwrap();
        for len in 0..sealed.len() {
            assert!(vault.open(&sealed[..len], AAD).is_err(), "length {len}");
        }
        assert!(matches!(vault.open(b"TF", AAD), Err(VaultError::Truncated)));
        assert!(matches!(
            vault.open(&sealed[..20], AAD),
            Err(VaultError::Truncated)
        ));
        assert!(matches!(
            vault.open(&sealed[..sealed.len() - 1], AAD),
            Err(VaultError::Inauthentic)
        ));
        assert!(matches!(
            vault.open(b"%PDF-1.7 plain file", AAD),
            Err(VaultError::NotSealed)
        ));
        let mut future = sealed.clone();
        future[3] = 2;
        assert!(matches!(
            vault.open(&future, AAD),
            Err(VaultError::UnsupportedVersion(2))
        ));
    }

    #[test]
    fn after_a_rotation_old_blobs_open_and_new_ones_use_the_new_key() {
        let old = vault("old", 1);
        let sealed_before = old.seal(b"old file", AAD).unwrap();

        let rotated = Vault::new(("new".into(), [2; 32]), vec![("old".into(), [1; 32])]).unwrap();
        assert_eq!(rotated.open(&sealed_before, AAD).unwrap(), b"old file");
        let sealed_after = rotated.seal(b"new file", AAD).unwrap();
        assert_eq!(Vault::key_id(&sealed_after).unwrap(), "new");
        assert_eq!(rotated.current_kid(), "new");

        // Once the old key is gone, its blobs say which key they need.
        let match_unknown =
            |result| matches!(result, Err(VaultError::UnknownKey { kid }) if kid == "old");
        assert!(match_unknown(vault("new", 2).open(&sealed_before, AAD)));
        assert!(matches!(
            old.open(&sealed_after, AAD),
            Err(VaultError::UnknownKey { .. })
        ));
    }

    #[test]
    fn a_key_id_cannot_be_swapped_for_another_configured_key() {
        // Same key bytes under two ids: the id is authenticated, so relabelling fails.
        let vault = Vault::new(("aa".into(), [1; 32]), vec![("bb".into(), [1; 32])]).unwrap();
        let mut sealed = vault.seal(b"x", AAD).unwrap();
        sealed[5..7].copy_from_slice(b"bb");
        assert!(matches!(
            vault.open(&sealed, AAD),
            Err(VaultError::Inauthentic)
        ));
    }

    #[test]
    fn key_ids_must_be_present_short_and_distinct() {
        assert!(matches!(
            Vault::new((String::new(), [1; 32]), Vec::new()),
            Err(VaultError::InvalidKeyId)
        ));
        assert!(matches!(
            Vault::new(("k".repeat(256), [1; 32]), Vec::new()),
            Err(VaultError::InvalidKeyId)
        ));
        assert!(matches!(
            Vault::new(("k".into(), [1; 32]), vec![("k".into(), [2; 32])]),
            Err(VaultError::DuplicateKeyId { .. })
        ));
    }

    #[test]
    fn the_vault_of_the_configured_secrets_round_trips() {
        let secrets = Secrets::generate();
        let vault = Vault::from_secrets(&secrets).unwrap();
        assert_eq!(vault.current_kid(), secrets.encryption_kid);
        let sealed = vault.seal(b"hello", AAD).unwrap();
        assert_eq!(vault.open(&sealed, AAD).unwrap(), b"hello");
        assert!(!format!("{vault:?}").contains("[1, 1"));
    }

    fn sniffed(bytes: &[u8], name: &str) -> (String, String) {
        let Sniffed { mime, extension } = sniff(bytes, name);
        (mime, extension)
    }

    #[test]
    fn sniffing_trusts_the_bytes_not_the_name() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        assert_eq!(
            sniffed(png, "report.pdf"),
            ("image/png".into(), "png".into())
        );
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
        assert_eq!(
            sniffed(pdf, "cat.png"),
            ("application/pdf".into(), "pdf".into())
        );
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0\0\0!\0";
        assert_eq!(
            sniffed(zip, "notes.txt"),
            ("application/zip".into(), "zip".into())
        );
        assert_eq!(
            sniffed("Grüße,\nthe printer\n".as_bytes(), "notes.CSV"),
            ("text/plain".into(), "csv".into())
        );
        assert_eq!(
            sniffed(b"just text", "page.html"),
            ("text/plain".into(), "txt".into())
        );
        assert_eq!(
            sniffed(b"text\0with a NUL", "a.txt"),
            ("application/octet-stream".into(), "bin".into())
        );
        assert_eq!(
            sniffed(&[0xff, 0xfe, 0x00, 0x80, 0x12], "a.txt"),
            ("application/octet-stream".into(), "bin".into())
        );
        assert_eq!(sniffed(b"", "empty"), ("text/plain".into(), "txt".into()));
    }

    #[test]
    fn markup_is_recognised_and_never_inline() {
        let html = sniff(
            b"<!DOCTYPE html><html><script>alert(1)</script></html>",
            "a.png",
        );
        assert_eq!(html.mime, "text/html");
        let svg = sniff(
            br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
            "a.png",
        );
        assert_eq!(
            (svg.mime.as_str(), svg.extension.as_str()),
            ("image/svg+xml", "svg")
        );
        let xml_svg = sniff(
            br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>"#,
            "a.png",
        );
        assert_eq!(xml_svg.mime, "image/svg+xml");
        let xml = sniff(br#"<?xml version="1.0"?><note/>"#, "a.txt");
        assert_eq!(xml.mime, "text/xml");
        for mime in [
            "text/html",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "application/javascript",
            "text/javascript",
            "application/octet-stream",
            "application/zip",
        ] {
            assert!(!is_inline_safe(mime), "{mime}");
        }
        for mime in [
            "image/png",
            "IMAGE/JPEG",
            "application/pdf",
            "text/plain; charset=utf-8",
        ] {
            assert!(is_inline_safe(mime), "{mime}");
        }
    }
}
