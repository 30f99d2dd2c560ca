//! The risk catalog: synsweep's own table of well-known ports, each with a
//! service name, a main category, a severity, an `admin` flag, a one-line
//! rationale, a one-line mitigation and the public guidance it rests on.
//!
//! The table is written for synsweep (it is not a copy of nmap-services or
//! any system's `/etc/services`). Its judgements follow public guidance; the
//! `refs` column names it with these short tags:
//!
//! | tag | source |
//! | --- | --- |
//! | `CISA-CyHy` | CISA Cyber Hygiene vulnerability scanning: "potentially risky open services" |
//! | `BOD-23-02` | CISA Binding Operational Directive 23-02, networked management interfaces |
//! | `TA14-017A` | US-CERT alert TA14-017A, UDP-based amplification attacks |
//! | `FBI-RDP` | FBI / IC3 advice on Remote Desktop Protocol exposure |
//! | `CIS-4.6` | CIS Controls v8 safeguard 4.6, manage assets over secure protocols |
//! | `CIS-4.8` | CIS Controls v8 safeguard 4.8, disable unnecessary services |
//! | `Shadowserver` | Shadowserver's open-service scan reports and their severities |
//! | `TA18-106A` | US-CERT alert TA18-106A, Cisco Smart Install abuse |
//! | `CISA-ICS` | CISA ICS guidance: keep control-system protocols off the internet |
//!
//! Rules the table keeps (tests check them):
//! - one main category per row, chosen in priority risky > administrative >
//!   normal > other;
//! - `admin` is separate: a cleartext or unauthenticated management protocol
//!   (telnet, rsh/rlogin/rexec, VNC, SNMP, Docker without TLS, ...) is
//!   `risky` with `admin: true`; authenticated, encrypted management (SSH,
//!   RDP, WinRM over TLS, ...) is `administrative` with `admin: true`;
//! - web, mail and DNS are `normal`; ports not in the table are `other`.
//!
//! Severities are chosen so that the score of [`crate::risk::score`] reads
//! well: a web server with SSH is an A, adding RDP makes it a C, an
//! unauthenticated Docker API alone is an F.

use crate::error::{Error, Result};
use crate::finding::{Category, Severity};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::OnceLock;

use Category::{Administrative, Normal, Other, Risky};
use Severity::{Critical, High, Info, Low, Medium};

/// One row of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub port: u16,
    /// `tcp` or `udp`.
    pub proto: &'static str,
    pub service: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub admin: bool,
    pub rationale: &'static str,
    pub mitigation: &'static str,
    /// Tags of the public guidance the row rests on (see the module docs).
    pub refs: &'static str,
}

#[allow(clippy::too_many_arguments)]
const fn row(
    port: u16,
    proto: &'static str,
    service: &'static str,
    category: Category,
    severity: Severity,
    admin: bool,
    rationale: &'static str,
    mitigation: &'static str,
    refs: &'static str,
) -> Entry {
    Entry {
        port,
        proto,
        service,
        category,
        severity,
        admin,
        rationale,
        mitigation,
        refs,
    }
}

const T: &str = "tcp";
const U: &str = "udp";

