//! Formats: reading input into pieces detection can run on, and writing every byte that was not
//! changed back exactly as it was. This issue brings text and log streams; structured formats
//! plug in beside them. Whole image files are recognised by their signature (`image`).

pub mod cells;
pub mod csv;
pub mod csv_codec;
pub mod image;
pub mod jsonl;
pub mod parquet;
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
}

impl Format {
    /// The format to use for a file: the one asked for, or with `auto` the one its name says.
    pub fn resolve(self, path: Option<&std::path::Path>) -> Format {
        if self != Format::Auto {
            return self;
        }
        let ext = path
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Format::Csv,
            Some("tsv") | Some("tab") => Format::Tsv,
            Some("jsonl") | Some("ndjson") => Format::Jsonl,
            Some("json") => Format::Json,
            Some("parquet") | Some("pq") => Format::Parquet,
            _ => Format::Text,
        }
    }
}
