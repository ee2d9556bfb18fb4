//! Files written whole: every output file (the sweep's JSON and `latest.*`) is
//! written to a temporary name beside it and renamed over the old one, so a
//! reader sees either the old content or the new; a set of files (the plots and
//! the report) is written whole or not at all ([`write_set`]); an output folder
//! is checked writable before the work that fills it starts
//! ([`check_writable`]); a sweep holds its folder against another sweep
//! ([`lock_dir`]). Shared by the run layer and the output layer.

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

/// An output folder held by one sweep: an exclusive advisory lock (`flock`)
/// on `.vma-bench.lock` in it, released when this is dropped or the process
/// ends, however it ends.
#[derive(Debug)]
pub struct DirLock(#[allow(dead_code)] fs::File);

/// Hold `dir` (which exists) for one sweep. Fails with one line naming the
/// folder if another process holds it: two sweeps into one folder would mix
/// their `latest.*`, and two at once would slow each other's runs.
pub fn lock_dir(dir: &Path) -> Result<DirLock, Error> {
    let path = dir.join(".vma-bench.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_fail("cannot create", &path, e))?;
    match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
        Ok(true) => Ok(DirLock(file)),
        Ok(false) => Err(Error(format!(
            "another sweep is writing into '{}': wait for it to end, or give another --out",
            dir.display()
        ))),
        Err(e) => Err(io_fail("cannot lock", &path, e)),
    }
}

/// Create `dir` if needed and check that files can be written in it: create a
/// probe file and remove it. Fails with one line naming the folder. Called for
/// every output folder before a sweep's first run.
pub fn check_writable(dir: &Path) -> Result<(), Error> {
    create_dir(dir)?;
    let probe = tempfile::Builder::new()
        .prefix(".vma-bench-probe-")
        .tempfile_in(dir)
        .map_err(|e| io_fail("cannot write in output folder", dir, e))?;
    probe
        .close()
        .map_err(|e| io_fail("cannot remove a probe file from output folder", dir, e))?;
    // A folder where a file of ours goes (a plot, the report, a CSV) would
    // stop the write at the end: refuse it now.
    let entries = fs::read_dir(dir).map_err(|e| io_fail("cannot read output folder", dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = [".svg", ".html", ".csv", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if ours && entry.path().is_dir() {
            return Err(Error(format!(
                "cannot write '{}': a folder of that name is in the way",
                entry.path().display()
            )));
        }
    }
    Ok(())
}

/// Write every one of `files` (name, content) into `dir`, or none: each is
/// written into a temporary folder inside `dir` first, then moved over the old
/// file of its name; if a move fails, the files already moved are put back.
/// Errors name `dir` and the file, never the temporary folder.
pub fn write_set(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), Error> {
    if let Some((name, _)) = files
        .iter()
        .find(|(n, _)| Path::new(n).file_name() != Some(std::ffi::OsStr::new(n)))
    {
        return Err(Error(format!("'{name}' is not a file name")));
    }
    create_dir(dir)?;
    if let Some((name, _)) = files.iter().find(|(n, _)| dir.join(n).is_dir()) {
        return Err(io_fail(
            "cannot replace",
            &dir.join(name),
            "a folder of that name is in the way",
        ));
    }
    let stage = tempfile::Builder::new()
        .prefix(".vma-bench-new-")
        .tempdir_in(dir)
        .map_err(|e| io_fail("cannot write in output folder", dir, e))?;
    for (name, bytes) in files {
        fs::write(stage.path().join(name), bytes)
            .map_err(|e| io_fail("cannot write", &dir.join(name), e))?;
    }
    let old = stage.path().join(".old");
    fs::create_dir(&old).map_err(|e| io_fail("cannot write in output folder", dir, e))?;
    // Files moved so far, and whether each had an old version now in `old`.
    let mut moved: Vec<(&str, bool)> = Vec::new();
    let undo = |moved: &[(&str, bool)]| {
        for &(name, had_old) in moved.iter().rev() {
            // Best effort: put back what was there before.
            if had_old {
                let _ = fs::rename(old.join(name), dir.join(name));
            } else {
                let _ = fs::remove_file(dir.join(name));
            }
        }
    };
    for (name, _) in files {
        let target = dir.join(name);
        let had_old = target.exists();
        if had_old {
            if let Err(e) = fs::rename(&target, old.join(name)) {
                undo(&moved);
                return Err(io_fail("cannot replace", &target, e));
            }
        }
        if let Err(e) = fs::rename(stage.path().join(name), &target) {
            if had_old {
                let _ = fs::rename(old.join(name), &target);
            }
            undo(&moved);
            return Err(io_fail("cannot replace", &target, e));
        }
        moved.push((name, had_old));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("vma-bench-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Names and contents of the files in `d`, hidden ones included.
    fn listing(d: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let bytes = fs::read(&p).unwrap_or_default();
                (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_set_replaces_every_file_or_none() {
        let d = dir("set");
        fs::write(d.join("a.svg"), "old a").unwrap();
        fs::write(d.join("keep.txt"), "mine").unwrap();
        let set = |a: &str| {
            vec![
                ("a.svg".to_string(), a.as_bytes().to_vec()),
                ("b.svg".to_string(), b"new b".to_vec()),
                ("index.html".to_string(), b"new report".to_vec()),
            ]
        };
        write_set(&d, &set("new a")).unwrap();
        let names = |l: Vec<(String, Vec<u8>)>| {
            l.into_iter()
                .map(|(n, c)| (n, String::from_utf8(c).unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(listing(&d)),
            [
                ("a.svg".into(), "new a".into()),
                ("b.svg".into(), "new b".into()),
                ("index.html".into(), "new report".into()),
                ("keep.txt".into(), "mine".into()),
            ]
        );
        // The last file cannot replace what is there (a folder): refused before
        // anything is written or moved, and nothing is left behind.
        fs::remove_file(d.join("index.html")).unwrap();
        fs::create_dir(d.join("index.html")).unwrap();
        fs::write(d.join("index.html").join("x"), "").unwrap();
        let before = listing(&d);
        let e = write_set(&d, &set("newer a")).unwrap_err();
        assert!(
            e.0.contains("index.html") && !e.0.contains(".vma-bench-new"),
            "{e}"
        );
        assert_eq!(listing(&d), before);
        assert!(fs::read_dir(&d).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".vma")));
        // A name that is a path is refused before anything is written.
        let e = write_set(&d, &[("../x.svg".into(), vec![])]).unwrap_err();
        assert!(e.0.contains("'../x.svg' is not a file name"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_that_cannot_be_written_is_named() {
        // A folder that exists but takes no new file, even for root.
        let e = check_writable(Path::new("/proc/self")).unwrap_err();
        assert!(
            e.0.starts_with("cannot write in output folder '/proc/self'"),
            "{e}"
        );
        // A folder that cannot be made: its parent is a file.
        let d = dir("probe");
        fs::write(d.join("file"), "").unwrap();
        let e = check_writable(&d.join("file").join("plots")).unwrap_err();
        assert!(e.0.contains("file/plots"), "{e}");
        // A writable one is left as it was.
        check_writable(&d).unwrap();
        assert_eq!(listing(&d).len(), 1);
        fs::remove_dir_all(&d).unwrap();
    }
}
