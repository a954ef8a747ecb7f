//! The node's log: lines from the runtime and from services, routed to the
//! logger service, and what that service does with each kind of message.

use std::sync::atomic::Ordering;

use crate::audit::AuditLine;
use crate::handle::Handle;
use crate::logger::{iso_time, json_string, LogFormat, Logger};
use crate::message::{ptype, Message, Payload};
use crate::state::{Cell, Context, NodeInner, Service};

impl NodeInner {
    /// A line from the runtime itself, shown as coming from `source`.
    pub fn log_system(&self, source: Handle, text: &str) {
        let logger = self.logger.read().clone();
        if let Some(l) = logger {
            let msg = Message {
                source,
                origin: Handle::SYSTEM,
                session: 0,
                ptype: ptype::TEXT,
                payload: Payload::from(text),
            };
            match l.mailbox.push_system(msg) {
                Ok(true) => self.schedule(l),
                Ok(false) => {}
                Err(_) => eprintln!("[{source}] {text}"),
            }
        } else {
            eprintln!("[{source}] {text}");
        }
    }

    /// An audit line: its text in a text log; in a JSON log one object
    /// with the line's fields beside `time`, `handle` and `msg`.
    pub(crate) fn log_audit(&self, line: &AuditLine<'_>) {
        if self.log_format == LogFormat::Text {
            self.log_system(Handle::SYSTEM, line.text);
            return;
        }
        let mut out = format!(
            "{{\"time\":{},\"handle\":{},\"service\":\"audit\",\"msg\":{}",
            json_string(&iso_time()),
            json_string(&Handle::SYSTEM.to_string()),
            json_string(line.text)
        );
        for (k, v) in line.fields {
            out.push(',');
            out.push_str(&json_string(k));
            out.push(':');
            out.push_str(&json_string(v));
        }
        out.push('}');
        let logger = self.logger.read().clone();
        let Some(l) = logger else {
            eprintln!("{out}");
            return;
        };
        let msg = Message {
            source: Handle::SYSTEM,
            origin: Handle::SYSTEM,
            session: WHOLE_LINE,
            ptype: ptype::TEXT,
            payload: Payload::from(out.as_str()),
        };
        match l.mailbox.push_system(msg) {
            Ok(true) => self.schedule(l),
            Ok(false) => {}
            Err(_) => eprintln!("{out}"),
        }
    }

    /// Asks the logger to reopen its file (after logrotate moved it: skynet
    /// does this on SIGHUP).
    pub fn reopen_log(&self) {
        self.tell_logger(Payload::empty());
    }

    /// Asks the logger to write every line queued before this request and
    /// then leave: the last step of an abort, so that the lines services
    /// wrote on their way out (a `main`'s last words before
    /// `skynet.abort()`) are not lost with it.
    pub(crate) fn drain_and_close_log(&self) {
        self.tell_logger(Payload::from(LOGGER_CLOSE));
    }

    fn tell_logger(&self, payload: Payload) {
        let logger = self.logger.read().clone();
        if let Some(l) = logger {
            let msg = Message {
                source: Handle::SYSTEM,
                origin: Handle::SYSTEM,
                session: 0,
                ptype: ptype::SYSTEM,
                payload,
            };
            if let Ok(true) = l.mailbox.push_system(msg) {
                self.schedule(l);
            }
        }
    }

    /// A line logged by a service: charged to its share of the logger's
    /// mailbox, and dropped (and counted) when that share is full.
    pub fn log_from(&self, from: &Cell, text: &str) {
        let logger = self.logger.read().clone();
        let Some(l) = logger else {
            eprintln!("[{}] {text}", from.handle());
            return;
        };
        let msg = Message {
            source: from.handle(),
            origin: from.handle(),
            session: 0,
            ptype: ptype::TEXT,
            payload: Payload::from(text),
        };
        match l.mailbox.push(msg) {
            Ok(true) => self.schedule(l),
            Ok(false) => {}
            Err(_) => {
                from.stats.log_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

// The logger is a service like any other; what it does with each kind of
// message is said here, where the node routes lines to it.
/// The runtime's request that the logger leave once it has written what
/// was queued before it (a SYSTEM message; an empty one asks for a reopen).
const LOGGER_CLOSE: &[u8] = b"close";

/// The session of a TEXT message from the runtime whose payload is a
/// whole JSON line (an audit line in a JSON log). Only the runtime sends
/// as `Handle::SYSTEM`, so no service can pass a line off as one.
const WHOLE_LINE: i32 = -0x4a53;

impl Service for Logger {
    fn handle(&mut self, ctx: &Context, msg: Message) {
        match msg.ptype {
            ptype::TEXT => {
                let text = String::from_utf8_lossy(msg.payload.as_slice());
                if self.format() == LogFormat::Text {
                    self.line(msg.source, None, &text);
                } else if msg.origin == Handle::SYSTEM && msg.session == WHOLE_LINE {
                    self.whole(&text);
                } else {
                    let service = ctx.node.registry.get(msg.source).map(|c| c.launch.clone());
                    self.line(msg.source, service.as_deref(), &text);
                }
            }
            // Not `ctx.exit()`: its "KILL self" line would go to this very
            // logger, after the request to close.
            ptype::SYSTEM if msg.payload.as_slice() == LOGGER_CLOSE => {
                self.flush();
                ctx.cell.request_exit();
            }
            ptype::SYSTEM => self.reopen(),
            _ => {}
        }
    }
}
