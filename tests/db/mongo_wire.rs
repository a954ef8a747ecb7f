//! The MongoDB wire protocol as the test's peer speaks it: BSON documents
//! built by hand (written here from the BSON specification, independent of
//! crates/bson, so a bug there cannot hide in both), OP_MSG frames read
//! and written, and requests decoded with crates/bson's bounded decoder.

use skyhold_bson::wire::{self, Node};
use std::io::Read;
use std::net::TcpStream;

/// The opcode of OP_MSG.
pub const OP_MSG: i32 = 2013;
/// The legacy reply opcode.
pub const OP_REPLY: i32 = 1;

/// A BSON value to write.
#[derive(Clone, Debug)]
pub enum B {
    /// A double (0x01).
    F(f64),
    /// A string (0x02).
    S(String),
    /// An embedded document (0x03).
    D(Vec<(String, B)>),
    /// An array (0x04).
    A(Vec<B>),
    /// A boolean (0x08).
    T(bool),
    /// An int32 (0x10).
    I(i32),
    /// An int64 (0x12).
    L(i64),
    /// A value as decoded (a request's document echoed back).
    N(Node),
    /// A value of another type: its type code and its bytes.
    Raw(u8, Vec<u8>),
}

/// A document from (key, value) pairs.
pub fn doc(pairs: Vec<(&str, B)>) -> B {
    B::D(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A string value.
pub fn s(v: &str) -> B {
    B::S(v.to_string())
}

fn cstring(out: &mut Vec<u8>, k: &[u8]) {
    out.extend_from_slice(k);
    out.push(0);
}

fn element(out: &mut Vec<u8>, key: &[u8], v: &B) {
    let (t, body): (u8, Vec<u8>) = match v {
        B::F(f) => (1, f.to_le_bytes().to_vec()),
        B::S(s) => {
            let mut b = ((s.len() + 1) as i32).to_le_bytes().to_vec();
            cstring(&mut b, s.as_bytes());
            (2, b)
        }
        B::D(pairs) => (
            3,
            encode_pairs(pairs.iter().map(|(k, v)| (k.as_bytes(), v))),
        ),
        B::A(items) => {
            let keys: Vec<String> = (0..items.len()).map(|i| i.to_string()).collect();
            (
                4,
                encode_pairs(keys.iter().map(|k| k.as_bytes()).zip(items)),
            )
        }
        B::T(b) => (8, vec![u8::from(*b)]),
        B::I(i) => (0x10, i.to_le_bytes().to_vec()),
        B::L(i) => (0x12, i.to_le_bytes().to_vec()),
        B::Raw(t, b) => (*t, b.clone()),
        B::N(n) => return element(out, key, &from_node(n)),
    };
    out.push(t);
    cstring(out, key);
    out.extend_from_slice(&body);
}

fn encode_pairs<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a B)>) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0];
    for (k, v) in pairs {
        element(&mut out, k, v);
    }
    out.push(0);
    let n = out.len() as i32;
    out[..4].copy_from_slice(&n.to_le_bytes());
    out
}

/// A decoded value as one to write (numbers become int64 or double).
fn from_node(n: &Node) -> B {
    match n {
        Node::Real(f) => B::F(*f),
        Node::Int(i) => B::L(*i),
        Node::Bool(b) => B::T(*b),
        Node::Str(s) => B::S(String::from_utf8_lossy(s).into_owned()),
        // skynet's tagged strings: \0, the type code, the value's bytes
        Node::Tagged(t) if t.len() >= 2 => B::Raw(t[1], t[2..].to_vec()),
        Node::Tagged(_) => B::S(String::new()),
        Node::Doc(pairs) => B::D(
            pairs
                .iter()
                .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), from_node(v)))
                .collect(),
        ),
        Node::Array(items) => B::A(items.iter().map(|(_, v)| from_node(v)).collect()),
    }
}

/// The bytes of a document.
pub fn bytes(d: &B) -> Vec<u8> {
    match d {
        B::D(pairs) => encode_pairs(pairs.iter().map(|(k, v)| (k.as_bytes(), v))),
        other => panic!("not a document: {other:?}"),
    }
}

/// An OP_MSG frame: id, the request it answers, flags, one body section.
pub fn op_msg(id: i32, to: i32, flags: i32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((21 + body.len()) as i32).to_le_bytes());
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&to.to_le_bytes());
    v.extend_from_slice(&OP_MSG.to_le_bytes());
    v.extend_from_slice(&flags.to_le_bytes());
    v.push(0);
    v.extend_from_slice(body);
    v
}

/// A request as the peer read it.
pub struct Request {
    /// The whole frame, length included.
    pub frame: Vec<u8>,
    /// Its request id.
    pub id: i32,
    /// Its flag bits.
    pub flags: i32,
    /// Its body document, decoded.
    pub doc: Vec<(String, Node)>,
}

impl Request {
    /// The command's name (the first key).
    pub fn command(&self) -> &str {
        self.doc.first().map(|(k, _)| k.as_str()).unwrap_or("")
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.doc.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string value of `key` ("" if none).
    pub fn str(&self, key: &str) -> String {
        match self.get(key) {
            Some(Node::Str(s)) => String::from_utf8_lossy(s).into_owned(),
            _ => String::new(),
        }
    }

    /// Its keys in order.
    pub fn keys(&self) -> Vec<&str> {
        self.doc.iter().map(|(k, _)| k.as_str()).collect()
    }
}

fn le32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads one OP_MSG request; None when the client went away. Panics on
/// a frame the client should never send (the test then fails).
pub fn read_request(s: &mut TcpStream) -> Option<Request> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let n = i32::from_le_bytes(len);
    assert!(
        (21..16 << 20).contains(&n),
        "the client sent a frame of {n} bytes"
    );
    let mut frame = len.to_vec();
    frame.resize(n as usize, 0);
    s.read_exact(&mut frame[4..]).ok()?;
    assert_eq!(le32(&frame, 8), 0, "responseTo of a request");
    assert_eq!(le32(&frame, 12), OP_MSG, "the client speaks OP_MSG only");
    assert_eq!(frame[20], 0, "one body section");
    let body = &frame[21..];
    assert_eq!(
        wire::doc_len(body),
        Some(body.len() as i32),
        "the body is one whole document"
    );
    let doc = match wire::decode(body, &mut ()) {
        Ok(Node::Doc(pairs)) => pairs
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect(),
        other => panic!("a request's body did not decode: {other:?}"),
    };
    Some(Request {
        id: le32(&frame, 4),
        flags: le32(&frame, 16),
        frame,
        doc,
    })
}

/// Whether the string `text` is somewhere in `v`.
pub fn mentions(v: &Node, text: &str) -> bool {
    match v {
        Node::Str(s) => s == text.as_bytes(),
        Node::Doc(pairs) => pairs.iter().any(|(_, v)| mentions(v, text)),
        Node::Array(items) => items.iter().any(|(_, v)| mentions(v, text)),
        _ => false,
    }
}
