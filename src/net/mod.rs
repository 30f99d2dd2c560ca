//! Everything that talks to the kernel, and all unsafe code: raw sockets and
//! batched sends ([`sys`]), routes and interfaces over netlink ([`route`]),
//! neighbour resolution, ARP and ND ([`neigh`]), signals ([`signals`]),
//! giving up privileges once the sockets are open ([`privilege`]),
//! the host's input backlog drops ([`softnet`]) and AF_XDP sending
//! ([`xdp`]).

pub mod neigh;
pub mod privilege;
pub mod route;
pub mod rstguard;
pub mod signals;
pub mod softnet;
pub mod sys;
pub mod xdp;
