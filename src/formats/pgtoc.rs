//! The header and table of contents that pg_dump's directory (`-Fd`) and custom (`-Fc`)
//! archives share: the directory format keeps them in `toc.dat`, the custom format at the
//! start of its one file, in front of the data. They differ only in what follows each entry:
//! a data file's name, or where in the file the entry's data block starts.
//!
//! The reader keeps every byte it read, so a caller copies the TOC through unchanged and
//! patches only what it must (a custom archive's data offsets).

use std::io::Read;

use super::pg_sql::{partitioning, unique_key, Lex, Partitioning};
use crate::pipeline::PipelineError;

/// The archive kinds, as the header's format byte names them.
pub const CUSTOM: u8 = 1;
pub const DIRECTORY: u8 = 3;

/// What a custom archive says about an entry's data block (pg_backup_archiver.h).
pub const OFFSET_NOT_SET: u8 = 1;
pub const OFFSET_SET: u8 = 2;
pub const OFFSET_NO_DATA: u8 = 3;

/// How the archive's data is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// A zlib stream (pg_dump's "gzip" inside an archive), with the level it asked for.
    Gzip(i32),
    Lz4,
    Zstd,
}

/// The archive header, as far as reading and rewriting the data needs it.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub format: u8,
    pub int_size: usize,
    pub off_size: usize,
    pub compression: Compression,
}

/// What follows an entry: its data file (directory) or its data block (custom).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extra {
    File(Option<String>),
    /// The offset flag and where, in the TOC's bytes, the flag is (the offset follows it).
    Offset {
        flag: u8,
        at: usize,
    },
}

/// One TOC entry, as far as rewriting data needs it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dump_id: i64,
    pub desc: String,
    pub tag: String,
    pub namespace: String,
    pub defn: String,
    pub copy_stmt: String,
    pub extra: Extra,
}

impl Entry {
    /// A directory archive's data file name.
    pub fn filename(&self) -> Option<&str> {
        match &self.extra {
            Extra::File(f) => f.as_deref(),
            Extra::Offset { .. } => None,
        }
    }
}

/// The header, the entries and the bytes they were read from.
pub struct Toc {
    pub header: Header,
    pub entries: Vec<Entry>,
    pub raw: Vec<u8>,
}

impl Toc {
    /// The settings a data block's rows depend on (`client_encoding`, `standard_conforming_strings`),
    /// as the SQL statements a plain dump carries them in.
    pub fn settings(&self) -> String {
        self.entries
            .iter()
            .filter(|e| e.desc == "ENCODING" || e.desc == "STDSTRINGS")
            .map(|e| e.defn.as_str())
            .collect()
    }

    /// What the plain-dump reader is given in front of an entry's rows: the settings, the
    /// table's `CREATE TABLE` (for column types), for a partition the `CREATE TABLE` of each
    /// table above it and the `ATTACH PARTITION` statements linking them (so it knows which
    /// columns are partition keys), its single-column unique keys, and the `COPY` header.
    pub fn data_prefix(&self, data: &Entry) -> String {
        let table = |ns: &str, tag: &str| {
            self.entries
                .iter()
                .find(|e| e.desc == "TABLE" && e.tag == tag && e.namespace == ns)
        };
        let mut out = self.settings();
        out.push_str(table(&data.namespace, &data.tag).map_or("", |t| t.defn.as_str()));
        out.push('\n');
        let (mut ns, mut tag) = (data.namespace.clone(), data.tag.clone());
        for _ in 0..64 {
            let Some(attach) = self
                .entries
                .iter()
                .find(|e| e.desc == "TABLE ATTACH" && e.tag == tag && e.namespace == ns)
            else {
                break;
            };
            let Some(Partitioning::Child { parent, .. }) =
                partitioning(attach.defn.as_bytes(), Lex::default())
            else {
                break;
            };
            let (pns, ptag) = match parent.as_slice() {
                [t] => (ns.clone(), t.clone()),
                [.., s, t] => (s.clone(), t.clone()),
                [] => break,
            };
            if let Some(p) = table(&pns, &ptag) {
                out.push_str(&p.defn);
                out.push('\n');
            }
            out.push_str(&attach.defn);
            out.push('\n');
            (ns, tag) = (pns, ptag);
        }
        // The table's single-column unique keys (a plain dump adds them after the data): read
        // before the rows, they have every changed value of their columns checked as it is
        // made.
        for e in &self.entries {
            if !(e.desc == "CONSTRAINT" || e.desc == "INDEX") || e.namespace != data.namespace {
                continue;
            }
            let Some((t, _)) = unique_key(e.defn.as_bytes(), Lex::default()) else {
                continue;
            };
            if t.last() == Some(&data.tag) {
                out.push_str(&e.defn);
                out.push('\n');
            }
        }
        out.push_str(&data.copy_stmt);
        out
    }
}

