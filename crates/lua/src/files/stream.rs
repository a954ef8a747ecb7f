//! One open file with C stdio's buffering and Lua's read formats: lines
//! with or without their newline, a number, everything, or a count of
//! bytes, every read bounded by a byte limit.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::roots::EBADF;

/// The buffer size (C's `BUFSIZ`).
const CHUNK: usize = 8192;
/// The longest numeral `read("n")` looks at (Lua's `L_MAXLENNUM`).
const MAX_NUMERAL: usize = 200;

/// How writes are buffered (`setvbuf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffering {
    /// Every write goes out at once.
    No,
    /// Written when the buffer fills, on flush, seek or close.
    Full,
    /// As `Full`, and at each newline.
    Line,
}

/// Why a read ended badly.
#[derive(Debug)]
pub enum ReadError {
    /// The system failed.
    Io(io::Error),
    /// The call would return more than its limit of bytes.
    Limit,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// An open file, buffered.
#[derive(Debug)]
pub struct Stream {
    file: File,
    readable: bool,
    writable: bool,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    buffering: Buffering,
}

fn bad_fd() -> io::Error {
    io::Error::from_raw_os_error(EBADF)
}

impl Stream {
    /// Wraps an open file; `readable`/`writable` are what its mode allows.
    pub fn new(file: File, readable: bool, writable: bool) -> Stream {
        Stream {
            file,
            readable,
            writable,
            rbuf: Vec::new(),
            rpos: 0,
            wbuf: Vec::new(),
            buffering: Buffering::Full,
        }
    }

