//! The one error type the binary turns into an exit status: 2 for bad input
//! (the user can fix the command line or a file), 1 when the scan cannot run.

use std::fmt;

/// Exit status of a scan stopped by a signal whose paused state was saved
/// (EX_TEMPFAIL of sysexits.h: "try again later"). Distinct from 1 and 2 and
/// from 128+N, which schedulers (Slurm, Kubernetes) read as death by signal N.
pub const EXIT_PAUSED: i32 = 75;

#[derive(Debug)]
pub enum Error {
    /// Bad input: exit status 2, one line naming what is wrong.
    Input(String),
    /// The scan could not run (permissions, no route, I/O): exit status 1.
    Runtime(String),
}

impl Error {
    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }
    pub fn runtime(msg: impl Into<String>) -> Self {
        Error::Runtime(msg.into())
    }
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(m) | Error::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
