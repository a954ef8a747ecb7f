//! Every bound the core enforces, with its safe default.
//!
//! Each field has a config key of the same name (the binary reads them from
//! the node's config file), a counter that shows when it is hit, and a test
//! that hits it.

/// The core's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `mailbox_messages`: messages one mailbox holds before senders that
    /// already have `mailbox_guaranteed` messages queued are slowed.
    pub mailbox_messages: usize,
    /// `mailbox_bytes`: payload bytes one mailbox holds, likewise.
    pub mailbox_bytes: usize,
    /// `sender_messages`: messages one sender may have queued in one mailbox.
    pub sender_messages: usize,
    /// `sender_bytes`: payload bytes one sender may have queued in one mailbox.
    pub sender_bytes: usize,
    /// `mailbox_guaranteed`: a sender with fewer messages than this queued is
    /// admitted even to a full mailbox, so a flood never locks others out.
    pub mailbox_guaranteed: usize,
    /// `max_message_bytes`: the largest payload one message may carry.
    pub max_message_bytes: usize,
    /// `max_services`: live services per node.
    pub max_services: usize,
    /// `max_timers`: pending timers per service.
    pub max_timers: usize,
    /// `max_open_calls`: calls (and timers) one service may wait on at once.
    pub max_open_calls: usize,
    /// `max_names`: local names one service may own.
    pub max_names: usize,
    /// `max_name_length`: bytes in one local name, dot included.
    pub max_name_length: usize,
    /// `audit_lines_per_second`: audit lines written per second before the
    /// rest are only counted (the count is reported when writing resumes).
    pub audit_lines_per_second: u32,
    /// `spawn_rate`: services one service may start per second, once its
    /// `spawn_burst` is spent (a policy role may set its own).
    pub spawn_rate: usize,
    /// `spawn_burst`: services one service may start at once.
    pub spawn_burst: usize,
    /// `lua_memory_total`: bytes all Lua states of the node may hold
    /// between them (as their hosts report it); past it new Lua services
    /// are refused. The default is [`default_lua_memory_total`].
    pub lua_memory_total: usize,
    /// `audit_recent_refusals`: the audit refusals kept for the dashboard
    /// (newer ones push the oldest out, counted).
    pub audit_recent_refusals: usize,
    /// `audit_recent_field_bytes`: the longest part (who, what, whom, why)
    /// of a kept refusal; longer ones are cut (counted).
    pub audit_recent_field_bytes: usize,
    /// `logfile_max_bytes`: bytes one per-service message log (`logon`)
    /// may grow by; the messages past it are not written (counted, and
    /// said once in the file).
    pub logfile_max_bytes: usize,
    /// `logfile_queue_bytes`: bytes of message-log lines waiting for the
    /// writer thread; past it lines are dropped (counted, and the gap said
    /// in the file) rather than making a worker wait for the disk.
    pub logfile_queue_bytes: usize,
}

/// The socket layer's default accept rate (`socket_accept_rate` in
/// skyhold-net, which the core does not depend on): the spawn defaults are
/// set from it, see [`Limits::default`].
const GATE_ACCEPTS_PER_SECOND: usize = 1_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            mailbox_messages: 65_536,
            mailbox_bytes: 64 << 20,
            sender_messages: 1024,
            sender_bytes: 4 << 20,
            mailbox_guaranteed: 16,
            max_message_bytes: 16 << 20,
            max_services: 65_536,
            max_timers: 10_000,
            max_open_calls: 100_000,
            max_names: 16,
            max_name_length: 64,
            audit_lines_per_second: 100,
            // A watchdog starts one agent per connection the gate accepts,
            // and must never meet this limit at the gate's own default: the
            // sustained rate equals the gate's accept rate, and the burst is
            // two seconds of it, because the gate counts accepts in fixed
            // one-second windows, so a full window's accepts at the end of
            // one second and another's at the start of the next arrive
            // together. Any stream of accepts the gate admits therefore
            // fits in a burst of 2 × rate refilled at rate.
            spawn_rate: GATE_ACCEPTS_PER_SECOND,
            spawn_burst: 2 * GATE_ACCEPTS_PER_SECOND,
            lua_memory_total: default_lua_memory_total(),
            audit_recent_refusals: crate::audit::RECENT_REFUSALS,
            audit_recent_field_bytes: crate::audit::RECENT_FIELD,
            logfile_max_bytes: 64 << 20,
            logfile_queue_bytes: 4 << 20,
        }
    }
}

/// The default `lua_memory_total`: half of the memory this process may
/// use — the machine's physical memory, or its control group's limit if
/// that is lower (a container) — or 4 GiB where neither can be read.
///
/// Half, because Lua heaps are not all a node holds: mailboxes, socket
/// buffers, the code cache, and the allocator's own overhead and
/// fragmentation on top of the bytes Lua asks for all need room too, as
/// does the rest of the machine. A fixed figure would be either useless on
/// a small machine or a needless ceiling on a large one.
pub fn default_lua_memory_total() -> usize {
    static TOTAL: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| match usable_memory() {
        Some(bytes) => usize::try_from(bytes / 2).unwrap_or(usize::MAX),
        None => 4 << 30,
    })
}

