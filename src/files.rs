//! Files written whole: every output file (the sweep's JSON and `latest.*`, the
//! plots, the report) is written to a temporary name beside it and renamed over
//! the old one, so a reader sees either the old content or the new. Shared by the
//! run layer and the output layer.

use std::fs;
use std::path::Path;

use crate::error::Error;

/// `<what> '<path>': <cause>`, the one shape of a file error.
pub fn io_fail(what: &str, path: &Path, cause: impl std::fmt::Display) -> Error {
    Error(format!("{what} '{}': {cause}", path.display()))
}

/// Create `dir` and its parents (nothing if it exists).
pub fn create_dir(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|e| io_fail("cannot create output folder", dir, e))
}

/// Write `bytes` to `path` by writing a temporary file beside it and renaming it,
/// so that `path` is always either the old or the new content.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    fs::write(&tmp, bytes).map_err(|e| io_fail("writing", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_fail("replacing", path, e))
}
