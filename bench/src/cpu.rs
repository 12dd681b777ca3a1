//! Where the machine's CPU went during a phase, from `/proc`: the server under test (with
//! its broker, when it has one), the bench itself, kernel threads, every other process,
//! interrupts and the hypervisor. The bench shares two cores with the server, so a latency
//! is only read right beside what else ran.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// `PF_KTHREAD` in `/proc/<pid>/stat`'s flags.
const KERNEL_THREAD: u64 = 0x0020_0000;
/// Linux reports CPU times in USER_HZ, 100 on every architecture it exposes to user space.
const USER_HZ: f64 = 100.0;

struct Process {
    name: String,
    kernel_thread: bool,
    seconds: f64,
}

/// One process's name, kind and CPU time (user and system) so far.
fn process(pid: u32) -> Result<Process> {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))?;
    let (head, rest) = stat
        .rsplit_once(')')
        .context("no command name in /proc/<pid>/stat")?;
    let name = head.split_once('(').map_or("", |(_, name)| name).to_owned();
    // The fields after the name, from the state (0): flags is 6, utime 11, stime 12.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .context("a short /proc/<pid>/stat")
    };
    Ok(Process {
        name,
        kernel_thread: number(6)? & KERNEL_THREAD != 0,
        seconds: (number(11)? + number(12)?) as f64 / USER_HZ,
    })
}

/// The CPU time a process has used so far (all its threads), in seconds.
pub fn seconds(pid: u32) -> Result<f64> {
    Ok(process(pid)?.seconds)
}

/// The pids of running processes named `name`.
pub fn pids_named(name: &str) -> Result<Vec<u32>> {
    Ok(all()?
        .into_iter()
        .filter(|(_, p)| p.name == name)
        .map(|(pid, _)| pid)
        .collect())
}

fn all() -> Result<HashMap<u32, Process>> {
    let mut processes = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // A process may end between the listing and the read.
        if let Ok(process) = process(pid) {
            processes.insert(pid, process);
        }
    }
    Ok(processes)
}

/// Interrupts' and stolen time so far, from `/proc/stat`, in seconds.
fn interrupts_and_steal() -> Result<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no cpu line in /proc/stat")?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    let field = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / USER_HZ;
    // user nice system idle iowait irq softirq steal
    Ok((field(5) + field(6), field(7)))
}

/// CPU time per event of a phase, ms.
#[derive(Clone, Debug, Serialize)]
pub struct PerEvent {
    /// The server's process, and its broker's (Redis for channels_redis).
    pub server_ms: f64,
    /// The broker's part of `server_ms`.
    pub broker_ms: f64,
    /// The bench's own: the commits' HTTP calls and reading every socket.
    pub client_ms: f64,
    /// Every other process on the machine: what the measurement shared the cores with.
    pub others_ms: f64,
    /// The other process that used the most, and its share of `others_ms`.
    pub busiest_other: String,
    pub busiest_other_ms: f64,
    /// Kernel threads (workers, memory reclaim, softirq threads).
    pub kernel_threads_ms: f64,
    /// Interrupts and softirqs charged to no process: much of it loopback TCP, the
    /// sockets' own traffic.
    pub interrupts_ms: f64,
    /// Time the hypervisor gave this VM's CPUs to someone else.
    pub steal_ms: f64,
}

/// A snapshot at a phase's start.
pub struct Meter {
    server: u32,
    brokers: Vec<u32>,
    processes: HashMap<u32, Process>,
    interrupts: f64,
    steal: f64,
}

impl Meter {
    pub fn start(server: u32, brokers: Vec<u32>) -> Result<Self> {
        let (interrupts, steal) = interrupts_and_steal()?;
        Ok(Self {
            server,
            brokers,
            processes: all()?,
            interrupts,
            steal,
        })
    }

    pub fn per_event(&self, events: usize) -> Result<PerEvent> {
        let now = all()?;
        let (interrupts, steal) = interrupts_and_steal()?;
        let bench = std::process::id();
        let (mut server, mut broker, mut client, mut others, mut kernel) =
            (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut busiest = ("", 0.0);
        for (pid, process) in &now {
            // A process that started during the phase used all of its time in it.
            let before = self.processes.get(pid).map_or(0.0, |p| p.seconds);
            let used = (process.seconds - before).max(0.0);
            if *pid == self.server {
                server += used;
            } else if self.brokers.contains(pid) {
                broker += used;
            } else if *pid == bench {
                client += used;
            } else if process.kernel_thread {
                kernel += used;
            } else {
                others += used;
                if used > busiest.1 {
                    busiest = (&process.name, used);
                }
            }
        }
        let per = |seconds: f64| seconds * 1000.0 / events.max(1) as f64;
        Ok(PerEvent {
            server_ms: per(server + broker),
            broker_ms: per(broker),
            client_ms: per(client),
            others_ms: per(others),
            busiest_other: busiest.0.to_owned(),
            busiest_other_ms: per(busiest.1),
            kernel_threads_ms: per(kernel),
            interrupts_ms: per(interrupts - self.interrupts),
            steal_ms: per(steal - self.steal),
        })
    }
}
