//! One module per threat the runtime closes. Each test shows the attack and
//! what the runtime does about it.

mod console_without_login;
mod cpu_bomb;
mod debug_injection;
mod deserializer_bomb;
mod file_roots;
mod finalizer_at_exit;
mod forged_reply;
mod hostile_clients;
mod hostile_cluster_peer;
mod hostile_wss_client;
mod kill_without_grant;
mod mailbox_flood;
mod memory_bomb;
mod name_hijack;
mod sandbox_escape;
mod secret_getenv;
mod service_flood;
mod socket_takeover;
mod spoofed_source;
mod stale_handle;
mod timer_bomb;
mod unsafe_require;
