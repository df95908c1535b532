//! Tar headers as this crate writes them: POSIX ustar blocks, with a PAX
//! extended header in front when a field does not fit (long or binary
//! names, long link targets, large ids or sizes, extended attributes).
//!
//! Every byte is a function of the entry: no user or group names, no
//! access or change times, a fixed name for PAX headers, PAX records in key
//! order. Layers and archives both go through here, so the crate has one
//! tar encoding.

use std::collections::BTreeMap;
use std::io::{self, Write};

/// Size of a tar block.
pub(crate) const BLOCK: usize = 512;
/// Largest value of an 8-byte octal field (uid, gid, mode).
const MAX_OCTAL_8: u64 = 0o7_777_777;
/// Largest value of a 12-byte octal field (size, mtime).
const MAX_OCTAL_12: u64 = 0o77_777_777_777;
/// The name of every PAX extended header: readers ignore it, a fixed one keeps output stable.
const PAX_HEADER_NAME: &[u8] = b"././@PaxHeader";

/// What a tar entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TarKind<'a> {
    Regular,
    Directory,
    Symlink(&'a [u8]),
    Hardlink(&'a [u8]),
    CharDevice(u32, u32),
    BlockDevice(u32, u32),
    Fifo,
}

/// One entry's header fields, as they go into the archive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TarHeader<'a> {
    /// The name in the archive; a directory's gets a trailing `/` here.
    pub(crate) path: &'a [u8],
    pub(crate) kind: TarKind<'a>,
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) mtime: u64,
    pub(crate) size: u64,
    pub(crate) xattrs: &'a BTreeMap<String, Vec<u8>>,
}

/// Write the header (and a PAX header before it when needed).
pub(crate) fn write_header(out: &mut impl Write, header: &TarHeader<'_>) -> io::Result<()> {
    let mut name = header.path.to_vec();
    if header.kind == TarKind::Directory && !name.ends_with(b"/") {
        name.push(b'/');
    }
    let link: &[u8] = match header.kind {
        TarKind::Symlink(target) | TarKind::Hardlink(target) => target,
        _ => b"",
    };

    let mut pax: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    let binary = std::str::from_utf8(&name).is_err() || std::str::from_utf8(link).is_err();
    if name.len() > 100 {
        pax.insert("path", name.clone());
    }
    if link.len() > 100 {
        pax.insert("linkpath", link.to_vec());
    }
    if (pax.contains_key("path") || pax.contains_key("linkpath")) && binary {
        // POSIX: the path records hold raw bytes, not UTF-8.
        pax.insert("hdrcharset", b"BINARY".to_vec());
    }
    if header.uid > MAX_OCTAL_8 {
        pax.insert("uid", header.uid.to_string().into_bytes());
    }
    if header.gid > MAX_OCTAL_8 {
        pax.insert("gid", header.gid.to_string().into_bytes());
    }
    if header.size > MAX_OCTAL_12 {
        pax.insert("size", header.size.to_string().into_bytes());
    }
    if header.mtime > MAX_OCTAL_12 {
        pax.insert("mtime", header.mtime.to_string().into_bytes());
    }
    let xattr_keys: Vec<String> = header.xattrs.keys().map(|key| format!("SCHILY.xattr.{key}")).collect();

    if !pax.is_empty() || !header.xattrs.is_empty() {
        let mut records = Vec::new();
        // Records sorted by key: the plain keys and the xattrs merged in one order.
        let mut all: Vec<(&str, &[u8])> = pax.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        all.extend(xattr_keys.iter().map(String::as_str).zip(header.xattrs.values().map(Vec::as_slice)));
        all.sort_by(|a, b| a.0.cmp(b.0));
        for (key, value) in all {
            pax_record(&mut records, key, value);
        }
        let block = ustar_block(PAX_HEADER_NAME, b'x', 0o644, 0, 0, 0, records.len() as u64, b"", (0, 0));
        out.write_all(&block)?;
        out.write_all(&records)?;
        write_padding(out, records.len() as u64)?;
    }

    let (typeflag, device) = match header.kind {
        TarKind::Regular => (b'0', (0, 0)),
        TarKind::Directory => (b'5', (0, 0)),
        TarKind::Symlink(_) => (b'2', (0, 0)),
        TarKind::Hardlink(_) => (b'1', (0, 0)),
        TarKind::CharDevice(major, minor) => (b'3', (major, minor)),
        TarKind::BlockDevice(major, minor) => (b'4', (major, minor)),
        TarKind::Fifo => (b'6', (0, 0)),
    };
    let fits = |value: u64, max: u64| if value > max { 0 } else { value };
    let block = ustar_block(
        truncate(&name, 100),
        typeflag,
        header.mode & 0o7777,
        fits(header.uid, MAX_OCTAL_8),
        fits(header.gid, MAX_OCTAL_8),
        fits(header.mtime, MAX_OCTAL_12),
        fits(header.size, MAX_OCTAL_12),
        truncate(link, 100),
        device,
    );
    out.write_all(&block)
}