    /// The file underneath (for locks).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Unread bytes in the buffer, refilled from the file when empty;
    /// empty at the end of the file.
    fn fill(&mut self) -> io::Result<&[u8]> {
        if self.rpos >= self.rbuf.len() {
            if !self.readable {
                return Err(bad_fd());
            }
            self.flush()?;
            self.rbuf.resize(CHUNK, 0);
            let n = loop {
                match self.file.read(&mut self.rbuf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.rbuf.clear();
                        self.rpos = 0;
                        return Err(e);
                    }
                }
            };
            self.rbuf.truncate(n);
            self.rpos = 0;
        }
        Ok(&self.rbuf[self.rpos..])
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.fill()?.first().copied())
    }

    fn take_byte(&mut self) {
        self.rpos += 1;
    }

    /// A line; `keep` keeps its newline (`L`), else it is dropped (`l`).
    /// `None` at the end of the file with nothing read.
    pub fn read_line(
        &mut self,
        keep: bool,
        limit: &mut usize,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        let mut out = Vec::new();
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok((!out.is_empty()).then_some(out));
            }
            let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            let wanted = if newline && !keep { n - 1 } else { n };
            if wanted > *limit {
                return Err(ReadError::Limit);
            }
            *limit -= wanted;
            out.extend_from_slice(&chunk[..wanted]);
            self.rpos += n;
            if newline {
                return Ok(Some(out));
            }
        }
    }

    /// Everything to the end of the file (empty at the end).
    pub fn read_all(&mut self, limit: &mut usize) -> Result<Vec<u8>, ReadError> {
        self.read_up_to(usize::MAX, limit)
    }

    /// Up to `n` bytes; `None` at the end of the file.
    pub fn read_chars(
        &mut self,
        n: usize,
        limit: &mut usize,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        let out = self.read_up_to(n, limit)?;
        Ok((!out.is_empty()).then_some(out))
    }

    fn read_up_to(&mut self, n: usize, limit: &mut usize) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        while out.len() < n {
            let buf = self.fill()?;
            if buf.is_empty() {
                break;
            }
            let take = buf.len().min(n - out.len());
            if take > *limit {
                return Err(ReadError::Limit);
            }
            *limit -= take;
            out.extend_from_slice(&buf[..take]);
            self.rpos += take;
        }
        Ok(out)
    }

    /// True at the end of the file (`read(0)`).
    pub fn at_eof(&mut self) -> io::Result<bool> {
        Ok(self.fill()?.is_empty())
    }

    /// The text of a numeral as `read("n")` takes it: leading space
    /// skipped, then the longest prefix that can be a decimal or
    /// hexadecimal numeral. `None` if it grew past Lua's limit (the bytes
    /// stay read, as in Lua).
    pub fn read_numeral(&mut self) -> io::Result<Option<Vec<u8>>> {
        while let Some(c) = self.peek()? {
            if !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
                break;
            }
            self.take_byte();
        }
        let mut n = Numeral {
            text: Vec::new(),
            too_long: false,
        };
        n.test(self, b"-+")?;
        let mut count = 0;
        let mut hex = false;
        if n.test(self, b"0")? {
            if n.test(self, b"xX")? {
                hex = true;
            } else {
                count = 1;
            }
        }
        count += n.digits(self, hex)?;
        if n.test(self, b".")? {
            count += n.digits(self, hex)?;
        }
        if count > 0 && n.test(self, if hex { b"pP" } else { b"eE" })? {
            n.test(self, b"-+")?;
            n.digits(self, false)?;
        }
        Ok((!n.too_long).then_some(n.text))
    }

    /// Writes `data` (buffered as `setvbuf` says).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(bad_fd());
        }
        self.drop_read_ahead()?;
        self.wbuf.extend_from_slice(data);
        let out = match self.buffering {
            Buffering::No => true,
            Buffering::Full => self.wbuf.len() >= CHUNK,
            Buffering::Line => self.wbuf.len() >= CHUNK || data.contains(&b'\n'),
        };
        if out {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            let r = self.file.write_all(&self.wbuf);
            self.wbuf.clear();
            r?;
        }
        Ok(())
    }

    /// Gives the bytes read ahead back to the file, so that the next write
    /// or seek starts where the reader is.
    fn drop_read_ahead(&mut self) -> io::Result<()> {
        let unread = self.rbuf.len() - self.rpos.min(self.rbuf.len());
        self.rbuf.clear();
        self.rpos = 0;
        if unread > 0 {
            self.file.seek(SeekFrom::Current(-(unread as i64)))?;
        }
        Ok(())
    }

    /// Moves to `to`; the new position from the start.
    pub fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.flush()?;
        self.drop_read_ahead()?;
        self.file.seek(to)
    }

    /// Sets how writes are buffered (what is buffered goes out first).
    pub fn set_buffering(&mut self, b: Buffering) -> io::Result<()> {
        self.flush()?;
        self.buffering = b;
        Ok(())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// A numeral being read.
struct Numeral {
    text: Vec<u8>,
    too_long: bool,
}

impl Numeral {
    fn take(&mut self, s: &mut Stream, c: u8) -> bool {
        if self.too_long || self.text.len() >= MAX_NUMERAL {
            self.too_long = true;
            return false;
        }
        self.text.push(c);
        s.take_byte();
        true
    }

    /// Takes the next byte if it is one of `set`.
    fn test(&mut self, s: &mut Stream, set: &[u8]) -> io::Result<bool> {
        match s.peek()? {
            Some(c) if set.contains(&c) => Ok(self.take(s, c)),
            _ => Ok(false),
        }
    }

    fn digits(&mut self, s: &mut Stream, hex: bool) -> io::Result<usize> {
        let mut n = 0;
        while let Some(c) = s.peek()? {
            let ok = if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            };
            if !ok || !self.take(s, c) {
                break;
            }
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(bytes: &[u8]) -> (Stream, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "skyhold-stream-{}-{}",
            std::process::id(),
            bytes.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!(
            "f{:x}",
            bytes.iter().map(|&b| b as u64).sum::<u64>()
        ));
        std::fs::write(&p, bytes).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        (Stream::new(f, true, true), p)
    }

    #[test]
    fn lines_numbers_and_counts() {
        let (mut s, p) = stream_of(b"one\ntwo\n  0x1F 12.5e1 - 7\nrest");
        let mut lim = usize::MAX;
        assert_eq!(s.read_line(false, &mut lim).unwrap().unwrap(), b"one");
        assert_eq!(s.read_line(true, &mut lim).unwrap().unwrap(), b"two\n");
        assert_eq!(s.read_numeral().unwrap().unwrap(), b"0x1F");
        assert_eq!(s.read_numeral().unwrap().unwrap(), b"12.5e1");
        assert_eq!(s.read_numeral().unwrap().unwrap(), b"-");
        assert_eq!(s.read_chars(3, &mut lim).unwrap().unwrap(), b" 7\n");
        assert_eq!(s.read_all(&mut lim).unwrap(), b"rest");
        assert!(s.at_eof().unwrap());
        assert!(s.read_line(false, &mut lim).unwrap().is_none());
        assert!(s.read_chars(1, &mut lim).unwrap().is_none());
        assert_eq!(s.read_all(&mut lim).unwrap(), b"");
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn a_read_past_its_limit_fails() {
        let (mut s, p) = stream_of(&[b'x'; 20000]);
        let mut lim = 10_000;
        assert!(matches!(s.read_all(&mut lim), Err(ReadError::Limit)));
        let mut lim = 10_000;
        assert!(matches!(
            s.read_line(false, &mut lim),
            Err(ReadError::Limit)
        ));
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn writes_after_reads_land_where_the_reader_is() {
        let (mut s, p) = stream_of(b"abcdef");
        let mut lim = usize::MAX;
        assert_eq!(s.read_chars(2, &mut lim).unwrap().unwrap(), b"ab");
        s.write(b"XY").unwrap();
        assert_eq!(s.seek(SeekFrom::Current(0)).unwrap(), 4);
        assert_eq!(s.read_all(&mut lim).unwrap(), b"ef");
        drop(s);
        assert_eq!(std::fs::read(&p).unwrap(), b"abXYef");
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn a_numeral_too_long_is_no_number() {
        let (mut s, p) = stream_of(&[b'1'; 300]);
        assert!(s.read_numeral().unwrap().is_none());
        std::fs::remove_file(p).ok();
    }
}
