//! Reading what a client sends the endpoint: the head of one HTTP/1.x
//! request (method, path, the `Authorization` header) from bytes no
//! longer than [`HEAD_LIMIT`], and the Basic credentials in it. Anything
//! else is an error with a reason, never a panic.

/// The longest request head read; a longer one is refused.
pub const HEAD_LIMIT: usize = 8192;

/// The most header lines read.
pub const MAX_HEADERS: usize = 64;

/// One request's head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The `Authorization` header's value, if any.
    pub authorization: Option<String>,
    /// The `Host` header's value, if any.
    pub host: Option<String>,
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// The head has not ended yet (read more).
    Incomplete,
    /// Longer than [`HEAD_LIMIT`] or more than [`MAX_HEADERS`] lines.
    TooLarge,
    /// Not an HTTP/1.x request head.
    Malformed(&'static str),
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadRequest::Incomplete => f.write_str("incomplete request"),
            BadRequest::TooLarge => f.write_str("request head too large"),
            BadRequest::Malformed(why) => write!(f, "malformed request: {why}"),
        }
    }
}

/// Where the head ends (just past the blank line), if it does.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

/// Parses the head at the start of `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Request, BadRequest> {
    let Some(end) = head_end(&bytes[..bytes.len().min(HEAD_LIMIT)]) else {
        return Err(if bytes.len() >= HEAD_LIMIT {
            BadRequest::TooLarge
        } else {
            BadRequest::Incomplete
        });
    };
    let head =
        std::str::from_utf8(&bytes[..end - 4]).map_err(|_| BadRequest::Malformed("not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::Malformed("request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(BadRequest::Malformed("method"));
    }
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(BadRequest::Malformed("version"));
    }
    if !target.starts_with('/') {
        return Err(BadRequest::Malformed("target"));
    }
    let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
    let mut authorization = None;
    let mut host = None;
    for (n, line) in lines.enumerate() {
        if n >= MAX_HEADERS {
            return Err(BadRequest::TooLarge);
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(BadRequest::Malformed("header line"));
        };
        if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.trim().to_string());
        } else if name.eq_ignore_ascii_case("host") {
            host = Some(value.trim().to_string());
        }
    }
    Ok(Request {
        method: method.to_string(),
        path,
        authorization,
        host,
    })
}

/// True if a `Host` header names this machine (`localhost`, a loopback
/// IP, with or without a port): a page from elsewhere that rebinds its
/// name to 127.0.0.1 still sends its own name.
pub fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Standard base64 (with `=` padding) decoded; `None` if it is not.
pub fn base64(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, chunk) in b.chunks(4).enumerate() {
        let last = i + 1 == b.len() / 4;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for c in &chunk[..4 - pad] {
            n = (n << 6) | sextet(*c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// The user and password of a `Basic` authorization value.
pub fn basic(authorization: &str) -> Option<(String, String)> {
    let (scheme, rest) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let text = String::from_utf8(base64(rest.trim())?).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_scrape_request_is_read() {
        let r = parse(
            b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Basic YWxpY2U6cHc=\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/metrics");
        assert_eq!(
            basic(r.authorization.as_deref().unwrap()),
            Some(("alice".into(), "pw".into()))
        );
    }

    #[test]
    fn bad_heads_are_refused_with_a_reason() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(BadRequest::Incomplete));
        assert!(matches!(
            parse(b"GET /\r\n\r\n"),
            Err(BadRequest::Malformed(_))
        ));
        assert!(matches!(
            parse(b"get / HTTP/1.1\r\n\r\n"),
            Err(BadRequest::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET x HTTP/1.1\r\n\r\n"),
            Err(BadRequest::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/2\r\n\r\n"),
            Err(BadRequest::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"),
            Err(BadRequest::Malformed(_))
        ));
        let big = vec![b'a'; HEAD_LIMIT + 10];
        assert_eq!(parse(&big), Err(BadRequest::TooLarge));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"a: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many), Err(BadRequest::TooLarge));
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "127.0.0.1:9100",
            "[::1]:80",
            "LOCALHOST:1",
            "127.1.2.3",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:9100",
            "10.0.0.1",
            "[::2]:1",
            "",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
    }

    #[test]
    fn base64_known_answers() {
        // RFC 4648 §10.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(coded).as_deref(), Some(plain.as_bytes()), "{coded}");
        }
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Zm9*", "="] {
            assert_eq!(base64(bad), None, "{bad}");
        }
        assert_eq!(basic("Bearer abc"), None);
        assert_eq!(basic("Basic Zm9v"), None, "no colon");
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn any_text_decodes_or_fails_cleanly(text in "[A-Za-z0-9+/=]{0,64}") {
            if let Some(d) = base64(&text) {
                prop_assert!(d.len() <= text.len());
            }
        }

        #[test]
        fn heads_with_random_headers_keep_the_path(path in "/[a-z0-9/]{0,30}", value in "[ -~]{0,40}") {
            let head = format!("GET {path} HTTP/1.1\r\nX-Any: {value}\r\n\r\n");
            let r = parse(head.as_bytes()).unwrap();
            prop_assert_eq!(r.path, path);
        }
    }
}
