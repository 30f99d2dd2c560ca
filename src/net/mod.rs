//! Everything that talks to the kernel, and all unsafe code: raw sockets and
//! batched sends ([`sys`]), routes and interfaces over netlink ([`route`]),
//! the ARP sweep of on-link hosts ([`neigh`]), signals ([`signals`]) and
//! AF_XDP sending ([`xdp`]).

pub mod neigh;
pub mod neigh6;
pub mod route;
pub mod route6;
pub mod rstguard;
pub mod signals;
pub mod sys;
pub mod xdp;
