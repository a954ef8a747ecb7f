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
}

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
        }
    }
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
    }
}
