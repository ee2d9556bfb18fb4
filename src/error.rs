//! The one error type of the crate's outer layers: a message for the user, one
//! line. The command prints it as `vma-bench: error: <message>` and exits with
//! status 2, whatever went wrong (a bad value, a file that cannot be read or
//! written, a run the system cannot make).

use std::fmt;

/// A one-line message naming what was wrong (the flag and value, the file and
/// line, the system call); exit status 2.
#[derive(Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    /// The message, on one line even if it was built with line breaks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.replace('\n', " "))
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error(message)
    }
}
