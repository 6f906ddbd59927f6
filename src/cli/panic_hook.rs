//! What a panic prints. A panic inside a dependency comes from the bytes it was decoding (the
//! Parquet reader on a corrupt file, which `formats::parquet` catches and reports as a malformed
//! file), and its message can quote them: `unwrap()` on a `FromUtf8Error` prints the bytes. So
//! only the crate and place are printed for those. phiscrub's own panics are bugs, and keep
//! the default message: it is what a bug report needs.

/// Installs the hook for the whole process (before any thread starts).
pub fn install() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        match info
            .location()
            .and_then(|l| dependency(l.file()).map(|c| (c, l)))
        {
            Some((krate, l)) => eprintln!(
                "phiscrub: {krate} panicked at {}:{} on malformed input (its message is \
                 withheld: it may quote the data)",
                file_name(l.file()),
                l.line()
            ),
            None => default(info),
        }
    }));
}

/// The crate (`arrow-ipc-59.3.2`) of a source path in cargo's registry or git checkouts.
fn dependency(file: &str) -> Option<&str> {
    // `registry/src/index.crates.io-…/arrow-ipc-59.3.2/src/convert.rs`: the component after
    // the index; `git/checkouts/arrow-rs-…/rev/…`: the checkout.
    let (rest, at) = [("/registry/src/", 1), ("/git/checkouts/", 0)]
        .iter()
        .find_map(|(m, at)| file.find(m).map(|i| (&file[i + m.len()..], *at)))?;
    rest.split('/').nth(at).filter(|c| !c.is_empty())
}

fn file_name(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_paths_name_their_crate() {
        for (file, want) in [
            (
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/arrow-ipc-59.3.2/src/convert.rs",
                Some("arrow-ipc-59.3.2"),
            ),
            (
                "/home/u/.cargo/git/checkouts/parquet-abc/1234567/src/lib.rs",
                Some("parquet-abc"),
            ),
            ("src/formats/parquet.rs", None),
            ("/work/main/src/cli/mod.rs", None),
            ("/rustc/abc/library/core/src/slice/index.rs", None),
        ] {
            assert_eq!(dependency(file), want, "{file}");
        }
        assert_eq!(file_name("a/b/convert.rs"), "convert.rs");
    }
}
