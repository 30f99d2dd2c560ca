//! Least privilege: once the raw sockets are open, synsweep needs no
//! privilege at all, so it gives it up before it parses a single reply.
//!
//! - Started through sudo (SUDO_UID/SUDO_GID set): becomes that user, with no
//!   supplementary groups.
//! - Started as root otherwise: stays uid 0 (so it can still write
//!   `paused.json` and outputs in a root-owned working directory) but clears
//!   every capability (effective, permitted, inheritable, ambient and the
//!   bounding set) and sets no_new_privs: it can no longer open raw sockets,
//!   change the network, read other users' files or regain privilege.
//! - Started as a user with CAP_NET_RAW (file capability): clears its
//!   capabilities the same way.
//!
//! `--keep-root` skips all of this.

use caps::CapSet;
use std::io;

/// Drop privileges as described in the module docs. Call before starting
/// any thread that should run unprivileged (capabilities are per thread;
/// threads inherit them from their creator).
pub fn drop_privileges() -> io::Result<()> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0
        && let (Some(uid), Some(gid)) = (env_id("SUDO_UID"), env_id("SUDO_GID"))
        && uid != 0
    {
        return become_user(uid, gid);
    }
    clear_capabilities()
}

fn env_id(var: &str) -> Option<u32> {
    std::env::var(var).ok()?.parse().ok()
}

/// The one errno helper of `net/` ([`super::sys::cvt`]), for calls whose
/// result is only success or failure.
fn cvt(r: libc::c_int) -> io::Result<()> {
    super::sys::cvt(r).map(drop)
}

fn become_user(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscalls with valid arguments; glibc applies set*id to
    // every thread of the process.
    unsafe {
        cvt(libc::setgroups(0, std::ptr::null()))?;
        cvt(libc::setresgid(gid, gid, gid))?;
        cvt(libc::setresuid(uid, uid, uid))?;
    }
    no_new_privs()
}

fn clear_capabilities() -> io::Result<()> {
    let err = |e: caps::errors::CapsError| io::Error::other(e.to_string());
    if caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false) {
        for c in caps::all() {
            caps::drop(None, CapSet::Bounding, c).map_err(err)?;
        }
    }
    let _ = caps::clear(None, CapSet::Ambient);
    caps::clear(None, CapSet::Inheritable).map_err(err)?;
    caps::clear(None, CapSet::Effective).map_err(err)?;
    caps::clear(None, CapSet::Permitted).map_err(err)?;
    no_new_privs()
}

fn no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes integer arguments only.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })
}

/// Whether this thread still holds any effective capability.
pub fn has_any_capability() -> bool {
    caps::read(None, CapSet::Effective)
        .map(|s| !s.is_empty())
        .unwrap_or(false)
}
