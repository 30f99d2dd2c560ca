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
//!
//! Before that, identification starts `nft` (see [`super::rstguard`]),
//! which needs CAP_NET_ADMIN. Root's children get it by the exec rules; a
//! user whose synsweep holds it as a file capability passes it on with
//! [`pass_net_admin_to_children`] (an ambient capability, for the children
//! the calling thread starts meanwhile).

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

/// While the returned value lives, programs the calling thread starts hold
/// CAP_NET_ADMIN, if this process is not root and holds it in its permitted
/// set (file capability `cap_net_admin+ep`): the capability is raised in the
/// inheritable and ambient sets, and lowered again when the value is
/// dropped. Otherwise (root, or no such capability) nothing changes. Best
/// effort: a child that does not get the capability fails on its own, with
/// its own error.
///
/// Ambient capabilities survive an exec of an ordinary program only, so
/// start a program by its full path from a root-owned directory, never
/// through a search of `PATH` (the user running synsweep chooses `PATH`).
pub fn pass_net_admin_to_children() -> AmbientNetAdmin {
    let mut held = AmbientNetAdmin::default();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return held;
    }
    let cap = caps::Capability::CAP_NET_ADMIN;
    let has = |set| caps::has_cap(None, set, cap).unwrap_or(false);
    if !has(CapSet::Permitted) || has(CapSet::Ambient) {
        return held;
    }
    if !has(CapSet::Inheritable) {
        if caps::raise(None, CapSet::Inheritable, cap).is_err() {
            return held;
        }
        held.inheritable = true;
    }
    held.ambient = caps::raise(None, CapSet::Ambient, cap).is_ok();
    held
}

/// CAP_NET_ADMIN raised for children by [`pass_net_admin_to_children`];
/// lowered again when dropped.
#[derive(Debug, Default)]
#[must_use = "the capability is lowered again when this is dropped"]
pub struct AmbientNetAdmin {
    ambient: bool,
    inheritable: bool,
}

impl Drop for AmbientNetAdmin {
    fn drop(&mut self) {
        let cap = caps::Capability::CAP_NET_ADMIN;
        if self.ambient {
            let _ = caps::drop(None, CapSet::Ambient, cap);
        }
        if self.inheritable {
            let _ = caps::drop(None, CapSet::Inheritable, cap);
        }
    }
}

/// Whether this thread still holds any effective capability.
pub fn has_any_capability() -> bool {
    caps::read(None, CapSet::Effective)
        .map(|s| !s.is_empty())
        .unwrap_or(false)
}
