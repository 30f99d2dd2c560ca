//! The planner: what to do on an open port to learn what answers there.
//!
//! A [`Plan`] is a short ordered list of [`Attempt`]s, one connection each.
//! On each connection the core waits up to `banner_wait_ms` for a server
//! that speaks first; if nothing arrived it sends the attempt's hello (if
//! any) and waits up to `reply_wait_ms` for the answer. Whatever arrived is
//! given to [`super::identify`]; if that names a protocol the plan stops,
//! otherwise the next attempt opens a new connection. One hello per
//! connection: a server confused by a first request is never asked a second
//! one.
//!
//! Services live on unexpected ports (LZR: 3% of HTTP servers on 80, 6% of
//! TLS on 443), so every plan ends with HTTP and TLS, the two protocols most
//! often found anywhere, and a port no service is known for starts by
//! listening (a server-first service there speaks within a second) and then
//! tries HTTP. A server-first service answers during the banner wait even
//! on a port where we expected another, and a client-first service sent a
//! hello meant for another protocol often answers with an error that still
//! names it (HTTP's `400 Bad Request`, a TLS alert).
//!
//! Many client-first services stay silent when sent a hello that is not
//! theirs (captured from Debian's daemons: redis, memcached, mosquitto,
//! slapd, PostgreSQL and samba send nothing back to an HTTP request), so a
//! port where the plan's attempts named nothing needs one connection per
//! remaining hello: [`Plan::with_fallbacks`]. The attempts are independent
//! connections (each from its own source port), so a stateless core may run
//! them at once; their order is their priority when several name something.
//!
//! A port gets at most [`MAX_CONNECTIONS`] connections ([`schedule`]): LZR
//! names 99% of identifiable services within five handshakes, and finds
//! HTTP and TLS, then server-first protocols (heard while we listen), the
//! most common everywhere. So every port's order is: its own protocol's
//! hello (or listening, on server-first and unknown ports), HTTP, TLS, then
//! the [`FALLBACKS`] by how often their services face the internet. The
//! fallbacks also go to ports where a protocol was expected but stayed
//! silent (memcached on 21, MQTT on 110): a silent port is not its
//! protocol's.

use super::Hello;

/// One connection: wait for a banner, then (if silent) send one hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// How long to wait for the server to speak first (0: send at once).
    pub banner_wait_ms: u32,
    /// What to send if it stayed silent (None: nothing, only listen).
    pub hello: Option<Hello>,
    /// How long to wait for the reply to the hello.
    pub reply_wait_ms: u32,
}

/// The attempts for one port, in order (at most [`MAX_ATTEMPTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub attempts: &'static [Attempt],
}

/// Most connections a plan opens to one port (without fallbacks).
pub const MAX_ATTEMPTS: usize = 3;

/// Most connections to one open port, the probe's own included (and the
/// capped TLS ClientHello's of [`super::session`]).
pub const MAX_CONNECTIONS: usize = 5;

/// Hellos for client-first services that ignore other protocols' hellos,
/// in the order [`Plan::with_fallbacks`] tries them: by how many of their
/// servers face the internet and how often they sit on other ports
/// (zgrab2's and LZR's scans: redis, MQTT brokers, RDP and SMB by the
/// million or hundreds of thousands, then databases and caches, and the
/// rarer LDAP, AMQP, RTSP and IRC last). Only the first few fit in
/// [`MAX_CONNECTIONS`] after a port's own attempts.
pub const FALLBACKS: [Hello; 11] = [
    Hello::Redis,
    Hello::Mqtt,
    Hello::Rdp,
    Hello::Smb,
    Hello::Postgres,
    Hello::Mongo,
    Hello::Memcached,
    Hello::Ldap,
    Hello::Amqp,
    Hello::Rtsp,
    Hello::Irc,
];

