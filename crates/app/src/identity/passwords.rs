//! Password hashing with argon2id on a few dedicated threads, one fewer than the cores and
//! at a lower scheduling priority, so a burst of logins queues here instead of taking the
//! cores from other requests.
//!
//! Each thread keeps one argon2 memory area (19 MiB at the default cost) and reuses it for
//! every hash of a burst. Allocating it per hash on tokio's blocking pool left a copy in each
//! thread's malloc arena: the benchmark saw 583 MiB resident after its login phases
//! (docs/performance.md). A thread with no work for [`IDLE_RELEASE`] gives its area back, so
//! a server between bursts does not keep 19 MiB a thread for logins that are not coming.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use crate::error::{AppError, Result};
use crate::infra::settings::Settings;

/// A stored hash whose parameters need more than this many times the configured memory is
/// checked with memory of its own rather than growing a thread's area for good.
const MAX_RETAINED_FACTOR: usize = 4;

/// How long a hashing thread keeps its memory area without work.
const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(5);

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String>>,
    },
    Verify {
        password: String,
        hash: String,
        reply: oneshot::Sender<bool>,
    },
}

#[derive(Clone)]
pub(crate) struct Passwords {
    jobs: mpsc::Sender<Job>,
}

impl Passwords {
    pub fn new(settings: &Settings) -> Self {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            None,
        )
        .unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cores.saturating_sub(1).max(1);
        let (jobs, queue) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let worker = Worker {
                params: params.clone(),
                memory: Vec::new(),
            };
            let queue = Arc::clone(&queue);
            // A thread that cannot start leaves the others; with none, requests fail with
            // an internal error instead of hanging.
            let _ = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || worker.run(&queue));
        }
        Self { jobs }
    }

    /// Hashes a password into a PHC string (algorithm, parameters and salt included).
    pub async fn hash(&self, password: &str) -> Result<String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Hash {
                password: password.to_owned(),
                reply,
            })
            .map_err(AppError::internal)?;
        answer.await.map_err(AppError::internal)?
    }

    /// Checks a password against a stored hash; a malformed hash never matches.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Verify {
                password: password.to_owned(),
                hash: hash.to_owned(),
                reply,
            })
            .map_err(AppError::internal)?;
        answer.await.map_err(AppError::internal)
    }
}

/// Nice 10: when requests want the cores, a hashing thread gets about a tenth of one, so
/// logins slow down under load rather than everything else. Linux keeps the nice value
/// per thread. Failing to lower it only costs fairness, so it is logged, not fatal.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::warn!(%error, "could not lower the password hashing thread's priority");
    }
}

struct Worker {
    params: Params,
    memory: Vec<Block>,
}

impl Worker {
    fn run(mut self, queue: &Mutex<mpsc::Receiver<Job>>) {
        lower_priority();
        loop {
            // The lock is held only while waiting for the next job, so the threads take
            // turns at the queue and work in parallel.
            let job = match queue.lock() {
                Ok(queue) if self.memory.is_empty() => queue
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Ok(queue) => queue.recv_timeout(IDLE_RELEASE),
                Err(_) => return,
            };
            match job {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // Freed whole, a block this large goes back to the system (it was
                    // mapped for itself), not to a malloc arena.
                    self.memory = Vec::new();
                }
                // A caller that went away (the client hung up) no longer needs its hash.
                Ok(Job::Hash { password, reply }) if !reply.is_closed() => {
                    let _ = reply.send(self.hash(&password));
                }
                Ok(Job::Verify {
                    password,
                    hash,
                    reply,
                }) if !reply.is_closed() => {
                    let _ = reply.send(self.verify(&password, &hash));
                }
                Ok(_) => {}
                // Every `Passwords` is gone: the app shut down.
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn hash(&mut self, password: &str) -> Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let raw_salt = salt
            .decode_b64(&mut salt_bytes)
            .map_err(AppError::internal)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let len = self
            .params
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = self.compute(&argon2, password, raw_salt, len)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(AppError::internal)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    fn verify(&mut self, password: &str, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(version)) => version,
            Some(Err(_)) => return false,
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let mut salt_bytes = [0u8; 64];
        let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params);
        self.compute(&argon2, password, raw_salt, expected.len())
            .is_ok_and(|actual| actual == expected) // `Output`'s comparison is constant-time.
    }

    /// Runs argon2 in the thread's memory area, growing it when a stored hash asks for
    /// more, within `MAX_RETAINED_FACTOR`.
    fn compute(
        &mut self,
        argon2: &Argon2,
        password: &str,
        salt: &[u8],
        len: usize,
    ) -> Result<Output> {
        let blocks = argon2.params().block_count();
        let retained = self.params.block_count() * MAX_RETAINED_FACTOR;
        let mut own = Vec::new();
        let memory = if blocks <= retained {
            if self.memory.len() < blocks {
                self.memory.resize(blocks, Block::default());
            }
            &mut self.memory[..blocks]
        } else {
            own.resize(blocks, Block::default());
            &mut own[..]
        };
        Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *memory)
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .map_err(AppError::internal)
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    fn passwords() -> Passwords {
        let settings = Settings {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            ..Settings::default()
        };
        Passwords::new(&settings)
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = passwords();
        let hash = passwords.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(passwords.verify("correct horse", &hash).await.unwrap());
        assert!(!passwords.verify("correct horsf", &hash).await.unwrap());
        assert!(
            !passwords
                .verify("correct horse", "not a hash")
                .await
                .unwrap()
        );
        let other = passwords.hash("correct horse").await.unwrap();
        assert_ne!(hash, other, "each hash has its own salt");
    }

    /// Hashes stored before the hashing threads (and by any argon2 implementation) still
    /// verify, and ours verify with the crate's own verifier.
    #[tokio::test]
    async fn hashes_are_interchangeable_with_the_crates_own() {
        let passwords = passwords();
        let params = Params::new(2048, 2, 1, None).unwrap();
        let crate_argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let stored = crate_argon2
            .hash_password(b"s3cret pass", &salt)
            .unwrap()
            .to_string();
        assert!(passwords.verify("s3cret pass", &stored).await.unwrap());
        assert!(!passwords.verify("s3cret pasS", &stored).await.unwrap());

        let ours = passwords.hash("s3cret pass").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"s3cret pass", &parsed)
                .is_ok()
        );
    }

    /// A hash asking for far more memory than configured is still checked, without the
    /// thread keeping that memory.
    #[tokio::test]
    async fn a_costlier_stored_hash_verifies() {
        let passwords = passwords();
        let params = Params::new(8 * 1024, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(passwords.verify("pw", &stored).await.unwrap());
    }
}
