//! Probe modules: what is sent to a port and how its replies are judged.

pub mod udp_payloads;