impl Plan {
    /// The plan's attempts, then one connection for each hello of
    /// [`FALLBACKS`] the plan did not already send: for a port where the
    /// plan named nothing and the host is not judged a middlebox (see
    /// [`super::pseudo`]); on a middlebox every port would cost them all.
    pub fn with_fallbacks(&self) -> impl Iterator<Item = Attempt> + '_ {
        let tried = |h: &Hello| self.attempts.iter().any(|a| a.hello == Some(*h));
        self.attempts.iter().copied().chain(
            FALLBACKS
                .iter()
                .filter(move |h| !tried(h))
                .map(|h| send(*h)),
        )
    }
}
/// The attempts on `port` in priority order, at most [`MAX_CONNECTIONS`]:
/// the plan's, then (with `fallbacks`) the [`FALLBACKS`] it did not
/// already send, on every port (a port whose own protocol stayed silent is
/// not that protocol's).
pub fn schedule(port: u16, fallbacks: bool) -> Vec<Attempt> {
    let p = plan(port);
    if fallbacks {
        p.with_fallbacks().take(MAX_CONNECTIONS).collect()
    } else {
        p.attempts.iter().copied().take(MAX_CONNECTIONS).collect()
    }
}

/// Banner wait on ports whose service speaks first.
pub const BANNER_WAIT_MS: u32 = 2000;
/// Banner wait on a port no known service uses.
pub const UNKNOWN_BANNER_WAIT_MS: u32 = 1000;
/// Reply wait after a hello.
pub const REPLY_WAIT_MS: u32 = 2000;
/// Listening before a hello on a port whose service waits for the client
/// (as nmap's NULL probe listens first, for far longer): a listener that
/// accepts and closes shows its FIN before we speak, which tells a service
/// that closes on everyone (then no other hello is tried) from one that
/// refuses this protocol's hello. Sent at once, the hello arrives before
/// the close and is reset unread, which reads as a refusal of that hello
/// alone and costs the port every fallback connection. (And a service that
/// speaks first is heard.)
pub const LISTEN_FIRST_MS: u32 = 100;

const fn send(hello: Hello) -> Attempt {
    Attempt {
        banner_wait_ms: LISTEN_FIRST_MS,
        hello: Some(hello),
        reply_wait_ms: REPLY_WAIT_MS,
    }
}

const fn listen_then(wait: u32, hello: Hello) -> Attempt {
    Attempt {
        banner_wait_ms: wait,
        hello: Some(hello),
        reply_wait_ms: REPLY_WAIT_MS,
    }
}

/// A service that speaks first: wait for its banner, then try HTTP on the
/// same connection, then TLS on a second one.
const SERVER_FIRST: &[Attempt] = &[listen_then(BANNER_WAIT_MS, Hello::Http), send(Hello::Tls)];
/// A port nobody is known for.
const UNKNOWN: &[Attempt] = &[
    listen_then(UNKNOWN_BANNER_WAIT_MS, Hello::Http),
    send(Hello::Tls),
];
const IRC: &[Attempt] = &[
    listen_then(BANNER_WAIT_MS, Hello::Irc),
    send(Hello::Http),
    send(Hello::Tls),
];
const HTTP: &[Attempt] = &[send(Hello::Http), send(Hello::Tls)];
const TLS: &[Attempt] = &[
    send(Hello::Tls),
    listen_then(UNKNOWN_BANNER_WAIT_MS, Hello::Http),
];

macro_rules! client_first {
    ($h:expr) => {{
        const A: &[Attempt] = &[send($h), send(Hello::Http), send(Hello::Tls)];
        A
    }};
}

