//! Formats: reading input into pieces detection can run on, and writing every byte that was not
//! changed back exactly as it was. This issue brings text and log streams; structured formats
//! plug in beside them. Whole image files are recognised by their signature (`image`).

pub mod cell_cache;
pub mod cells;
pub mod compress;
pub mod csv;
pub mod csv_codec;
pub mod image;
pub mod jsonl;
pub mod mysql_sql;
pub mod mysqldump;
pub mod num_text;
pub mod parquet;
pub mod pg_copy;
pub mod pg_sql;
pub mod pgcustom;
pub mod pgdir;
pub mod pgdump;
pub mod pgtoc;
pub mod sqltype;
pub mod text;

/// The input formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Pick from the file name and content.
    Auto,
    /// Lines of text or log output; any bytes.
    Text,
    /// Comma-separated values with a header row (delimiter sniffed unless `--delimiter`).
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One JSON value per line; string values are cells named by their key path.
    Jsonl,
    /// One JSON document.
    Json,
    /// Apache Parquet, row group by row group.
    Parquet,
    /// A PostgreSQL plain dump (`pg_dump -Fp`): COPY blocks and INSERT statements.
    Pgdump,
    /// A PostgreSQL custom-format archive (`pg_dump -Fc`), rewritten as one; found by its
    /// signature whatever the format asked for is `auto` or `pgdump`.
    Pgcustom,
    /// A MySQL/MariaDB dump (`mysqldump`, `mariadb-dump`): INSERT statements.
    Mysqldump,
}

impl Format {
    /// The format to use for a file: the one asked for, or with `auto` the one its name says
    /// (a compression suffix such as `.gz` or `.zst` looked through). A `.sql` file is a dump
    /// whose kind the content tells: see [`Format::sniff_sql`].
    pub fn resolve(self, path: Option<&std::path::Path>) -> Format {
        if self != Format::Auto {
            return self;
        }
        let ext = path.and_then(|p| {
            let name = p.file_name()?.to_str()?.to_ascii_lowercase();
            let name = compress::Codec::strip_suffix(&name).to_string();
            let (_, ext) = name.rsplit_once('.')?;
            Some(ext.to_string())
        });
        match ext.as_deref() {
            Some("sql") | Some("dump") => Format::Auto,
            Some("csv") => Format::Csv,
            Some("tsv") | Some("tab") => Format::Tsv,
            Some("jsonl") | Some("ndjson") => Format::Jsonl,
            Some("json") => Format::Json,
            Some("parquet") | Some("pq") => Format::Parquet,
            _ => Format::Text,
        }
    }
}

impl Format {
    /// Which kind of SQL dump `head` (the first few KiB of a `.sql` file) starts: pg_dump and
    /// mysqldump/mariadb-dump both sign their output in the first lines; failing that, the
    /// statements themselves tell (`COPY … FROM stdin;`, `SET standard_conforming_strings` for
    /// PostgreSQL; backquoted names, `/*!40101` or `LOCK TABLES` for MySQL). Anything else is
    /// text.
    pub fn sniff_sql(head: &[u8]) -> Format {
        let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
        if has(b"-- PostgreSQL database dump")
            || has(b"FROM stdin;")
            || has(b"SET standard_conforming_strings")
        {
            Format::Pgdump
        } else if has(b"-- MySQL dump")
            || has(b"-- MariaDB dump")
            || has(b"/*!40101")
            || has(b"LOCK TABLES `")
            || has(b"INSERT INTO `")
            || has(b"CREATE TABLE `")
        {
            Format::Mysqldump
        } else if has(b"INSERT INTO ") || has(b"CREATE TABLE ") {
            Format::Pgdump
        } else {
            Format::Text
        }
    }
}

/// Appends up to `want` more bytes of a dump to `buf` (whose first byte is at stream offset
/// `base`) and says whether the input ended: the one read-more step of the PostgreSQL and MySQL
/// dump readers, with a read error naming its stream offset.
pub(crate) fn read_more(
    input: &mut (dyn std::io::Read + Send),
    buf: &mut Vec<u8>,
    want: usize,
    base: u64,
) -> Result<bool, crate::pipeline::PipelineError> {
    use std::io::Read as _;
    let before = buf.len();
    let n = (&mut *input)
        .take(want as u64)
        .read_to_end(buf)
        .map_err(|source| crate::pipeline::PipelineError::Read {
            offset: base + before as u64,
            source,
        })?;
    Ok(n < want)
}

/// How a streaming reader cuts its input: bytes per read, and at most bytes per worker chunk.
/// Only tests and fuzz targets set them (the formats' `run_sized`), to put read and chunk
/// boundaries everywhere in a small input; the output must not depend on them.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub read: usize,
    pub chunk: usize,
}
