//! PostgreSQL directory archives (`pg_dump -Fd`): a `toc.dat` table of contents and one COPY
//! text file per table (`NNNN.dat`, or `NNNN.dat.gz` when compressed). The scrubbed archive is
//! a new directory that `pg_restore` reads like the original: `toc.dat` copied byte for byte,
//! every data file rewritten by the plain-dump reader ([`pgdump`](super::pgdump)), which gets the
//! table's `CREATE TABLE` (for column types) and `COPY` header from the TOC in front of the
//! file's rows. Files the TOC does not name as table data (large objects) stop the run rather
//! than pass unscrubbed.
//!
//! The output directory is built beside its destination under a temporary name and renamed
//! only when every file is complete, so a failure leaves nothing.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use super::pgdump;
use crate::classify::ColumnRules;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};

/// Whether `dir` is a pg_dump directory archive (its `toc.dat` starts with `PGDMP`).
pub fn is_archive(dir: &Path) -> bool {
    let mut head = [0u8; 5];
    dir.is_dir()
        && File::open(dir.join("toc.dat"))
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
        && &head == b"PGDMP"
}

/// One TOC entry, as far as rewriting data needs it.
#[derive(Debug, Default, Clone)]
struct Entry {
    desc: String,
    tag: String,
    namespace: String,
    defn: String,
    copy_stmt: String,
    filename: Option<String>,
}

fn bad(what: &str) -> PipelineError {
    PipelineError::Format(format!("toc.dat: {what}"))
}

/// A reader of the archive's binary encoding: integers as a sign byte and `int_size`
/// little-endian bytes, strings as a length (−1 for NULL) and the bytes.
struct Toc<'a> {
    b: &'a [u8],
    i: usize,
    int_size: usize,
}

impl Toc<'_> {
    fn byte(&mut self) -> Result<u8, PipelineError> {
        let v = *self.b.get(self.i).ok_or_else(|| bad("ends early"))?;
        self.i += 1;
        Ok(v)
    }

    fn int(&mut self) -> Result<i64, PipelineError> {
        let sign = self.byte()?;
        let mut v: i64 = 0;
        for k in 0..self.int_size {
            v |= i64::from(self.byte()?) << (8 * k);
        }
        Ok(if sign == 0 { v } else { -v })
    }

    fn str(&mut self) -> Result<Option<String>, PipelineError> {
        let n = self.int()?;
        if n < 0 {
            return Ok(None);
        }
        let n = n as usize;
        let s = self
            .b
            .get(self.i..self.i + n)
            .ok_or_else(|| bad("a string runs past the end"))?;
        self.i += n;
        Ok(Some(String::from_utf8_lossy(s).into_owned()))
    }

    fn string(&mut self) -> Result<String, PipelineError> {
        Ok(self.str()?.unwrap_or_default())
    }
}

/// Parses `toc.dat` of a directory archive (archive versions 1.12 to 1.16, pg_dump 11–17).
fn read_toc(b: &[u8]) -> Result<Vec<Entry>, PipelineError> {
    if b.len() < 11 || &b[..5] != b"PGDMP" {
        return Err(bad("not a pg_dump archive"));
    }
    let (vmaj, vmin) = (b[5], b[6]);
    let version = (u32::from(vmaj) << 8) | u32::from(vmin);
    let int_size = b[8] as usize;
    let format = b[10];
    if !(0x010c..=0x0110).contains(&version) {
        return Err(bad(&format!(
            "archive version {vmaj}.{vmin} is not supported"
        )));
    }
    if format != 3 {
        return Err(bad("not a directory-format archive"));
    }
    if !(1..=8).contains(&int_size) {
        return Err(bad("bad integer size"));
    }
    let mut t = Toc { b, i: 11, int_size };
    if version >= 0x010f {
        t.byte()?; // compression algorithm
    } else {
        t.int()?; // compression level
    }
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
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let mut e = Entry::default();
        t.int()?; // dump id
        t.int()?; // had dumper
        t.str()?; // table oid
        t.str()?; // oid
        e.tag = t.string()?;
        e.desc = t.string()?;
        t.int()?; // section
        e.defn = t.string()?;
        t.str()?; // drop statement
        e.copy_stmt = t.string()?;
        e.namespace = t.string()?;
        t.str()?; // tablespace
        t.str()?; // table access method
        if version >= 0x0110 {
            t.int()?; // relkind
        }
        t.str()?; // owner
        t.str()?; // with oids ("false")
        while t.str()?.is_some() {} // dependencies
        e.filename = t.str()?;
        out.push(e);
    }
    Ok(out)
}

