//! Formats: reading input into pieces detection can run on, and writing every byte that was not
//! changed back exactly as it was. This issue brings text and log streams; structured formats
//! plug in beside them. Whole image files are recognised by their signature (`image`).

pub mod image;
pub mod text;

/// The input formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Pick from the file name and content.
    Auto,
    /// Lines of text or log output; any bytes.
    Text,
}
