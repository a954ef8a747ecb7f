//! TLS with a test authority: curl and httpc over HTTPS, the Lua
//! WebSocket client over wss, and what the TLS module refuses.

use super::certs::Certs;
use super::*;
use std::process::Command;

fn keys(ca: &Certs) -> Vec<(&'static str, String)> {
    ca.keys()
}

fn with<'a>(
    k: &'a [(&'static str, String)],
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = k.iter().map(|(a, b)| (*a, b.as_str())).collect();
    v.extend_from_slice(more);
    v
}

#[test]
fn curl_over_https_with_the_test_authority() {
    if !have("curl") {
        eprintln!("curl is not installed: skipped");
        return;
    }
    let ca = Certs::new("web-https");
    let k = keys(&ca);
    let node = boot("web_server", &with(&k, &[("web_protocol", "https")]));
    let port = node.listen_port();
    let url = format!("https://127.0.0.1:{port}/hello?name=tls");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca.dir.join("ca.pem"))
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello tls",
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.dump()
    );
    let post = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-d", "secret=1", "--cacert"])
        .arg(ca.dir.join("ca.pem"))
        .arg(format!("https://localhost:{port}/echo"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&post.stdout), "secret=1");
    // curl without the authority refuses the certificate
    let refused = Command::new("curl")
        .args(["-sS", "--max-time", "10", &url])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

#[test]
fn httpc_and_wss_over_tls() {
    let ca = Certs::new("web-wss");
    let k = keys(&ca);
    lua_pass("web_clients", &with(&k, &[("web_tls", "true")]));
}

#[test]
fn the_tls_module_refuses_what_the_config_does_not_allow() {
    let ca = Certs::new("web-refusals");
    let k = keys(&ca);
    lua_pass("tls_refusals", &with(&k, &[]));
}