/// The plan for `port`.
pub fn plan(port: u16) -> Plan {
    let attempts: &'static [Attempt] = match port {
        // Servers that speak first: ftp, ssh, telnet, smtp, pop3, imap,
        // rsync, mysql, vnc, irc (most IRC servers greet; the hello
        // registers if not), and their usual alternates.
        21 | 22 | 23 | 25 | 110 | 143 | 587 | 873 | 2121 | 2222 | 2323 | 2525 | 3306 | 5900
        | 5901 | 5902 | 5903 => SERVER_FIRST,
        6665..=6669 | 7000 => IRC,
        // TLS from the first byte: https, smtps, ldaps, imaps, pop3s, ...
        443 | 465 | 636 | 853 | 990 | 992 | 993 | 995 | 5061 | 6443 | 8443 | 9443 => TLS,
        80 | 81 | 591 | 3000 | 5000 | 8000 | 8008 | 8080 | 8081 | 8888 | 9000 | 9090 => HTTP,
        6379 => client_first!(Hello::Redis),
        11211 => client_first!(Hello::Memcached),
        1883 => client_first!(Hello::Mqtt),
        3389 => client_first!(Hello::Rdp),
        139 | 445 => client_first!(Hello::Smb),
        5432 => client_first!(Hello::Postgres),
        27017 | 27018 => client_first!(Hello::Mongo),
        389 => client_first!(Hello::Ldap),
        554 | 8554 => client_first!(Hello::Rtsp),
        5672 => client_first!(Hello::Amqp),
        _ => UNKNOWN,
    };
    Plan { attempts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ports_send_their_hello_first() {
        let first = |p| plan(p).attempts[0];
        assert_eq!(first(443).hello, Some(Hello::Tls));
        assert_eq!(first(443).banner_wait_ms, LISTEN_FIRST_MS);
        assert_eq!(first(80).hello, Some(Hello::Http));
        assert_eq!(first(6379).hello, Some(Hello::Redis));
        assert_eq!(first(3389).hello, Some(Hello::Rdp));
        assert_eq!(first(27017).hello, Some(Hello::Mongo));
        // Server-first ports listen first.
        for p in [21, 22, 23, 25, 110, 143, 873, 3306, 5900] {
            assert_eq!(first(p).banner_wait_ms, BANNER_WAIT_MS, "port {p}");
        }
    }

    #[test]
    fn every_plan_is_short_tries_http_and_tls_and_never_repeats_a_hello() {
        for port in 0..=u16::MAX {
            let a = plan(port).attempts;
            assert!(!a.is_empty() && a.len() <= MAX_ATTEMPTS, "port {port}");
            let hellos: Vec<_> = a.iter().filter_map(|x| x.hello).collect();
            assert!(
                hellos.contains(&Hello::Http) && hellos.contains(&Hello::Tls),
                "port {port}"
            );
            // No hello twice on one port.
            let distinct: std::collections::HashSet<_> = hellos.iter().collect();
            assert_eq!(distinct.len(), hellos.len(), "port {port}");
        }
        let u = plan(47_123).attempts;
        let all: Vec<_> = plan(47_123).with_fallbacks().collect();
        assert_eq!(all.len(), 2 + FALLBACKS.len());
        assert_eq!(&all[..2], u);
        // Every hello is tried exactly once, on every port, with fallbacks.
        for port in [22, 80, 443, 6379, 6667, 47_123] {
            let hs: Vec<_> = plan(port)
                .with_fallbacks()
                .filter_map(|a| a.hello)
                .collect();
            for h in super::super::hello::ALL {
                assert_eq!(hs.iter().filter(|x| **x == h).count(), 1, "{h:?} on {port}");
            }
        }
        assert_eq!(u[0].banner_wait_ms, UNKNOWN_BANNER_WAIT_MS);
        assert_eq!(u[0].hello, Some(Hello::Http));
    }

    #[test]
    fn a_schedule_is_five_connections_own_hello_http_tls_then_fallbacks() {
        for port in 0..=u16::MAX {
            let s = schedule(port, true);
            assert_eq!(s.len(), MAX_CONNECTIONS, "port {port}");
            let hellos: Vec<Hello> = s.iter().filter_map(|a| a.hello).collect();
            let distinct: std::collections::HashSet<_> = hellos.iter().collect();
            assert_eq!(distinct.len(), hellos.len(), "port {port}");
            // HTTP and TLS come before any fallback.
            let pos = |h| hellos.iter().position(|x| *x == h).unwrap();
            let first_fallback = hellos
                .iter()
                .position(|h| {
                    FALLBACKS.contains(h)
                        && !plan(port).attempts.iter().any(|a| a.hello == Some(*h))
                })
                .unwrap();
            assert!(
                pos(Hello::Http) < first_fallback && pos(Hello::Tls) < first_fallback,
                "port {port}"
            );
            assert!(schedule(port, false).len() <= MAX_ATTEMPTS);
        }
        // A silent server-first port gets fallbacks too (redis on 25).
        let s25: Vec<_> = schedule(25, true).iter().filter_map(|a| a.hello).collect();
        assert_eq!(s25[..3], [Hello::Http, Hello::Tls, Hello::Redis]);
        assert_eq!(schedule(25, true)[0].banner_wait_ms, BANNER_WAIT_MS);
        // A client-first port: its own hello first.
        let s6379: Vec<_> = schedule(6379, true)
            .iter()
            .filter_map(|a| a.hello)
            .collect();
        assert_eq!(
            s6379,
            [
                Hello::Redis,
                Hello::Http,
                Hello::Tls,
                Hello::Mqtt,
                Hello::Rdp
            ]
        );
    }
}
