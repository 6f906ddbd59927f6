//! `phiscrub guard --install`: a plain `pre-commit` hook for teams without the pre-commit
//! framework. The hook runs the binary that installed it (falling back to `phiscrub` on the
//! `PATH` when that one is gone), so an upgrade in place keeps working.

use std::path::{Path, PathBuf};

/// The line that marks a hook as ours: such a hook may be replaced without `--force`.
pub const MARK: &str = "# phiscrub-guard-hook";

/// Hook installation problems.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{path} exists and is not a phiscrub hook; rerun with --force to replace it (the old one is kept as {backup})")]
    Foreign { path: String, backup: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The hook script.
pub fn script(binary: &Path) -> String {
    let bin = binary.display().to_string().replace('\'', r"'\''");
    format!(
        "#!/bin/sh\n{MARK} (written by `phiscrub guard --install`)\n\
         # Blocks commits that carry PHI or secrets; `git commit --no-verify` skips it.\n\
         bin='{bin}'\n\
         [ -x \"$bin\" ] || bin=phiscrub\n\
         exec \"$bin\" guard --staged \"$@\"\n"
    )
}

/// Writes `hooks_dir/pre-commit`. A hook that is not ours is replaced only with `force`, and
/// then kept as `pre-commit.phiscrub-backup`. Returns the hook's path.
///
/// # Errors
/// A foreign hook without `force`; the directory is not writable.
pub fn install(hooks_dir: &Path, binary: &Path, force: bool) -> Result<PathBuf, HookError> {
    let path = hooks_dir.join("pre-commit");
    let backup = hooks_dir.join("pre-commit.phiscrub-backup");
    let werr = |p: &Path| {
        let p = p.display().to_string();
        move |source| HookError::Write { path: p, source }
    };
    if let Ok(old) = std::fs::read_to_string(&path) {
        if !old.contains(MARK) {
            if !force {
                return Err(HookError::Foreign {
                    path: path.display().to_string(),
                    backup: backup.display().to_string(),
                });
            }
            std::fs::rename(&path, &backup).map_err(werr(&backup))?;
        }
    }
    std::fs::create_dir_all(hooks_dir).map_err(werr(hooks_dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(hooks_dir).map_err(werr(hooks_dir))?;
    std::io::Write::write_all(&mut tmp, script(binary).as_bytes()).map_err(werr(&path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(werr(&path))?;
    }
    tmp.persist(&path).map_err(|e| HookError::Write {
        path: path.display().to_string(),
        source: e.error,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_hook_without_force_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let hook = dir.path().join("pre-commit");
        std::fs::write(&hook, "#!/bin/sh\necho theirs\n").unwrap();
        let bin = Path::new("/opt/phi scrub/phiscrub");
        let e = install(dir.path(), bin, false).unwrap_err();
        assert!(matches!(e, HookError::Foreign { .. }));
        assert_eq!(
            std::fs::read_to_string(&hook).unwrap(),
            "#!/bin/sh\necho theirs\n"
        );
        install(dir.path(), bin, true).unwrap();
        let backup =
            std::fs::read_to_string(dir.path().join("pre-commit.phiscrub-backup")).unwrap();
        assert!(backup.contains("theirs"));
        let ours = std::fs::read_to_string(&hook).unwrap();
        assert!(
            ours.contains(MARK) && ours.contains("bin='/opt/phi scrub/phiscrub'"),
            "{ours}"
        );
        // Our own hook is replaced without --force.
        install(dir.path(), bin, false).unwrap();
    }
}