fn bad(what: &str) -> PipelineError {
    PipelineError::Format(format!("archive table of contents: {what}"))
}

/// A reader of the archive's binary encoding that keeps what it read: integers as a sign byte
/// and `int_size` little-endian bytes, strings as a length (−1 for NULL) and the bytes.
struct Reader<'r> {
    r: &'r mut dyn Read,
    raw: Vec<u8>,
    int_size: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], PipelineError> {
        let at = self.raw.len();
        let got = (&mut *self.r)
            .take(n as u64)
            .read_to_end(&mut self.raw)
            .map_err(|source| PipelineError::Read {
                offset: at as u64,
                source,
            })?;
        if got < n {
            return Err(bad("ends early"));
        }
        Ok(&self.raw[at..])
    }

    fn byte(&mut self) -> Result<u8, PipelineError> {
        Ok(self.bytes(1)?[0])
    }

    fn int(&mut self) -> Result<i64, PipelineError> {
        let n = self.int_size;
        let b = self.bytes(n + 1)?;
        let mut v: i64 = 0;
        for (k, &x) in b[1..].iter().enumerate() {
            v |= i64::from(x) << (8 * k);
        }
        Ok(if b[0] == 0 { v } else { -v })
    }

    fn str(&mut self) -> Result<Option<String>, PipelineError> {
        let n = self.int()?;
        if n < 0 {
            return Ok(None);
        }
        // A length beyond what any TOC holds is a corrupt archive, not an allocation.
        if n > 1 << 30 {
            return Err(bad("a string is longer than any archive holds"));
        }
        let s = self.bytes(n as usize)?;
        Ok(Some(String::from_utf8_lossy(s).into_owned()))
    }

    fn string(&mut self) -> Result<String, PipelineError> {
        Ok(self.str()?.unwrap_or_default())
    }
}

