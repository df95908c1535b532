//! Who a process is, in a form another process can check later: whether it
//! still runs. Lease holders ([`crate::ConsumerLease`]) and build executors
//! are recorded this way.
//!
//! A process is its pid, host, the kernel's boot ID and its start time (in
//! clock ticks since boot, from `/proc/PID/stat`), so that a pid reused by
//! another process, or a machine restarted since, is told apart.

use std::fmt;

/// The identity of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    /// Process ID.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// The kernel's boot ID (empty when unknown).
    pub boot: String,
    /// Start time of the process, in clock ticks since boot (0 when unknown).
    pub start: u64,
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The start time (field 22 of `/proc/PID/stat`) and whether the process is a zombie.
fn process_stat(pid: u32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state == "Z"))
}

fn host_name() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}

impl ProcessIdentity {
    /// This process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            host: host_name(),
            boot: read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
            start: process_stat(pid).map_or(0, |(start, _)| start),
        }
    }

    /// Read the text form back (`pid=… host=… boot=… start=…`, see [`fmt::Display`]).
    pub fn parse(text: &str) -> Option<Self> {
        let mut process = Self { pid: 0, host: String::new(), boot: String::new(), start: 0 };
        for word in text.split_whitespace() {
            let (key, value) = word.split_once('=')?;
            match key {
                "pid" => process.pid = value.parse().ok()?,
                "host" => process.host = value.to_owned(),
                "boot" => process.boot = value.to_owned(),
                "start" => process.start = value.parse().ok()?,
                _ => {}
            }
        }
        (process.pid != 0).then_some(process)
    }

    /// Whether this process still runs; `None` when this machine cannot tell
    /// (another host, or no `/proc`).
    pub fn is_running_here(&self) -> Option<bool> {
        let here = Self::current();
        if self.host != here.host || self.boot.is_empty() || here.start == 0 {
            return None;
        }
        if self.boot != here.boot {
            // The machine restarted since: every process of that boot is gone.
            return Some(false);
        }
        Some(match process_stat(self.pid) {
            Some((start, zombie)) => start == self.start && !zombie,
            None => false,
        })
    }

    /// Whether this is the current process.
    pub fn is_me(&self) -> bool {
        let here = Self::current();
        self.pid == here.pid && self.host == here.host && self.start == here.start
    }
}

impl fmt::Display for ProcessIdentity {
    /// `pid=… host=… boot=… start=…`, which [`ProcessIdentity::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid={} host={} boot={} start={}", self.pid, self.host, self.boot, self.start)
    }
}
