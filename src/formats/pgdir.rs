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

use super::{pgdump, pgtoc};
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

/// Drops the first bytes written (the prefix the reader was given), checking that they are
/// the prefix, and passes the rest on.
pub(super) struct SkipPrefix<'p, W: Write> {
    pub(super) prefix: &'p [u8],
    pub(super) at: usize,
    pub(super) inner: W,
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

/// A finding in the data the reader was given behind `prefix` (of `lines` lines), placed in
/// the data alone.
pub(super) fn shifted(l: &Located, prefix: &str, lines: u64) -> Located {
    let mut l = l.clone();
    l.line = l.line.saturating_sub(lines);
    l.start = l.start.saturating_sub(prefix.len() as u64);
    l.end = l.end.saturating_sub(prefix.len() as u64);
    l
}

/// An error message of the reader, whose lines count the TOC's header lines in front of the
/// data file, with its lines counted in the data file instead (the COPY header, which is in
/// the TOC and not the file, is not named).
pub(super) fn shift_lines(msg: &str, by: u64) -> String {
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
    let named_toc = |e: PipelineError| match e {
        PipelineError::Format(m) => PipelineError::Format(format!("toc.dat: {m}")),
        other => other,
    };
    let toc = pgtoc::read(&mut &toc_bytes[..], pgtoc::DIRECTORY).map_err(named_toc)?;
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
    let data_files: std::collections::HashMap<&str, &pgtoc::Entry> = toc
        .entries
        .iter()
        .filter(|e| e.desc == "TABLE DATA")
        .filter_map(|e| e.filename().map(|f| (f, e)))
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
        let prefix = toc.data_prefix(entry);
        let prefix_lines = prefix.matches('\n').count() as u64;
        let file = BufReader::new(File::open(&src).map_err(read_err)?);
        let body: Box<dyn Read + Send> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut input = io::Cursor::new(prefix.as_bytes()).chain(body);
        let mut shift = |l: &Located| found(&shifted(l, &prefix, prefix_lines));
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

    /// A TOC as pg_dump 15 writes it (archive 1.14), with one table and its data.
    fn toc() -> Vec<u8> {
        pgtoc::tests::archive(pgtoc::DIRECTORY, 0)
    }

    fn read_toc(b: &[u8]) -> Result<Vec<pgtoc::Entry>, PipelineError> {
        Ok(pgtoc::read(&mut &b[..], pgtoc::DIRECTORY)?.entries)
    }

    #[test]
    fn reads_a_toc() {
        let e = read_toc(&toc()).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].defn, "CREATE TABLE public.p (id integer, ssn text);\n");
        assert_eq!(e[1].copy_stmt, "COPY public.p (id, ssn) FROM stdin;\n");
        assert_eq!(e[1].filename(), Some("2.dat"));
        assert_eq!(e[1].namespace, "public");
        // Every cut of it is an error, not a panic.
        let t = toc();
        for n in 0..t.len() {
            assert!(read_toc(&t[..n]).is_err(), "{n}");
        }
    }
}
