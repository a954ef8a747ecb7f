//! One module per threat the runtime closes. Each test shows the attack and
//! what the runtime does about it.

mod common;

mod debug_injection;
mod deserializer_bomb;
mod forged_reply;
mod hostile_clients;
mod kill_without_grant;
mod mailbox_flood;
mod name_hijack;
mod secret_getenv;
mod socket_takeover;
mod spoofed_source;
mod stale_handle;
mod timer_bomb;