/// Zeros up to the next block boundary after `size` bytes of content.
pub(crate) fn write_padding(out: &mut impl Write, size: u64) -> io::Result<()> {
    let rest = (size % BLOCK as u64) as usize;
    if rest != 0 {
        out.write_all(&[0; BLOCK][..BLOCK - rest])?;
    }
    Ok(())
}

/// The end of an archive: two zero blocks.
pub(crate) fn write_end(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&[0; 2 * BLOCK])
}

fn truncate(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[..bytes.len().min(max)]
}

/// One PAX record: `<length> <key>=<value>\n`, where the length counts itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = key.len() + value.len() + 3;
    let mut length = rest + 1;
    while length != rest + length.to_string().len() {
        length = rest + length.to_string().len();
    }
    out.extend_from_slice(format!("{length} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[allow(clippy::too_many_arguments)]
fn ustar_block(
    name: &[u8],
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: u64,
    link: &[u8],
    (major, minor): (u32, u32),
) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..name.len()].copy_from_slice(name);
    octal(&mut block[100..108], u64::from(mode));
    octal(&mut block[108..116], uid);
    octal(&mut block[116..124], gid);
    octal(&mut block[124..136], size);
    octal(&mut block[136..148], mtime);
    block[156] = typeflag;
    block[157..157 + link.len()].copy_from_slice(link);
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    // uname (265..297) and gname (297..329) stay empty: owners are numeric only.
    if matches!(typeflag, b'3' | b'4') {
        octal(&mut block[329..337], u64::from(major));
        octal(&mut block[337..345], u64::from(minor));
    }
    block[148..156].copy_from_slice(b"        ");
    let sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
    let field = format!("{sum:06o}\0 ");
    block[148..156].copy_from_slice(field.as_bytes());
    block
}

/// A zero-padded octal number ending in NUL, filling the field.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(path: &'a [u8], kind: TarKind<'a>, xattrs: &'a BTreeMap<String, Vec<u8>>) -> TarHeader<'a> {
        TarHeader { path, kind, mode: 0o755, uid: 1001, gid: 0, mtime: 1_700_000_000, size: 0, xattrs }
    }

    fn read_back(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, u64, u64)> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let link = entry.link_name_bytes().map(|l| l.into_owned()).unwrap_or_default();
                let xattr_count = entry.pax_extensions().unwrap().map_or(0, |records| {
                    records.filter(|r| r.as_ref().unwrap().key().unwrap().starts_with("SCHILY")).count()
                });
                (entry.path_bytes().into_owned(), link, entry.header().uid().unwrap(), xattr_count as u64)
            })
            .collect()
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let mut out = Vec::new();
        pax_record(&mut out, "path", b"abc");
        assert_eq!(out, b"12 path=abc\n");
        let mut long = Vec::new();
        pax_record(&mut long, "path", &[b'a'; 95]);
        assert_eq!(long.len(), 105);
        assert!(long.starts_with(b"105 path="));
    }

    #[test]
    fn long_binary_names_and_links_use_pax() {
        let none = BTreeMap::new();
        let long_name: Vec<u8> = [&[b'd'; 150][..], b"/\xff-name"].concat();
        let long_link = vec![b'l'; 200];
        let mut out = Vec::new();
        write_header(&mut out, &header(&long_name, TarKind::Symlink(&long_link), &none)).unwrap();
        write_header(&mut out, &header(b"short\xfe", TarKind::Regular, &none)).unwrap();
        write_end(&mut out).unwrap();
        let entries = read_back(&out);
        assert_eq!(entries[0].0, long_name);
        assert_eq!(entries[0].1, long_link);
        assert_eq!(entries[1].0, b"short\xfe");
    }

    #[test]
    fn large_ids_xattrs_and_no_owner_names() {
        let xattrs = BTreeMap::from([("security.capability".to_owned(), vec![1, 0, 0, 2])]);
        let mut out = Vec::new();
        let mut big = header(b"bin/ping", TarKind::Regular, &xattrs);
        big.uid = 100_000_000;
        write_header(&mut out, &big).unwrap();
        write_end(&mut out).unwrap();
        let entries = read_back(&out);
        assert_eq!(entries[0].2, 100_000_000);
        assert_eq!(entries[0].3, 1);
        let main = &out[BLOCK * 2..BLOCK * 3];
        assert!(main[265..329].iter().all(|&b| b == 0), "uname and gname are empty");
    }

    #[test]
    fn directories_get_a_trailing_slash() {
        let none = BTreeMap::new();
        let mut out = Vec::new();
        write_header(&mut out, &header(b"etc", TarKind::Directory, &none)).unwrap();
        assert_eq!(&out[..4], b"etc/");
    }
}
