//! Content digests (`sha256:<hex>`) and the byte streams that compute them.
//!
//! Blobs are hashed while they pass: [`HashingWriter`] sits in front of a
//! sink, [`HashingReader`] behind a source. Neither buffers; both count the
//! bytes, so a descriptor's digest and size come out of the one pass that
//! writes or reads the blob.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// The one algorithm s2i writes and reads.
const SHA256: &str = "sha256";

/// A SHA-256 content digest, written `sha256:` and 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hash(Sha256::digest(bytes).into())
    }

    /// Parse `sha256:<64 lowercase hex digits>`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidDigest { input: input.to_owned(), reason: reason.to_owned() };
        let Some((algorithm, hex)) = input.split_once(':') else {
            return Err(invalid("it has no algorithm prefix"));
        };
        if algorithm != SHA256 {
            return Err(invalid(&format!("the algorithm {algorithm:?} is not supported, only sha256")));
        }
        if hex.len() != 64 {
            return Err(invalid(&format!("a sha256 digest has 64 hex digits, this one has {}", hex.len())));
        }
        if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(invalid("the digits must be lowercase hex (0-9, a-f)"));
        }
        Ok(Self { hex: hex.to_owned() })
    }

    /// The 64 hex digits, without the algorithm (file names in `blobs/sha256/`).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The algorithm, always `sha256`.
    pub fn algorithm(&self) -> &'static str {
        SHA256
    }

    fn from_hash(hash: [u8; 32]) -> Self {
        Self { hex: hex::encode(hash) }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SHA256}:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A running SHA-256 with a byte count.
#[derive(Clone, Default)]
pub(crate) struct Hasher {
    hash: Sha256,
    size: u64,
}

impl Hasher {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hash.update(bytes);
        self.size += bytes.len() as u64;
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn finish(self) -> (Digest, u64) {
        (Digest::from_hash(self.hash.finalize().into()), self.size)
    }
}

/// A writer that hashes and counts what goes through it to the inner writer.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    /// Hash everything written to `inner` through this writer.
    pub fn new(inner: W) -> Self {
        Self { inner, hasher: Hasher::default() }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.hasher.size()
    }

    /// The inner writer, the digest and the size of all that was written.
    pub fn finish(self) -> (W, Digest, u64) {
        let (digest, size) = self.hasher.finish();
        (self.inner, digest, size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts what is read through it; it can also
/// check, at the end of the stream, that the content is what was expected.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    expected: Option<(Digest, u64)>,
}

impl<R: Read> HashingReader<R> {
    /// Hash everything read from `inner` through this reader.
    pub fn new(inner: R) -> Self {
        Self { inner, hasher: Hasher::default(), expected: None }
    }

    /// Like [`HashingReader::new`], and the end of the stream is an
    /// [`io::ErrorKind::InvalidData`] error unless the content has this
    /// digest and size (a corrupt or truncated blob).
    pub fn verifying(inner: R, digest: Digest, size: u64) -> Self {
        Self { inner, hasher: Hasher::default(), expected: Some((digest, size)) }
    }

    /// Bytes read so far.
    pub fn size(&self) -> u64 {
        self.hasher.size()
    }

    /// The digest and size of all that was read.
    pub fn finish(self) -> (Digest, u64) {
        self.hasher.finish()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        if let Some((digest, size)) = &self.expected {
            let so_far = self.hasher.size();
            if so_far > *size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the blob {digest} is longer than its {size} bytes"),
                ));
            }
            // Checked when the last expected byte arrives, so that a reader
            // that stops after `size` bytes (`Read::take`) is checked too.
            let at_end = so_far == *size && (read > 0 || !buf.is_empty());
            let short = read == 0 && !buf.is_empty() && so_far < *size;
            if at_end || short {
                let (actual, actual_size) = self.hasher.clone().finish();
                if actual != *digest || actual_size != *size {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the blob {digest} ({size} bytes) holds {actual} ({actual_size} bytes)"),
                    ));
                }
            }
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_of_bytes_and_display() {
        assert_eq!(Digest::of(b"").to_string(), EMPTY);
        assert_eq!(Digest::parse(EMPTY).unwrap(), Digest::of(b""));
        assert_eq!(Digest::of(b"").hex().len(), 64);
    }

    #[test]
    fn parse_rejects_bad_digests() {
        for bad in [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0",
            "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            let err = Digest::parse(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidDigest { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn serde_round_trip_validates() {
        let digest = Digest::of(b"x");
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{digest}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
        assert!(serde_json::from_str::<Digest>("\"sha256:00\"").is_err());
    }

    #[test]
    fn writer_and_reader_hash_what_passes() {
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(b"hello ").unwrap();
        writer.write_all(b"world").unwrap();
        let (bytes, digest, size) = writer.finish();
        assert_eq!(bytes, b"hello world");
        assert_eq!((digest.clone(), size), (Digest::of(b"hello world"), 11));

        let mut reader = HashingReader::new(&b"hello world"[..]);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(reader.finish(), (digest, 11));
    }

    #[test]
    fn verifying_reader_fails_on_other_content() {
        let mut good = HashingReader::verifying(&b"abc"[..], Digest::of(b"abc"), 3);
        io::copy(&mut good, &mut io::sink()).unwrap();
        let mut bad = HashingReader::verifying(&b"abd"[..], Digest::of(b"abc"), 3);
        let err = io::copy(&mut bad, &mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut long = HashingReader::verifying(&b"abcd"[..], Digest::of(b"abc"), 3);
        assert!(io::copy(&mut long, &mut io::sink()).is_err());
        let mut empty = HashingReader::verifying(&b""[..], Digest::of(b"abc"), 0);
        assert!(io::copy(&mut empty, &mut io::sink()).is_err(), "an empty blob is checked too");
        let mut taken = HashingReader::verifying(&b"abd-and-more"[..], Digest::of(b"abc"), 3).take(3);
        assert!(io::copy(&mut taken, &mut io::sink()).is_err(), "checked at the last byte, not only at EOF");
    }
}
