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

impl Error {
    /// Turn a socket error into the user's error: permission problems say
    /// how to fix them.
    pub fn socket(e: std::io::Error, iface: &str) -> Self {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            Error::runtime(format!(
                "permission denied opening a raw socket on {iface}: run as root or give the binary CAP_NET_RAW (setcap cap_net_raw+ep)"
            ))
        } else {
            Error::runtime(format!("cannot open a raw socket on {iface}: {e}"))
        }
    }
}

/// `s` made safe for one line on a terminal: control characters (newlines,
/// escape sequences, DEL, C1 controls) become visible escapes such as `\n`
/// and `\u{1b}`. Messages echo arguments and file lines, which may hold
/// anything.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(m) | Error::Runtime(m) => f.write_str(&printable(m)),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_on_one_line_without_escapes() {
        let e = Error::input("invalid target 'a\nb\x1b[2Jc\u{9b}d'");
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(shown, "invalid target 'a\\nb\\u{1b}[2Jc\\u{9b}d'");
    }
}