/// Drops the first bytes written (the prefix the reader was given), checking that they are
/// the prefix, and passes the rest on.
struct SkipPrefix<'p, W: Write> {
    prefix: &'p [u8],
    at: usize,
    inner: W,
}

impl<W: Write> Write for SkipPrefix<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.prefix.len() - self.at;
        let n = left.min(buf.len());
        if buf[..n] != self.prefix[self.at..self.at + n] {
            return Err(io::Error::other(
                "the table header did not pass through unchanged",
            ));
        }
        self.at += n;
        self.inner.write_all(&buf[n..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An error message of the reader, whose lines count the TOC's header lines in front of the
/// data file, with its lines counted in the data file instead (the COPY header, which is in
/// the TOC and not the file, is not named).
fn shift_lines(msg: &str, by: u64) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(p) = rest.find("line ") {
        out.push_str(&rest[..p + 5]);
        rest = &rest[p + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<u64>() {
            Ok(n) if digits > 0 => out.push_str(&n.saturating_sub(by).to_string()),
            _ => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out.replace(" (COPY at line 0)", "")
}

/// Scrubs (or with `out` `None` scans) the archive `dir` into the new directory `out`.
///
/// # Errors
/// An unreadable or unsupported archive, a data file the TOC does not describe, and every
/// error of [`pgdump::run`] (with the data file's lines).
pub fn run(
    engine: &Engine,
    columns: &ColumnRules,
    dir: &Path,
    out: Option<&Path>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    let read_err = |source| PipelineError::Read { offset: 0, source };
    let werr = PipelineError::Write;
    let toc_bytes = std::fs::read(dir.join("toc.dat")).map_err(read_err)?;
    let entries = read_toc(&toc_bytes)?;
    let settings: String = entries
        .iter()
        .filter(|e| e.desc == "ENCODING" || e.desc == "STDSTRINGS")
        .map(|e| e.defn.as_str())
        .collect();
    let tmp = match out {
        Some(o) => {
            if o.exists() {
                return Err(PipelineError::Format(format!(
                    "{} exists: a directory archive is written to a new directory",
                    o.display()
                )));
            }
            let parent = match o.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => std::path::PathBuf::from("."),
            };
            std::fs::create_dir_all(&parent).map_err(werr)?;
            Some(
                tempfile::Builder::new()
                    .prefix(".phiscrub-")
                    .tempdir_in(&parent)
                    .map_err(werr)?,
            )
        }
        None => None,
    };
    let data_files: std::collections::HashMap<&str, &Entry> = entries
        .iter()
        .filter(|e| e.desc == "TABLE DATA")
        .filter_map(|e| e.filename.as_deref().map(|f| (f, e)))
        .collect();
    let mut stats = Stats::default();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let src = dir.join(&name);
        if name == "toc.dat" {
            if let Some(t) = &tmp {
                std::fs::copy(&src, t.path().join(&name)).map_err(werr)?;
            }
            continue;
        }
        let (base, gz) = match name.strip_suffix(".gz") {
            Some(b) => (b, true),
            None => (name.as_str(), false),
        };
        let Some(entry) = data_files.get(base) else {
            return Err(PipelineError::Format(format!(
                "{name} in the archive is not table data the TOC describes (large objects are not supported)"
            )));
        };
        let table = entries
            .iter()
            .find(|e| e.desc == "TABLE" && e.tag == entry.tag && e.namespace == entry.namespace);
        let prefix = format!(
            "{settings}{}\n{}",
            table.map_or("", |t| t.defn.as_str()),
            entry.copy_stmt
        );
        let prefix_lines = prefix.matches('\n').count() as u64;
        let file = BufReader::new(File::open(&src).map_err(read_err)?);
        let body: Box<dyn Read + Send> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut input = io::Cursor::new(prefix.as_bytes()).chain(body);
        let mut shift = |l: &Located| {
            let mut l = l.clone();
            l.line = l.line.saturating_sub(prefix_lines);
            l.start = l.start.saturating_sub(prefix.len() as u64);
            l.end = l.end.saturating_sub(prefix.len() as u64);
            found(&l)
        };
        let named = |e: PipelineError| match e {
            PipelineError::Format(m) => {
                PipelineError::Format(format!("{name}: {}", shift_lines(&m, prefix_lines)))
            }
            other => other,
        };
        let s = match &tmp {
            None => pgdump::run::<io::Sink>(engine, columns, &mut input, None, opts, &mut shift)
                .map_err(named)?,
            Some(t) => {
                let f = File::create(t.path().join(&name)).map_err(werr)?;
                let w = BufWriter::with_capacity(256 << 10, f);
                let s = if gz {
                    let enc = flate2::write::GzEncoder::new(w, flate2::Compression::default());
                    let mut sw = SkipPrefix {
                        prefix: prefix.as_bytes(),
                        at: 0,
                        inner: enc,
                    };
                    let s =
                        pgdump::run(engine, columns, &mut input, Some(&mut sw), opts, &mut shift)
                            .map_err(named)?;
                    let mut w = sw.inner.finish().map_err(werr)?;
                    w.flush().map_err(werr)?;
                    w.get_ref().sync_all().map_err(werr)?;
                    s
                } else {
                    let mut sw = SkipPrefix {
                        prefix: prefix.as_bytes(),
                        at: 0,
                        inner: w,
                    };
                    let s =
                        pgdump::run(engine, columns, &mut input, Some(&mut sw), opts, &mut shift)
                            .map_err(named)?;
                    sw.inner.flush().map_err(werr)?;
                    sw.inner.get_ref().sync_all().map_err(werr)?;
                    s
                };
                s
            }
        };
        stats.bytes += s.bytes.saturating_sub(prefix.len() as u64);
        stats.findings += s.findings;
        stats.changed += s.changed;
    }
    if let (Some(t), Some(o)) = (tmp, out) {
        // The same permissions as the archive read (pg_dump makes it 0700).
        if let Ok(meta) = std::fs::metadata(dir) {
            let _ = std::fs::set_permissions(t.path(), meta.permissions());
        }
        let path = t.keep();
        std::fs::rename(&path, o).map_err(|e| {
            let _ = std::fs::remove_dir_all(&path);
            PipelineError::Write(e)
        })?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64, out: &mut Vec<u8>) {
        out.push(u8::from(v < 0));
        out.extend_from_slice(&(v.unsigned_abs() as u32).to_le_bytes());
    }

    fn s(v: Option<&str>, out: &mut Vec<u8>) {
        match v {
            None => int(-1, out),
            Some(t) => {
                int(t.len() as i64, out);
                out.extend_from_slice(t.as_bytes());
            }
        }
    }

    /// A TOC as pg_dump 15 writes it (archive 1.14), with one table and its data.
    fn toc() -> Vec<u8> {
        let mut b = b"PGDMP\x01\x0e\x00\x04\x08\x03".to_vec();
        int(0, &mut b);
        for v in [1, 2, 3, 4, 5, 126, 0] {
            int(v, &mut b);
        }
        for v in ["db", "15.2", "15.2"] {
            s(Some(v), &mut b);
        }
        int(2, &mut b);
        for (id, tag, desc, defn, copy, file) in [
            (
                1,
                "p",
                "TABLE",
                "CREATE TABLE public.p (id integer);\n",
                "",
                None,
            ),
            (
                2,
                "p",
                "TABLE DATA",
                "",
                "COPY public.p (id) FROM stdin;\n",
                Some("2.dat"),
            ),
        ] {
            int(id, &mut b);
            int(i64::from(file.is_some()), &mut b);
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
            s(file, &mut b);
        }
        b
    }

    #[test]
    fn error_lines_count_in_the_data_file() {
        assert_eq!(
            shift_lines("truncated dump: input ends at line 69 inside the COPY data of public.notes (COPY at line 9) without", 9),
            "truncated dump: input ends at line 60 inside the COPY data of public.notes without"
        );
        assert_eq!(shift_lines("line 12: a COPY row", 2), "line 10: a COPY row");
    }

    #[test]
    fn reads_a_toc() {
        let e = read_toc(&toc()).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].defn, "CREATE TABLE public.p (id integer);\n");
        assert_eq!(e[1].copy_stmt, "COPY public.p (id) FROM stdin;\n");
        assert_eq!(e[1].filename.as_deref(), Some("2.dat"));
        assert_eq!(e[1].namespace, "public");
        // Every cut of it is an error, not a panic.
        let t = toc();
        for n in 0..t.len() {
            assert!(read_toc(&t[..n]).is_err(), "{n}");
        }
    }
}