/// The catalog, sorted by (proto, port). A test checks order and uniqueness.
#[rustfmt::skip]
pub static CATALOG: &[Entry] = &[
    // ------------------------------------------------------------------ TCP
    row(7, T, "echo", Risky, Low, false,
        "Legacy echo service; no legitimate use on a reachable host and can be looped into traffic floods.",
        "Disable the echo service (inetd/xinetd) or block the port.", "CIS-4.8"),
    row(9, T, "discard", Risky, Low, false,
        "Legacy discard service; unneeded and adds attack surface.",
        "Disable the discard service or block the port.", "CIS-4.8"),
    row(11, T, "systat", Risky, Medium, false,
        "Legacy systat lists running processes and users to anyone who connects.",
        "Disable systat in inetd/xinetd.", "CIS-4.8"),
    row(13, T, "daytime", Risky, Low, false,
        "Legacy daytime service; unneeded and leaks host clock details.",
        "Disable the daytime service or block the port.", "CIS-4.8"),
    row(15, T, "netstat", Risky, Medium, false,
        "Legacy netstat service discloses the host's active connections.",
        "Disable the netstat service in inetd/xinetd.", "CIS-4.8"),
    row(17, T, "qotd", Risky, Low, false,
        "Quote of the Day is an amplification source (UDP) and unneeded on TCP.",
        "Disable qotd or block the port.", "TA14-017A, CIS-4.8"),
    row(19, T, "chargen", Risky, Medium, false,
        "Character generator floods whoever connects and is a classic amplification source.",
        "Disable chargen or block the port at the edge.", "TA14-017A, CIS-4.8"),
    row(21, T, "ftp", Risky, Medium, false,
        "FTP sends credentials and files in cleartext and often allows anonymous access.",
        "Replace with SFTP or FTPS; if it must stay, disable anonymous login and restrict sources.", "CISA-CyHy, CIS-4.6"),
    row(22, T, "ssh", Administrative, Low, true,
        "Encrypted remote administration; a standing target for password guessing.",
        "Use key-only authentication, disable root login, and restrict sources to admin networks or a VPN.", "BOD-23-02, CIS-4.6"),
    row(23, T, "telnet", Risky, Critical, true,
        "Cleartext remote login: credentials can be sniffed, and default logins feed IoT botnets.",
        "Disable telnet and manage the device over SSH from an admin network.", "CISA-CyHy, BOD-23-02, CIS-4.6, Shadowserver"),
    row(25, T, "smtp", Normal, Low, false,
        "Mail transfer; expected on mail servers, a stray or open relay is a spam and phishing risk.",
        "Expose SMTP only on designated MX hosts, require STARTTLS and refuse relaying.", "CIS-4.8"),
    row(37, T, "time", Risky, Low, false,
        "Legacy time protocol; superseded by NTP and unneeded.",
        "Disable the time service or block the port.", "CIS-4.8"),
    row(43, T, "whois", Normal, Info, false,
        "Public directory lookup service; expected only on registry servers.",
        "Keep it only where whois is a published service.", "CIS-4.8"),
    row(53, T, "domain", Normal, Low, false,
        "DNS over TCP; expected on name servers, an open recursive resolver can be abused.",
        "Serve only authoritative zones publicly, or limit recursion to internal clients.", "TA14-017A"),
    row(79, T, "finger", Risky, Medium, false,
        "Finger discloses user names and login details useful for password attacks.",
        "Disable the finger daemon.", "CISA-CyHy, CIS-4.8"),
    row(80, T, "http", Normal, Low, false,
        "Cleartext web: pages, cookies and form data can be read or altered in transit.",
        "Redirect to HTTPS with HSTS and keep the web server patched.", "CIS-4.6"),
    row(88, T, "kerberos", Risky, Medium, false,
        "Kerberos KDC reachable: usually a domain controller exposed beyond the internal network.",
        "Keep domain controllers off untrusted networks; reach them through a VPN.", "CISA-CyHy, CIS-4.8"),
    row(102, T, "iso-tsap", Risky, Critical, false,
        "ISO-TSAP carries Siemens S7 PLC traffic, which has no authentication to speak of.",
        "Never expose PLCs; put them behind a segmented control network and a VPN.", "CISA-ICS, Shadowserver"),
    row(110, T, "pop3", Normal, Medium, false,
        "POP3 without TLS sends mailbox passwords in cleartext.",
        "Offer POP3S (995) only, or require STARTTLS before authentication.", "CIS-4.6"),
    row(111, T, "rpcbind", Risky, High, false,
        "The RPC portmapper maps NFS and other RPC services and is an amplification source.",
        "Block rpcbind at the edge and disable it where no RPC services are needed.", "CISA-CyHy, TA14-017A, Shadowserver"),
    row(113, T, "ident", Risky, Low, false,
        "Ident reveals which local user owns a connection.",
        "Disable identd unless an IRC or mail setup truly needs it.", "CIS-4.8"),
    row(119, T, "nntp", Normal, Low, false,
        "Usenet news transfer in cleartext; rarely needed today.",
        "Disable NNTP unless the host is a news server; prefer NNTPS.", "CIS-4.8"),
    row(135, T, "msrpc", Risky, High, false,
        "Microsoft RPC endpoint mapper: a long history of remote exploits and a map of Windows services.",
        "Block TCP 135 at the perimeter; allow it only between trusted internal hosts.", "CISA-CyHy, Shadowserver"),
    row(139, T, "netbios-ssn", Risky, High, false,
        "NetBIOS session service carries SMB file sharing and leaks host and share names.",
        "Block NetBIOS at the perimeter and disable NetBIOS over TCP/IP where unused.", "CISA-CyHy, Shadowserver"),
    row(143, T, "imap", Normal, Medium, false,
        "IMAP without TLS sends mailbox passwords in cleartext.",
        "Offer IMAPS (993) only, or require STARTTLS before authentication.", "CIS-4.6"),
    row(161, T, "snmp", Risky, High, true,
        "SNMP (here over TCP) manages devices with community strings sent in cleartext, often public/private.",
        "Disable SNMP or use SNMPv3 with authentication and privacy, reachable only from the management network.", "CISA-CyHy, BOD-23-02, Shadowserver"),
    row(179, T, "bgp", Risky, Medium, false,
        "BGP speaker reachable from anywhere; sessions should only come from configured peers.",
        "Filter TCP 179 to known peers and use TCP-AO or MD5 session protection.", "Shadowserver"),
    row(389, T, "ldap", Risky, High, false,
        "Directory service, often with anonymous bind, leaking users and groups; cleartext binds expose passwords.",
        "Keep LDAP internal, disable anonymous bind and require LDAPS or StartTLS.", "CISA-CyHy, TA14-017A, Shadowserver"),
    row(427, T, "svrloc", Risky, High, false,
        "Service Location Protocol: exploited against VMware ESXi (ESXiArgs) and usable for amplification.",
        "Disable SLP on ESXi and other hosts, or block port 427.", "CISA-CyHy, Shadowserver"),
    row(443, T, "https", Normal, Info, false,
        "Web over TLS; expected on web servers.",
        "Keep TLS configuration current and the web stack patched.", "CIS-4.6"),
    row(445, T, "microsoft-ds", Risky, Critical, false,
        "SMB file sharing: wormable exploits (EternalBlue/WannaCry) and ransomware entry point.",
        "Never expose SMB beyond the internal network; block TCP 445 at the perimeter and disable SMBv1.", "CISA-CyHy, Shadowserver, CIS-4.8"),
    row(464, T, "kpasswd", Risky, Medium, false,
        "Kerberos password change service: a domain controller reachable from outside.",
        "Keep domain controllers off untrusted networks.", "CIS-4.8"),
    row(465, T, "submissions", Normal, Info, false,
        "Mail submission over implicit TLS; expected on mail servers.",
        "Require authentication and rate-limit submission.", "CIS-4.6"),
    row(502, T, "modbus", Risky, Critical, false,
        "Modbus/TCP controls industrial equipment with no authentication at all.",
        "Never expose Modbus; isolate control networks and reach them only through a VPN.", "CISA-ICS, Shadowserver"),
    row(512, T, "exec", Risky, Critical, true,
        "rexec runs commands remotely with cleartext passwords.",
        "Disable rexec and use SSH.", "CISA-CyHy, CIS-4.6"),
    row(513, T, "login", Risky, Critical, true,
        "rlogin trusts host names and sends sessions in cleartext.",
        "Disable rlogin and use SSH.", "CISA-CyHy, CIS-4.6"),
    row(514, T, "shell", Risky, Critical, true,
        "rsh runs commands on host-based trust with no password and no encryption.",
        "Disable rsh and use SSH.", "CISA-CyHy, CIS-4.6"),
    row(515, T, "printer", Risky, Medium, false,
        "LPD print spooler exposed: unauthenticated print jobs and spooler exploits.",
        "Keep printers on an internal network; block port 515 at the perimeter.", "Shadowserver, CIS-4.8"),
    row(548, T, "afp", Risky, Medium, false,
        "Apple Filing Protocol file sharing exposed beyond the local network.",
        "Disable AFP (use SMB internally) or restrict it to the local network.", "Shadowserver, CIS-4.8"),
    row(554, T, "rtsp", Risky, Medium, false,
        "RTSP streaming, typically an IP camera or recorder, often with default credentials.",
        "Keep cameras off the internet; change default passwords and update firmware.", "Shadowserver"),
    row(563, T, "nntps", Normal, Info, false,
        "Usenet news over TLS.",
        "Disable unless the host is a news server.", "CIS-4.8"),
    row(587, T, "submission", Normal, Low, false,
        "Mail submission; expected on mail servers, a target for credential stuffing.",
        "Require STARTTLS and authentication, and rate-limit failed logins.", "CIS-4.6"),
    row(593, T, "http-rpc-epmap", Risky, High, false,
        "RPC over HTTP endpoint mapper: exposes Windows RPC services.",
        "Block port 593 at the perimeter.", "CISA-CyHy"),
    row(623, T, "ipmi", Risky, Critical, true,
        "IPMI baseboard management (here over TCP): weak authentication gives full control of the server.",
        "Put BMCs on an isolated management network; never expose IPMI.", "BOD-23-02, Shadowserver"),
    row(631, T, "ipp", Risky, Medium, false,
        "Internet Printing Protocol (CUPS) exposed: spooler exploits and unwanted print jobs.",
        "Bind CUPS to localhost or the LAN and block port 631 at the perimeter.", "Shadowserver, CIS-4.8"),
    row(636, T, "ldaps", Risky, Medium, false,
        "Directory over TLS: still exposes the directory and its users to the network.",
        "Keep LDAPS internal; disable anonymous bind.", "CIS-4.8"),
    row(853, T, "domain-s", Normal, Info, false,
        "DNS over TLS; expected on resolvers that offer it.",
        "Restrict to intended clients if the resolver is not public.", "CIS-4.6"),
    row(873, T, "rsync", Risky, High, false,
        "rsync daemon modules are often readable (or writable) without authentication.",
        "Require authentication on every module or tunnel rsync over SSH; block port 873.", "Shadowserver, CIS-4.8"),
    row(902, T, "vmware-authd", Administrative, High, true,
        "VMware ESXi/Workstation management and remote console: hypervisor control.",
        "Reach hypervisor management only from an isolated management network.", "BOD-23-02"),
    row(992, T, "telnets", Administrative, Medium, true,
        "Telnet over TLS: remote login, still a password-only management path.",
        "Prefer SSH from an admin network; restrict sources.", "BOD-23-02, CIS-4.6"),
    row(993, T, "imaps", Normal, Info, false,
        "IMAP over TLS; expected on mail servers.",
        "Rate-limit failed logins and keep the mail server patched.", "CIS-4.6"),
    row(995, T, "pop3s", Normal, Info, false,
        "POP3 over TLS; expected on mail servers.",
        "Rate-limit failed logins and keep the mail server patched.", "CIS-4.6"),
    row(1080, T, "socks", Risky, High, false,
        "SOCKS proxy: an open proxy relays attackers' traffic and may reach internal hosts.",
        "Require authentication and restrict the proxy to internal clients.", "CISA-CyHy, Shadowserver"),
    row(1099, T, "rmiregistry", Risky, High, false,
        "Java RMI registry: remote object calls, prone to deserialization exploits.",
        "Bind RMI to localhost or an internal network and patch Java.", "CIS-4.8"),
    row(1194, T, "openvpn", Normal, Low, false,
        "OpenVPN gateway; expected on VPN concentrators.",
        "Use certificate authentication with MFA and keep the VPN software patched.", "CIS-4.6"),
    row(1311, T, "dell-openmanage", Administrative, Medium, true,
        "Dell OpenManage server administrator: hardware management web console.",
        "Reach it only from a management network.", "BOD-23-02"),
    row(1433, T, "ms-sql-s", Risky, High, false,
        "Microsoft SQL Server exposed: password guessing and data theft.",
        "Keep databases off the internet; allow only application servers to connect.", "CISA-CyHy, Shadowserver"),
    row(1521, T, "oracle-tns", Risky, High, false,
        "Oracle database listener exposed: password guessing and listener exploits.",
        "Allow only application servers to reach the listener.", "CISA-CyHy"),
    row(1720, T, "h323q931", Risky, Medium, false,
        "H.323 call signalling: toll fraud and VoIP equipment exploits.",
        "Expose H.323 only to known trunks or through a session border controller.", "CIS-4.8"),
    row(1723, T, "pptp", Risky, Medium, false,
        "PPTP VPN relies on MS-CHAPv2, which is broken.",
        "Replace PPTP with IPsec, OpenVPN or WireGuard.", "CISA-CyHy"),
    row(1883, T, "mqtt", Risky, High, false,
        "MQTT broker without TLS, often without authentication: anyone can read or inject device messages.",
        "Require authentication and TLS (8883), or keep the broker internal.", "Shadowserver"),
    row(2049, T, "nfs", Risky, High, false,
        "NFS exports can be mounted from the network, often with weak host-based controls.",
        "Keep NFS internal and export only to named clients.", "CISA-CyHy, Shadowserver"),
    row(2082, T, "cpanel", Administrative, Medium, true,
        "cPanel control panel over cleartext HTTP.",
        "Use the TLS port only and restrict the panel to admin sources.", "BOD-23-02, CIS-4.6"),
    row(2083, T, "cpanel-ssl", Administrative, Medium, true,
        "cPanel control panel over TLS: hosting account administration.",
        "Restrict the panel to admin sources and require MFA.", "BOD-23-02"),
    row(2086, T, "whm", Administrative, Medium, true,
        "WebHost Manager over cleartext HTTP: server-wide hosting administration.",
        "Use the TLS port only and restrict to admin sources.", "BOD-23-02, CIS-4.6"),
    row(2087, T, "whm-ssl", Administrative, Medium, true,
        "WebHost Manager over TLS: server-wide hosting administration.",
        "Restrict to admin sources and require MFA.", "BOD-23-02"),
    row(2181, T, "zookeeper", Risky, High, false,
        "ZooKeeper usually has no authentication and leaks or lets anyone change cluster state.",
        "Keep ZooKeeper internal and enable SASL authentication.", "Shadowserver"),
    row(2222, T, "ssh-alt", Administrative, Low, true,
        "SSH on an alternate port: remote administration.",
        "Use key-only authentication and restrict sources.", "BOD-23-02, CIS-4.6"),
    row(2323, T, "telnet-alt", Risky, Critical, true,
        "Telnet on an alternate port, typical of IoT devices targeted by Mirai-style botnets.",
        "Disable telnet; update firmware and change default credentials.", "Shadowserver, CIS-4.6"),
    row(2375, T, "docker", Risky, Critical, true,
        "Docker Engine API without TLS: anyone can start a privileged container and own the host.",
        "Never expose the Docker socket over TCP; if remote access is needed use TLS with client certificates (2376).", "BOD-23-02, Shadowserver"),
    row(2376, T, "docker-tls", Administrative, Medium, true,
        "Docker Engine API over TLS: full control of the host for any holder of a client certificate.",
        "Require client certificates and restrict sources to admin networks.", "BOD-23-02"),
    row(2377, T, "docker-swarm", Administrative, Medium, true,
        "Docker Swarm cluster management port.",
        "Allow only swarm nodes to reach it.", "BOD-23-02"),
    row(2379, T, "etcd", Risky, Critical, true,
        "etcd client API holds cluster state and Kubernetes secrets, often without authentication.",
        "Require client TLS certificates and allow only control-plane hosts.", "BOD-23-02, Shadowserver"),
    row(2380, T, "etcd-peer", Risky, High, false,
        "etcd peer replication port exposed.",
        "Allow only etcd members to connect and use peer TLS.", "CIS-4.8"),
    row(2404, T, "iec-104", Risky, Critical, false,
        "IEC 60870-5-104 telecontrol for power grids; no authentication.",
        "Never expose telecontrol protocols; isolate the control network.", "CISA-ICS, Shadowserver"),
    row(2601, T, "zebra", Risky, High, true,
        "Quagga/FRR zebra vty: cleartext, password-only router configuration shell.",
        "Bind the vty to localhost and configure routing over SSH.", "BOD-23-02, CIS-4.6"),
    row(3050, T, "gds-db", Risky, High, false,
        "Firebird/InterBase database exposed, often with default credentials.",
        "Allow only application servers; change default credentials.", "CISA-CyHy"),
    row(3128, T, "squid-http", Risky, High, false,
        "HTTP proxy: an open proxy relays attackers' traffic and may reach internal hosts.",
        "Restrict the proxy to internal clients and require authentication.", "CISA-CyHy, Shadowserver"),
    row(3260, T, "iscsi", Risky, High, false,
        "iSCSI block storage exposed: disks may be attached by anyone without CHAP.",
        "Keep storage networks isolated and require CHAP.", "Shadowserver"),
    row(3268, T, "globalcatrdap", Risky, High, false,
        "Active Directory global catalog: a domain controller reachable from outside.",
        "Keep domain controllers off untrusted networks.", "CISA-CyHy"),
    row(3269, T, "globalcatldaps", Risky, Medium, false,
        "Active Directory global catalog over TLS: a domain controller reachable from outside.",
        "Keep domain controllers off untrusted networks.", "CIS-4.8"),
    row(3283, T, "net-assistant", Administrative, Medium, true,
        "Apple Remote Desktop management.",
        "Restrict to admin networks or a VPN.", "BOD-23-02"),
    row(3306, T, "mysql", Risky, High, false,
        "MySQL/MariaDB database exposed: password guessing and data theft.",
        "Bind the database to localhost or a private network; allow only application servers.", "CISA-CyHy, Shadowserver"),
    row(3389, T, "ms-wbt-server", Administrative, High, true,
        "Remote Desktop: a leading ransomware entry point through password guessing and RDP exploits.",
        "Put RDP behind a VPN or RD Gateway with MFA, enable NLA and lockout, and never expose it directly.", "FBI-RDP, BOD-23-02, CISA-CyHy"),
    row(3690, T, "svn", Normal, Low, false,
        "Subversion daemon; anonymous read may expose source code.",
        "Require authentication or serve Subversion over HTTPS/SSH.", "CIS-4.8"),
    row(4369, T, "epmd", Risky, Medium, false,
        "Erlang port mapper: reveals and reaches Erlang nodes (RabbitMQ, CouchDB).",
        "Keep epmd internal; firewall Erlang distribution ports.", "CIS-4.8"),
    row(4786, T, "smart-install", Risky, Critical, true,
        "Cisco Smart Install: unauthenticated switch configuration and image replacement.",
        "Disable Smart Install (no vstack) and block TCP 4786.", "TA18-106A, BOD-23-02"),
    row(4840, T, "opc-ua", Risky, High, false,
        "OPC UA industrial data exchange exposed.",
        "Keep OPC UA on the control network and require signed and encrypted sessions.", "CISA-ICS"),
    row(4848, T, "glassfish-admin", Administrative, High, true,
        "GlassFish/Payara administration console.",
        "Restrict the admin console to admin networks and change default credentials.", "BOD-23-02"),
    row(4899, T, "radmin", Administrative, High, true,
        "Radmin remote control.",
        "Reach remote-control tools only through a VPN with MFA.", "BOD-23-02, FBI-RDP"),
    row(5060, T, "sip", Risky, Medium, false,
        "SIP signalling in cleartext: toll fraud and VoIP account guessing.",
        "Expose SIP only to known trunks, use TLS (5061) and rate-limit registrations.", "Shadowserver"),
    row(5061, T, "sips", Normal, Low, false,
        "SIP over TLS; expected on VoIP servers.",
        "Rate-limit registrations and restrict to known peers where possible.", "CIS-4.6"),
    row(5222, T, "xmpp-client", Normal, Low, false,
        "XMPP client connections; expected on chat servers.",
        "Require TLS and rate-limit logins.", "CIS-4.6"),
    row(5269, T, "xmpp-server", Normal, Low, false,
        "XMPP server-to-server federation; expected on federated chat servers.",
        "Require TLS between servers.", "CIS-4.6"),
    row(5432, T, "postgresql", Risky, High, false,
        "PostgreSQL database exposed: password guessing and data theft.",
        "Listen on a private address only and allow only application servers in pg_hba.conf.", "CISA-CyHy, Shadowserver"),
    row(5555, T, "adb", Risky, Critical, true,
        "Android Debug Bridge over TCP: unauthenticated shell on the device.",
        "Disable ADB over network on every device.", "Shadowserver"),
    row(5601, T, "kibana", Risky, High, false,
        "Kibana front end, often without authentication, exposing Elasticsearch data.",
        "Enable authentication and keep Kibana internal or behind a VPN.", "Shadowserver"),
    row(5631, T, "pcanywhere", Administrative, High, true,
        "pcAnywhere remote control: discontinued software with known flaws.",
        "Remove pcAnywhere; use a supported tool through a VPN.", "BOD-23-02"),
    row(5672, T, "amqp", Risky, Medium, false,
        "AMQP message broker exposed, sometimes with guest credentials.",
        "Keep brokers internal, remove guest accounts and require TLS.", "Shadowserver"),
    row(5800, T, "vnc-http", Risky, High, true,
        "VNC web viewer: remote desktop, often weak or no password and no encryption.",
        "Disable it or reach VNC only through SSH tunnels or a VPN.", "CISA-CyHy, BOD-23-02"),
    row(5900, T, "vnc", Risky, High, true,
        "VNC remote desktop: often weak or no password, traffic not encrypted.",
        "Disable VNC or tunnel it over SSH/VPN; require strong authentication.", "CISA-CyHy, BOD-23-02, Shadowserver"),
    row(5901, T, "vnc-1", Risky, High, true,
        "VNC display :1: remote desktop, often weak or no password.",
        "Disable VNC or tunnel it over SSH/VPN.", "CISA-CyHy, BOD-23-02"),
    row(5902, T, "vnc-2", Risky, High, true,
        "VNC display :2: remote desktop, often weak or no password.",
        "Disable VNC or tunnel it over SSH/VPN.", "CISA-CyHy, BOD-23-02"),
    row(5938, T, "teamviewer", Administrative, Medium, true,
        "TeamViewer remote control listening for direct connections.",
        "Disable incoming LAN connections and enforce MFA on accounts.", "BOD-23-02"),
    row(5984, T, "couchdb", Risky, High, false,
        "CouchDB HTTP API, historically open by default (admin party).",
        "Require authentication and bind CouchDB to a private address.", "Shadowserver"),
    row(5985, T, "wsman", Administrative, High, true,
        "Windows Remote Management over HTTP: remote PowerShell for administrators.",
        "Allow WinRM only from admin networks; prefer HTTPS (5986).", "BOD-23-02, CIS-4.6"),
    row(5986, T, "wsmans", Administrative, Medium, true,
        "Windows Remote Management over HTTPS: remote PowerShell.",
        "Allow WinRM only from admin networks.", "BOD-23-02"),
    row(6000, T, "x11", Risky, High, true,
        "X11 display server: an open display lets anyone capture the screen and keystrokes.",
        "Disable TCP listening in the X server and forward X over SSH.", "CISA-CyHy, Shadowserver"),
    row(6001, T, "x11-1", Risky, High, true,
        "X11 display :1: an open display lets anyone capture the screen and keystrokes.",
        "Disable TCP listening in the X server.", "CISA-CyHy"),
    row(6129, T, "dameware", Administrative, High, true,
        "DameWare remote control, with known authentication bypasses.",
        "Patch DameWare and reach it only through a VPN.", "BOD-23-02"),
    row(6379, T, "redis", Risky, Critical, false,
        "Redis has no authentication by default; an exposed instance leads to data theft and code execution.",
        "Bind Redis to localhost or a private network, enable protected mode and requirepass/ACLs.", "Shadowserver, CIS-4.8"),
    row(6443, T, "kube-apiserver", Administrative, Medium, true,
        "Kubernetes API server: cluster-wide control.",
        "Restrict the API server to admin networks and disable anonymous auth.", "BOD-23-02"),
    row(6667, T, "irc", Risky, Medium, false,
        "IRC server; also a common botnet command-and-control channel.",
        "Remove unless the host is a deliberate IRC server; check for compromise.", "CIS-4.8"),
    row(7001, T, "weblogic", Risky, High, false,
        "Oracle WebLogic admin console and T3 protocol: repeated deserialization exploits.",
        "Block T3 at the edge, restrict the console and patch WebLogic.", "CISA-CyHy"),
    row(7474, T, "neo4j", Risky, High, false,
        "Neo4j graph database HTTP interface exposed.",
        "Require authentication and keep the database internal.", "CIS-4.8"),
    row(7547, T, "cwmp", Risky, High, true,
        "TR-069 router management (CWMP), targeted by Mirai variants.",
        "Allow CWMP only from the ISP's ACS addresses.", "BOD-23-02, Shadowserver"),
    row(8000, T, "http-alt", Normal, Low, false,
        "Alternate HTTP port, often a development server or appliance interface.",
        "Serve production traffic over HTTPS on 443 and close development ports.", "CIS-4.8"),
    row(8006, T, "proxmox", Administrative, Medium, true,
        "Proxmox VE web management: hypervisor control.",
        "Reach it only from a management network; require MFA.", "BOD-23-02"),
    row(8008, T, "http-alt2", Normal, Low, false,
        "Alternate HTTP port, often an appliance or device interface.",
        "Close it or move the service behind HTTPS.", "CIS-4.8"),
    row(8009, T, "ajp13", Risky, High, false,
        "Apache JServ Protocol: trusted backend channel, exploited by Ghostcat.",
        "Bind AJP to localhost, set a secret, or disable the connector.", "CIS-4.8"),
    row(8080, T, "http-proxy", Normal, Low, false,
        "Alternate HTTP port: web proxies, application servers and admin consoles.",
        "Confirm what listens here; serve it over HTTPS and restrict consoles.", "CIS-4.8"),
    row(8081, T, "http-alt3", Normal, Low, false,
        "Alternate HTTP port, often a proxy or application console.",
        "Confirm what listens here and serve it over HTTPS.", "CIS-4.8"),
    row(8086, T, "influxdb", Risky, High, false,
        "InfluxDB HTTP API, often without authentication.",
        "Enable authentication and keep the database internal.", "CIS-4.8"),
    row(8088, T, "hadoop-yarn", Risky, High, false,
        "Hadoop YARN ResourceManager: unauthenticated job submission runs code (cryptomining campaigns).",
        "Enable Kerberos authentication and keep Hadoop internal.", "Shadowserver"),
    row(8089, T, "splunkd", Administrative, Medium, true,
        "Splunk management port (REST API).",
        "Restrict the management port to admin networks.", "BOD-23-02"),
    row(8200, T, "vault", Administrative, Low, true,
        "HashiCorp Vault API: secrets management.",
        "Restrict to clients that need secrets and require TLS.", "BOD-23-02"),
    row(8291, T, "winbox", Administrative, High, true,
        "MikroTik Winbox router management, with past credential-theft exploits.",
        "Allow Winbox only from a management network and keep RouterOS patched.", "BOD-23-02, Shadowserver"),
    row(8443, T, "https-alt", Normal, Low, false,
        "Alternate HTTPS port, often an appliance or management console.",
        "Confirm what listens here; restrict management consoles to admin networks.", "CIS-4.8"),
    row(8500, T, "consul", Risky, High, true,
        "Consul HTTP API: without ACLs anyone can register services and checks that run commands.",
        "Enable ACLs with default deny and keep the API internal.", "BOD-23-02"),
    row(8728, T, "mikrotik-api", Administrative, High, true,
        "MikroTik RouterOS API in cleartext.",
        "Disable the API or use api-ssl from a management network only.", "BOD-23-02, CIS-4.6"),
    row(8729, T, "mikrotik-api-ssl", Administrative, Medium, true,
        "MikroTik RouterOS API over TLS.",
        "Allow only from a management network.", "BOD-23-02"),
    row(8883, T, "secure-mqtt", Normal, Low, false,
        "MQTT over TLS; expected on IoT brokers.",
        "Require client authentication.", "CIS-4.6"),
    row(8888, T, "http-alt4", Normal, Low, false,
        "Alternate HTTP port, often notebooks (Jupyter) or development servers.",
        "Close development ports; require authentication on notebooks.", "CIS-4.8"),
    row(8983, T, "solr", Risky, High, false,
        "Apache Solr admin API, often unauthenticated, with remote code execution history.",
        "Enable authentication and keep Solr internal.", "CIS-4.8"),
    row(9042, T, "cassandra", Risky, High, false,
        "Cassandra CQL port exposed, sometimes with default credentials.",
        "Enable authentication and keep the cluster internal.", "CIS-4.8"),
    row(9090, T, "prometheus", Risky, Medium, false,
        "Prometheus (or Cockpit) web interface: unauthenticated metrics reveal internal topology.",
        "Put it behind authentication or keep it internal.", "CIS-4.8"),
    row(9092, T, "kafka", Risky, High, false,
        "Kafka broker, often without authentication: anyone can read or write topics.",
        "Enable SASL/TLS and keep brokers internal.", "CIS-4.8"),
    row(9100, T, "jetdirect", Risky, Medium, false,
        "Raw printing (JetDirect/PJL): printers accept jobs and commands from anyone.",
        "Keep printers internal and block port 9100 at the perimeter.", "Shadowserver"),
    row(9200, T, "elasticsearch", Risky, Critical, false,
        "Elasticsearch REST API, often without authentication: mass data leaks and ransom wipes.",
        "Enable security (authentication/TLS) and keep the cluster internal.", "Shadowserver"),
    row(9300, T, "elasticsearch-transport", Risky, High, false,
        "Elasticsearch node transport port exposed.",
        "Allow only cluster members and enable transport TLS.", "CIS-4.8"),
    row(9418, T, "git", Normal, Low, false,
        "Git daemon: anonymous read-only repository access.",
        "Make sure only public repositories are served.", "CIS-4.8"),
    row(10000, T, "webmin", Administrative, High, true,
        "Webmin web administration, with a history of remote code execution flaws.",
        "Restrict Webmin to admin networks and keep it patched.", "BOD-23-02"),
    row(10250, T, "kubelet", Risky, Critical, true,
        "Kubelet API: with anonymous auth it runs commands in any pod on the node.",
        "Disable anonymous auth, enable webhook authorization and keep kubelets internal.", "BOD-23-02, Shadowserver"),
    row(10255, T, "kubelet-ro", Risky, High, false,
        "Kubelet read-only port leaks pod specifications and environment.",
        "Disable the read-only port (--read-only-port=0).", "CIS-4.8"),
    row(11211, T, "memcache", Risky, High, false,
        "Memcached without authentication: cache contents readable and writable by anyone.",
        "Bind memcached to localhost or a private network; disable UDP.", "TA14-017A, Shadowserver"),
    row(15672, T, "rabbitmq-mgmt", Administrative, Medium, true,
        "RabbitMQ management web interface.",
        "Restrict to admin networks and remove the guest account.", "BOD-23-02"),
    row(16992, T, "amt-soap-http", Risky, Critical, true,
        "Intel AMT out-of-band management in cleartext, with known authentication bypass.",
        "Disable AMT or provision it with TLS on a management network; update firmware.", "BOD-23-02"),
    row(16993, T, "amt-soap-https", Administrative, High, true,
        "Intel AMT out-of-band management over TLS: full control below the OS.",
        "Reach AMT only from a management network; update firmware.", "BOD-23-02"),
    row(20000, T, "dnp3", Risky, Critical, false,
        "DNP3 utility control protocol, unauthenticated in most deployments.",
        "Never expose DNP3; isolate the control network.", "CISA-ICS, Shadowserver"),
    row(27017, T, "mongodb", Risky, Critical, false,
        "MongoDB exposed, historically without authentication: mass data theft and ransom.",
        "Enable authentication and bind MongoDB to a private address.", "Shadowserver"),
    row(27018, T, "mongodb-shard", Risky, High, false,
        "MongoDB shard server exposed.",
        "Allow only cluster members and enable authentication.", "CIS-4.8"),
    row(44818, T, "ethernet-ip", Risky, Critical, false,
        "EtherNet/IP (CIP) industrial control, no authentication.",
        "Never expose control systems; isolate them behind a VPN.", "CISA-ICS, Shadowserver"),
    row(50070, T, "hdfs-namenode", Risky, High, false,
        "Hadoop HDFS NameNode web UI: browse and read cluster files without authentication.",
        "Enable Kerberos and keep Hadoop internal.", "Shadowserver"),
    row(61616, T, "activemq", Risky, High, false,
        "ActiveMQ OpenWire broker, exploited for remote code execution.",
        "Keep brokers internal and patch ActiveMQ.", "CIS-4.8"),
    // ------------------------------------------------------------------ UDP
    row(17, U, "qotd", Risky, Medium, false,
        "Quote of the Day over UDP is an amplification source.",
        "Disable qotd.", "TA14-017A"),
    row(19, U, "chargen", Risky, High, false,
        "Chargen over UDP amplifies spoofed requests several hundred times.",
        "Disable chargen.", "TA14-017A, Shadowserver"),
    row(53, U, "domain", Normal, Medium, false,
        "DNS over UDP; an open recursive resolver is a major amplification source.",
        "Disable recursion for outside clients and apply response rate limiting.", "TA14-017A, Shadowserver"),
    row(69, U, "tftp", Risky, High, false,
        "TFTP transfers files with no authentication (configs, firmware).",
        "Disable TFTP or restrict it to the provisioning network.", "CISA-CyHy, Shadowserver"),
    row(111, U, "rpcbind", Risky, High, false,
        "Portmapper over UDP is an amplification source and maps RPC services.",
        "Block rpcbind at the edge.", "TA14-017A, Shadowserver"),
    row(123, U, "ntp", Normal, Low, false,
        "NTP; servers answering monlist/readvar queries amplify spoofed traffic.",
        "Disable monlist (noquery) and keep ntpd current.", "TA14-017A, Shadowserver"),
    row(137, U, "netbios-ns", Risky, Medium, false,
        "NetBIOS name service leaks host names and amplifies traffic.",
        "Block NetBIOS at the perimeter.", "TA14-017A, Shadowserver"),
    row(161, U, "snmp", Risky, High, true,
        "SNMP with cleartext community strings: device management and an amplification source.",
        "Disable SNMP or use SNMPv3 from the management network only.", "CISA-CyHy, TA14-017A, BOD-23-02"),
    row(389, U, "cldap", Risky, High, false,
        "Connectionless LDAP amplifies spoofed requests up to seventy times.",
        "Block UDP 389 at the perimeter.", "Shadowserver"),
    row(427, U, "svrloc", Risky, High, false,
        "SLP over UDP: very large amplification and ESXi exploits.",
        "Disable SLP.", "Shadowserver"),
    row(500, U, "isakmp", Normal, Low, false,
        "IPsec key exchange; expected on VPN gateways.",
        "Use IKEv2 with strong proposals and keep the gateway patched.", "CIS-4.6"),
    row(623, U, "ipmi", Risky, Critical, true,
        "IPMI over UDP (RMCP): weak authentication gives full control of the server.",
        "Put BMCs on an isolated management network.", "BOD-23-02, Shadowserver"),
    row(1434, U, "ms-sql-m", Risky, Medium, false,
        "SQL Server browser reveals instances and amplifies traffic.",
        "Block UDP 1434 at the perimeter.", "TA14-017A, Shadowserver"),
    row(1900, U, "ssdp", Risky, High, false,
        "SSDP (UPnP discovery) amplifies spoofed traffic and exposes devices.",
        "Disable UPnP on internet-facing interfaces.", "TA14-017A, Shadowserver"),
    row(3283, U, "net-assistant", Risky, Medium, false,
        "Apple Remote Desktop over UDP is an amplification source.",
        "Block UDP 3283 at the perimeter.", "Shadowserver"),
    row(3702, U, "ws-discovery", Risky, Medium, false,
        "WS-Discovery amplifies spoofed traffic.",
        "Block UDP 3702 at the perimeter.", "Shadowserver"),
    row(4500, U, "ipsec-nat-t", Normal, Low, false,
        "IPsec NAT traversal; expected on VPN gateways.",
        "Keep the VPN gateway patched.", "CIS-4.6"),
    row(5353, U, "mdns", Risky, Medium, false,
        "Multicast DNS answering from outside leaks host information and amplifies traffic.",
        "Do not answer mDNS on external interfaces.", "Shadowserver"),
    row(5683, U, "coap", Risky, Medium, false,
        "CoAP IoT protocol, an amplification source.",
        "Keep CoAP devices off the internet.", "Shadowserver"),
    row(10001, U, "ubnt-discovery", Risky, High, true,
        "Ubiquiti discovery service leaks device details and amplifies traffic.",
        "Disable the discovery service on WAN interfaces.", "Shadowserver"),
    row(11211, U, "memcache", Risky, Critical, false,
        "Memcached over UDP amplifies spoofed traffic up to fifty thousand times.",
        "Disable UDP in memcached (-U 0) and keep it internal.", "TA14-017A, Shadowserver"),
    row(47808, U, "bacnet", Risky, High, false,
        "BACnet building automation, no authentication.",
        "Keep building control networks isolated.", "CISA-ICS, Shadowserver"),
];