/// Reads an archive's header and TOC (archive versions 1.12 to 1.16, pg_dump 11–17) from the
/// start of `r`, which must be an archive of kind `format`; `r` is left at the first byte
/// after the TOC.
pub fn read(r: &mut dyn Read, format: u8) -> Result<Toc, PipelineError> {
    let mut t = Reader {
        r,
        raw: Vec::new(),
        int_size: 4,
    };
    let h = t.bytes(11).map_err(|_| bad("not a pg_dump archive"))?;
    if &h[..5] != b"PGDMP" {
        return Err(bad("not a pg_dump archive"));
    }
    let (vmaj, vmin) = (h[5], h[6]);
    let version = (u32::from(vmaj) << 8) | u32::from(vmin);
    let (int_size, off_size, kind) = (usize::from(h[8]), usize::from(h[9]), h[10]);
    if !(0x010c..=0x0110).contains(&version) {
        return Err(bad(&format!(
            "archive version {vmaj}.{vmin} is not supported"
        )));
    }
    if kind != format {
        return Err(bad(match format {
            CUSTOM => "not a custom-format archive",
            _ => "not a directory-format archive",
        }));
    }
    if !(1..=8).contains(&int_size) || !(1..=8).contains(&off_size) {
        return Err(bad("bad integer size"));
    }
    t.int_size = int_size;
    let compression = if version >= 0x010f {
        match t.byte()? {
            0 => Compression::None,
            1 => Compression::Gzip(-1),
            2 => Compression::Lz4,
            3 => Compression::Zstd,
            _ => return Err(bad("unknown compression")),
        }
    } else {
        match t.int()? {
            0 => Compression::None,
            l => Compression::Gzip(l as i32),
        }
    };
    for _ in 0..7 {
        t.int()?; // creation time
    }
    t.str()?; // database name
    t.str()?; // server version
    t.str()?; // pg_dump version
    let count = t.int()?;
    if count < 0 {
        return Err(bad("negative entry count"));
    }
    let mut entries = Vec::with_capacity((count as usize).min(1 << 16));
    for _ in 0..count {
        let dump_id = t.int()?;
        t.int()?; // had dumper
        t.str()?; // table oid
        t.str()?; // oid
        let tag = t.string()?;
        let desc = t.string()?;
        t.int()?; // section
        let defn = t.string()?;
        t.str()?; // drop statement
        let copy_stmt = t.string()?;
        let namespace = t.string()?;
        t.str()?; // tablespace
        t.str()?; // table access method
        if version >= 0x0110 {
            t.int()?; // relkind
        }
        t.str()?; // owner
        t.str()?; // with oids ("false")
        while t.str()?.is_some() {} // dependencies
        let extra = if format == CUSTOM {
            let at = t.raw.len();
            let flag = t.byte()?;
            t.bytes(off_size)?;
            if !(OFFSET_NOT_SET..=OFFSET_NO_DATA).contains(&flag) {
                return Err(bad("bad data offset flag"));
            }
            Extra::Offset { flag, at }
        } else {
            Extra::File(t.str()?)
        };
        entries.push(Entry {
            dump_id,
            desc,
            tag,
            namespace,
            defn,
            copy_stmt,
            extra,
        });
    }
    Ok(Toc {
        header: Header {
            format,
            int_size,
            off_size,
            compression,
        },
        entries,
        raw: t.raw,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn int(v: i64, out: &mut Vec<u8>) {
        out.push(u8::from(v < 0));
        out.extend_from_slice(&(v.unsigned_abs() as u32).to_le_bytes());
    }

    pub fn s(v: Option<&str>, out: &mut Vec<u8>) {
        match v {
            None => int(-1, out),
            Some(t) => {
                int(t.len() as i64, out);
                out.extend_from_slice(t.as_bytes());
            }
        }
    }

    /// A header and TOC as pg_dump 15 writes them (archive 1.14, 4-byte integers, 8-byte
    /// offsets) for one table `public.p (id integer, ssn text)` and its data: a directory
    /// archive names the data file, a custom one gives an offset (here "not set").
    pub fn archive(format: u8, level: i64) -> Vec<u8> {
        let mut b = b"PGDMP\x01\x0e\x00\x04\x08".to_vec();
        b.push(format);
        int(level, &mut b);
        for v in [1, 2, 3, 4, 5, 126, 0] {
            int(v, &mut b);
        }
        for v in ["db", "15.2", "15.2"] {
            s(Some(v), &mut b);
        }
        int(3, &mut b);
        for (id, tag, desc, defn, copy, data) in [
            (
                1,
                "p",
                "TABLE",
                "CREATE TABLE public.p (id integer, ssn text);\n",
                "",
                false,
            ),
            (
                2,
                "p",
                "TABLE DATA",
                "",
                "COPY public.p (id, ssn) FROM stdin;\n",
                true,
            ),
            (
                3,
                "STDSTRINGS",
                "STDSTRINGS",
                "SET standard_conforming_strings = 'on';\n",
                "",
                false,
            ),
        ] {
            int(id, &mut b);
            int(i64::from(data), &mut b);
            s(Some("0"), &mut b);
            s(Some("0"), &mut b);
            s(Some(tag), &mut b);
            s(Some(desc), &mut b);
            int(1, &mut b);
            s(Some(defn), &mut b);
            s(None, &mut b);
            s(Some(copy), &mut b);
            s(Some("public"), &mut b);
            s(Some(""), &mut b);
            s(Some("heap"), &mut b);
            s(Some("postgres"), &mut b);
            s(Some("false"), &mut b);
            s(Some("1"), &mut b);
            s(None, &mut b);
            if format == CUSTOM {
                b.push(if data { OFFSET_NOT_SET } else { OFFSET_NO_DATA });
                b.extend_from_slice(&[0; 8]);
            } else {
                s(data.then_some("2.dat"), &mut b);
            }
        }
        b
    }

    #[test]
    fn reads_both_kinds_and_every_cut_is_an_error() {
        for (format, level, compression) in [
            (DIRECTORY, 0, Compression::None),
            (CUSTOM, -1, Compression::Gzip(-1)),
            (CUSTOM, 0, Compression::None),
        ] {
            let a = archive(format, level);
            let toc = read(&mut &a[..], format).unwrap();
            assert_eq!(toc.raw, a, "every byte read is kept");
            assert_eq!(toc.header.compression, compression);
            assert_eq!((toc.header.int_size, toc.header.off_size), (4, 8));
            let data = &toc.entries[1];
            assert_eq!((data.dump_id, data.desc.as_str()), (2, "TABLE DATA"));
            match &data.extra {
                Extra::File(f) => assert_eq!(f.as_deref(), Some("2.dat")),
                Extra::Offset { flag, at } => {
                    assert_eq!(*flag, OFFSET_NOT_SET);
                    assert_eq!(a[*at], OFFSET_NOT_SET, "`at` is the flag's byte");
                }
            }
            assert_eq!(
                toc.data_prefix(data),
                "SET standard_conforming_strings = 'on';\nCREATE TABLE public.p (id integer, ssn text);\n\nCOPY public.p (id, ssn) FROM stdin;\n"
            );
            let other = if format == CUSTOM { DIRECTORY } else { CUSTOM };
            assert!(
                read(&mut &a[..], other).is_err(),
                "the other kind is refused"
            );
            for n in 0..a.len() {
                assert!(read(&mut &a[..n], format).is_err(), "cut at {n}");
            }
        }
    }
}