/// Physical memory, lowered to the control group's limit when it has one.
fn usable_memory() -> Option<u64> {
    let physical = std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?
        .checked_mul(1024)?;
    Some(cgroup_limit().map_or(physical, |c| c.min(physical)))
}

/// The memory limit of this process's control group, if one is set: v2's
/// `memory.max` (of its own group, or of the root a container sees), else
/// v1's `memory.limit_in_bytes`. "max", or v1's huge "no limit" value, is
/// no limit; the caller keeps the smaller of this and physical memory.
fn cgroup_limit() -> Option<u64> {
    let own_v2 = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .map(|path| format!("/sys/fs/cgroup{}/memory.max", path.trim_end_matches('/')));
    own_v2
        .into_iter()
        .chain([
            "/sys/fs/cgroup/memory.max".to_string(),
            "/sys/fs/cgroup/memory/memory.limit_in_bytes".to_string(),
        ])
        .find_map(|f| std::fs::read_to_string(f).ok()?.trim().parse::<u64>().ok())
}

impl Limits {
    /// Applies one `key = value` setting; returns false for an unknown key.
    /// A value that is not a whole number is an error naming the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let slot: &mut usize = match key {
            "mailbox_messages" => &mut self.mailbox_messages,
            "mailbox_bytes" => &mut self.mailbox_bytes,
            "sender_messages" => &mut self.sender_messages,
            "sender_bytes" => &mut self.sender_bytes,
            "mailbox_guaranteed" => &mut self.mailbox_guaranteed,
            "max_message_bytes" => &mut self.max_message_bytes,
            "max_services" => &mut self.max_services,
            "max_timers" => &mut self.max_timers,
            "max_open_calls" => &mut self.max_open_calls,
            "max_names" => &mut self.max_names,
            "max_name_length" => &mut self.max_name_length,
            "spawn_rate" => &mut self.spawn_rate,
            "spawn_burst" => &mut self.spawn_burst,
            "lua_memory_total" => &mut self.lua_memory_total,
            "audit_recent_refusals" => &mut self.audit_recent_refusals,
            "audit_recent_field_bytes" => &mut self.audit_recent_field_bytes,
            "logfile_max_bytes" => &mut self.logfile_max_bytes,
            "logfile_queue_bytes" => &mut self.logfile_queue_bytes,
            "audit_lines_per_second" => {
                self.audit_lines_per_second = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("config key {key}: '{value}' is not a whole number"))?;
                return Ok(true);
            }
            _ => return Ok(false),
        };
        let parsed: usize = value
            .trim()
            .parse()
            .map_err(|_| format!("config key {key}: '{value}' is not a whole number"))?;
        if parsed == 0 {
            return Err(format!("config key {key}: must be at least 1"));
        }
        *slot = parsed;
        Ok(true)
    }

    /// The config keys `set` understands.
    pub const KEYS: &'static [&'static str] = &[
        "mailbox_messages",
        "mailbox_bytes",
        "sender_messages",
        "sender_bytes",
        "mailbox_guaranteed",
        "max_message_bytes",
        "max_services",
        "max_timers",
        "max_open_calls",
        "max_names",
        "max_name_length",
        "audit_lines_per_second",
        "spawn_rate",
        "spawn_burst",
        "lua_memory_total",
        "audit_recent_refusals",
        "audit_recent_field_bytes",
        "logfile_max_bytes",
        "logfile_queue_bytes",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_settable() {
        for key in Limits::KEYS {
            let mut l = Limits::default();
            assert_eq!(l.set(key, "7"), Ok(true), "{key}");
            assert_ne!(l, Limits::default(), "{key} changed nothing");
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut l = Limits::default();
        let e = l.set("max_timers", "lots").unwrap_err();
        assert!(e.contains("max_timers"), "{e}");
        assert!(l.set("max_timers", "0").is_err());
        assert_eq!(l.set("no_such_key", "1"), Ok(false));
        let e = l.set("spawn_rate", "-5").unwrap_err();
        assert!(e.contains("spawn_rate"), "{e}");
        assert!(l.set("spawn_burst", "0").is_err());
        assert!(l.set("lua_memory_total", "4GiB").is_err());
    }

    #[test]
    fn spawn_defaults_admit_everything_the_gate_accepts() {
        let l = Limits::default();
        assert!(l.spawn_rate >= GATE_ACCEPTS_PER_SECOND);
        assert!(l.spawn_burst >= 2 * GATE_ACCEPTS_PER_SECOND);
    }

    #[test]
    fn the_memory_default_is_a_part_of_the_machine() {
        let total = default_lua_memory_total();
        assert!(total >= 1 << 20, "{total}");
        if let Some(usable) = usable_memory() {
            assert!(total as u64 <= usable, "{total} of {usable}");
        }
    }
}