/// Rationale and mitigation for ports the catalog does not know.
pub const OTHER_RATIONALE: &str = "Not in synsweep's catalog: an open port whose purpose is not known is unmanaged attack surface.";
/// See [`OTHER_RATIONALE`].
pub const OTHER_MITIGATION: &str = "Identify the listening process; close the port if it is not needed, otherwise document it in the policy.";
/// Category of ports the catalog does not know.
pub const OTHER_CATEGORY: Category = Other;
/// Severity of ports the catalog does not know.
pub const OTHER_SEVERITY: Severity = Low;

fn index() -> &'static HashMap<(&'static str, u16), &'static Entry> {
    static INDEX: OnceLock<HashMap<(&'static str, u16), &'static Entry>> = OnceLock::new();
    INDEX.get_or_init(|| CATALOG.iter().map(|e| ((e.proto, e.port), e)).collect())
}

/// The catalog row for `port`/`proto` (`tcp` or `udp`, case-insensitive).
pub fn lookup(port: u16, proto: &str) -> Option<&'static Entry> {
    let proto = if proto.eq_ignore_ascii_case("udp") {
        U
    } else if proto.eq_ignore_ascii_case("tcp") {
        T
    } else {
        return None;
    };
    index().get(&(proto, port)).copied()
}

/// The catalog's TCP ports, sorted and deduplicated.
pub fn tcp_ports() -> Vec<u16> {
    let mut v: Vec<u16> = CATALOG
        .iter()
        .filter(|e| e.proto == T)
        .map(|e| e.port)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The catalog as `synsweep catalog` prints it: `table` (aligned text, one
/// row per port) or `json` (an array of rows with every field).
pub fn render(format: &str) -> Result<String> {
    match format.to_ascii_lowercase().as_str() {
        "json" => serde_json::to_string_pretty(CATALOG)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| Error::runtime(format!("cannot render catalog: {e}"))),
        "table" => {
            let head = [
                "PORT",
                "SERVICE",
                "CATEGORY",
                "SEVERITY",
                "ADMIN",
                "RATIONALE",
            ];
            let rows: Vec<[String; 6]> = CATALOG
                .iter()
                .map(|e| {
                    [
                        format!("{}/{}", e.port, e.proto),
                        e.service.to_string(),
                        super::category_str(e.category).to_string(),
                        super::severity_str(e.severity).to_string(),
                        if e.admin { "yes" } else { "no" }.to_string(),
                        e.rationale.to_string(),
                    ]
                })
                .collect();
            let mut width = [0usize; 5];
            for (i, w) in width.iter_mut().enumerate() {
                *w = rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([head[i].len()])
                    .max()
                    .unwrap_or(0);
            }
            let mut out = String::new();
            let mut line = |cells: [&str; 6]| {
                for (i, c) in cells.iter().enumerate().take(5) {
                    out.push_str(&format!("{c:<w$}  ", w = width[i]));
                }
                out.push_str(cells[5]);
                out.push('\n');
            };
            line(head);
            for r in &rows {
                line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
            }
            Ok(out)
        }
        other => Err(Error::input(format!(
            "unknown catalog format '{other}' (table, json)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_sorted_unique_and_complete() {
        for w in CATALOG.windows(2) {
            assert!(
                (w[0].proto, w[0].port) < (w[1].proto, w[1].port),
                "catalog out of order at {}/{}",
                w[1].port,
                w[1].proto
            );
        }
        for e in CATALOG {
            assert!(!e.service.is_empty() && !e.rationale.is_empty() && !e.mitigation.is_empty());
            assert!(!e.refs.is_empty(), "{} has no reference", e.port);
            assert!(!e.rationale.contains('\n') && !e.mitigation.contains('\n'));
            assert_ne!(e.category, Other, "catalog rows name a category");
        }
        assert!(tcp_ports().len() >= 100, "{} TCP rows", tcp_ports().len());
    }

    #[test]
    fn render_rejects_unknown_format() {
        assert!(matches!(render("yaml"), Err(Error::Input(_))));
    }
}
