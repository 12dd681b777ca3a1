//! A private `nats-server` for a test that must stop and start its broker: on a free
//! loopback port, killed when dropped. The binary is installed on every machine of this
//! project; a test that needs it fails loudly when it is missing. The JetStream variant
//! keeps its store in a directory of its own that outlives a kill, so a broker started
//! again finds its streams as a crashed and restarted one would.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    pub port: u16,
    child: Option<Child>,
    /// JetStream's store, when it has one.
    store: Option<tempfile::TempDir>,
}

impl NatsServer {
    /// Starts one on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts one with JetStream, its store in a fresh directory kept until dropped.
    pub fn start_jetstream() -> Self {
        let store = tempfile::tempdir()
            .unwrap_or_else(|e| panic!("no directory for JetStream's store: {e}"));
        Self::start_with(Some(store))
    }

    fn start_with(store: Option<tempfile::TempDir>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port for nats-server: {e}"));
        let mut server = Self {
            port,
            child: None,
            store,
        };
        server.resume();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the broker, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port (and the same JetStream store).
    pub fn resume(&mut self) {
        let mut command = Command::new("nats-server");
        command.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(store) = &self.store {
            command.arg("-js").arg("-sd").arg(store.path());
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start nats-server (it is installed on every machine of this project): {e}")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
