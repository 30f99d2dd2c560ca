//! What a TLS server's first flight says, pure: bytes in, facts out.
//!
//! [`read`] takes the bytes a server sent after our ClientHello (any number
//! of TCP segments, concatenated in order) and reassembles TLS records and
//! the handshake messages inside them: the ServerHello (version, cipher
//! suite) and the leaf certificate of the Certificate message. TLS 1.2 and
//! earlier send that message in the clear. TLS 1.3 encrypts it: with the
//! client's X25519 secret ([`client_secret`], derived from the scan's key
//! and the connection, so nothing is stored per connection) and our
//! ClientHello, [`read`] computes the shared secret, runs the key schedule
//! (RFC 8446 7.1) and decrypts the server's handshake records
//! (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) as far as the Certificate.
//!
//! [`cert_facts`] turns a DER certificate into the findings record's
//! [`Cert`]: names as `openssl x509 -nameopt RFC2253` prints them, dates in
//! RFC 3339, key type and size, signature algorithm by OpenSSL's name,
//! whether it is self-signed, and its SHA-256 fingerprint.
//!
//! Everything here is attacker-controlled input: never a panic, every
//! length checked, every text escaped and bounded.

use crate::finding::{Cert, escape_banner};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use sha2::{Digest, Sha256, Sha384};
use std::net::IpAddr;
use x509_parser::der_parser::asn1_rs::ToDer;
use x509_parser::prelude::*;

/// Most bytes of a server's flight [`read`] looks at (and a session keeps).
pub const FLIGHT_MAX: usize = 64 * 1024;
/// Longest subject or issuer kept (bytes of text).
pub const NAME_MAX: usize = 256;
/// Most SAN entries kept, and the longest of each.
pub const SAN_MAX: usize = 32;
pub const SAN_ENTRY_MAX: usize = 128;

/// The random `random` of the HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The client side of a TLS 1.3 handshake: what decrypting the server's
/// flight needs.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    /// Our X25519 secret (the public key went in the ClientHello).
    pub secret: [u8; 32],
    /// Our ClientHello handshake message (without the record header).
    pub hello: &'a [u8],
}

/// What the flight showed so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flight {
    /// The negotiated version (`0x0301` .. `0x0304`).
    pub version: Option<u16>,
    pub cipher: Option<u16>,
    /// The leaf certificate, DER.
    pub leaf: Option<Vec<u8>>,
    /// Nothing more is to be learnt from further bytes: the certificate was
    /// read, or the flight ended or failed without one.
    pub complete: bool,
}

/// The client's X25519 secret and client random for one connection: a
/// keyed hash of the scan's secret and the connection's 4-tuple, so that
/// the handshake can be followed without storing anything per connection.
/// The addresses go in as their bytes (4 each over IPv4, 16 over IPv6).
pub fn client_secret(
    k0: u64,
    k1: u64,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
) -> [u8; 32] {
    fn bytes(a: IpAddr) -> Vec<u8> {
        match a {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }
    let mut h = Sha256::new();
    h.update(b"synsweep tls1.3 client");
    h.update(k0.to_be_bytes());
    h.update(k1.to_be_bytes());
    h.update(bytes(src));
    h.update(bytes(dst));
    h.update(sport.to_be_bytes());
    h.update(dport.to_be_bytes());
    h.finalize().into()
}

/// The X25519 public key of `secret`.
pub fn public_key(secret: [u8; 32]) -> [u8; 32] {
    let s = x25519_dalek::StaticSecret::from(secret);
    *x25519_dalek::PublicKey::from(&s).as_bytes()
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

fn be24(d: &[u8], at: usize) -> Option<usize> {
    Some(
        ((*d.get(at)? as usize) << 16)
            | ((*d.get(at + 1)? as usize) << 8)
            | *d.get(at + 2)? as usize,
    )
}

/// The ServerHello's facts.
struct ServerHello {
    version: u16,
    cipher: u16,
    /// The server's X25519 key share (TLS 1.3).
    share: Option<[u8; 32]>,
    retry: bool,
}

fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let legacy = be16(body, 0)?;
    let random = body.get(2..34)?;
    let sid = *body.get(34)? as usize;
    let mut i = 35 + sid;
    let cipher = be16(body, i)?;
    i += 3;
    let mut version = legacy;
    let mut share = None;
    if let Some(len) = be16(body, i) {
        let end = (i + 2 + len as usize).min(body.len());
        i += 2;
        while i + 4 <= end {
            let (kind, l) = (be16(body, i)?, be16(body, i + 2)? as usize);
            let data = body.get(i + 4..i + 4 + l)?;
            match kind {
                0x002b => version = be16(data, 0)?,
                0x0033 if be16(data, 0) == Some(0x001d) && be16(data, 2) == Some(32) => {
                    share = data.get(4..36).and_then(|s| s.try_into().ok());
                }
                _ => {}
            }
            i += 4 + l;
        }
    }
    Some(ServerHello {
        version,
        cipher,
        share,
        retry: random == HRR_RANDOM,
    })
}

/// The first certificate of a Certificate message body (`tls13`: with the
/// request context and per-certificate extensions of RFC 8446 4.4.2).
fn leaf_of(body: &[u8], tls13: bool) -> Option<Vec<u8>> {
    let mut i = 0;
    if tls13 {
        i += 1 + *body.first()? as usize;
    }
    let list = be24(body, i)?;
    let first = be24(body, i + 3)?;
    if list < 3 + first || first == 0 {
        return None;
    }
    body.get(i + 6..i + 6 + first).map(<[u8]>::to_vec)
}

/// Whole handshake messages in `buf` from `*at` on (type, body).
fn messages<'a>(buf: &'a [u8], at: &mut usize) -> Vec<(u8, &'a [u8])> {
    let mut out = Vec::new();
    while let (Some(&kind), Some(len)) = (buf.get(*at), be24(buf, *at + 1)) {
        let Some(body) = buf.get(*at + 4..*at + 4 + len) else {
            break;
        };
        out.push((kind, body));
        *at += 4 + len;
    }
    out
}

/// TLS 1.3 handshake traffic decryption (RFC 8446 5.2, 7.1, 7.3).
struct Decrypter {
    cipher: u16,
    key: Vec<u8>,
    iv: [u8; 12],
    seq: u64,
}

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
        }
    }

    fn extract(self, salt: &[u8], ikm: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => hkdf::Hkdf::<Sha256>::extract(Some(salt), ikm).0.to_vec(),
            Hash::Sha384 => hkdf::Hkdf::<Sha384>::extract(Some(salt), ikm).0.to_vec(),
        }
    }

    /// HKDF-Expand-Label (RFC 8446 7.1).
    fn expand_label(
        self,
        secret: &[u8],
        label: &str,
        context: &[u8],
        len: usize,
    ) -> Option<Vec<u8>> {
        let full = format!("tls13 {label}");
        let mut info = (len as u16).to_be_bytes().to_vec();
        info.push(full.len() as u8);
        info.extend_from_slice(full.as_bytes());
        info.push(context.len() as u8);
        info.extend_from_slice(context);
        let mut okm = vec![0u8; len];
        match self {
            Hash::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
                .ok()?
                .expand(&info, &mut okm)
                .ok()?,
            Hash::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
                .ok()?
                .expand(&info, &mut okm)
                .ok()?,
        }
        Some(okm)
    }
}

/// The hash and key length of a TLS 1.3 cipher suite.
fn suite(cipher: u16) -> Option<(Hash, usize)> {
    Some(match cipher {
        0x1301 => (Hash::Sha256, 16), // TLS_AES_128_GCM_SHA256
        0x1302 => (Hash::Sha384, 32), // TLS_AES_256_GCM_SHA384
        0x1303 => (Hash::Sha256, 32), // TLS_CHACHA20_POLY1305_SHA256
        _ => return None,
    })
}

impl Decrypter {
    /// The server handshake traffic keys, from the ECDHE shared secret and
    /// the transcript ClientHello..ServerHello.
    fn new(cipher: u16, shared: &[u8], transcript: &[u8]) -> Option<Decrypter> {
        let (h, key_len) = suite(cipher)?;
        let zeros = vec![0u8; h.len()];
        let early = h.extract(&zeros, &zeros);
        let derived = h.expand_label(&early, "derived", &h.digest(b""), h.len())?;
        let hs = h.extract(&derived, shared);
        let s_hs = h.expand_label(&hs, "s hs traffic", &h.digest(transcript), h.len())?;
        let key = h.expand_label(&s_hs, "key", b"", key_len)?;
        let iv = h.expand_label(&s_hs, "iv", b"", 12)?.try_into().ok()?;
        Some(Decrypter {
            cipher,
            key,
            iv,
            seq: 0,
        })
    }

    /// Decrypt one application_data record (`header`: its 5 bytes); the
    /// inner content type and content.
    fn open(&mut self, header: &[u8], body: &[u8]) -> Option<(u8, Vec<u8>)> {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        let payload = Payload {
            msg: body,
            aad: header,
        };
        let mut plain = match self.cipher {
            0x1301 => aes_gcm::Aes128Gcm::new_from_slice(&self.key)
                .ok()?
                .decrypt((&nonce).into(), payload)
                .ok()?,
            0x1302 => aes_gcm::Aes256Gcm::new_from_slice(&self.key)
                .ok()?
                .decrypt((&nonce).into(), payload)
                .ok()?,
            0x1303 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(&self.key)
                .ok()?
                .decrypt((&nonce).into(), payload)
                .ok()?,
            _ => return None,
        };
        // TLSInnerPlaintext: content, type, zero padding.
        let end = plain.iter().rposition(|&b| b != 0)?;
        let kind = plain[end];
        plain.truncate(end);
        Some((kind, plain))
    }
}

/// Read a server's flight (`data`: everything it sent, in order) as far as
/// it goes. `client` is needed to read a TLS 1.3 certificate; without it a
/// TLS 1.3 flight is complete after the ServerHello.
pub fn read(data: &[u8], client: Option<Client<'_>>) -> Flight {
    let data = &data[..data.len().min(FLIGHT_MAX)];
    let mut f = Flight::default();
    // Plaintext handshake bytes, and the encrypted ones (TLS 1.3).
    let mut clear = Vec::new();
    let mut clear_at = 0;
    let mut inner = Vec::new();
    let mut inner_at = 0;
    let mut dec: Option<Decrypter> = None;
    let mut at = 0;
    while let (Some(&kind), Some(len)) = (data.get(at), be16(data, at + 3)) {
        // A record whose end has not arrived yet: a plaintext handshake
        // record is read as far as it goes (a whole ServerHello at its
        // start tells the version), anything else waits.
        let (body, partial) = match data.get(at + 5..at + 5 + len as usize) {
            Some(b) => (b, false),
            None if kind == 0x16 && dec.is_none() => (data.get(at + 5..).unwrap_or_default(), true),
            None => break,
        };
        let header = &data[at..at + 5];
        at += 5 + len as usize;
        match kind {
            0x15 => {
                // An alert ends what the server will say.
                f.complete = true;
                return f;
            }
            0x16 if dec.is_none() => clear.extend_from_slice(body),
            0x17 => {
                let Some(d) = dec.as_mut() else {
                    f.complete = true;
                    return f;
                };
                let Some((kind, plain)) = d.open(header, body) else {
                    f.complete = true; // not our keys: nothing more to learn
                    return f;
                };
                if kind == 0x16 {
                    inner.extend_from_slice(&plain);
                }
            }
            0x14 => {} // change_cipher_spec (middlebox compatibility)
            _ => {
                f.complete = true;
                return f;
            }
        }
        for (kind, body) in messages(&clear, &mut clear_at) {
            match kind {
                0x02 if f.version.is_none() => {
                    let Some(sh) = server_hello(body) else {
                        f.complete = true;
                        return f;
                    };
                    f.version = Some(sh.version);
                    f.cipher = Some(sh.cipher);
                    if sh.version == 0x0304 {
                        let keys =
                            client
                                .zip(sh.share)
                                .filter(|_| !sh.retry)
                                .and_then(|(c, share)| {
                                    let secret = x25519_dalek::StaticSecret::from(c.secret);
                                    let shared = secret
                                        .diffie_hellman(&x25519_dalek::PublicKey::from(share));
                                    let mut transcript = c.hello.to_vec();
                                    transcript.extend_from_slice(&clear[..clear_at]);
                                    Decrypter::new(sh.cipher, shared.as_bytes(), &transcript)
                                });
                        match keys {
                            Some(d) => dec = Some(d),
                            None => {
                                f.complete = true;
                                return f;
                            }
                        }
                    }
                }
                0x0b if f.version.is_some() => {
                    f.leaf = leaf_of(body, false);
                    f.complete = true;
                    return f;
                }
                // ServerHelloDone, ServerKeyExchange without a certificate
                // before it: an anonymous suite.
                0x0e | 0x0c => {
                    f.complete = true;
                    return f;
                }
                _ => {}
            }
        }
        if partial {
            break;
        }
        for (kind, body) in messages(&inner, &mut inner_at) {
            match kind {
                0x0b => {
                    f.leaf = leaf_of(body, true);
                    f.complete = true;
                    return f;
                }
                // CertificateVerify or Finished before any Certificate: a
                // PSK handshake (not ours) or none to show.
                0x0f | 0x14 => {
                    f.complete = true;
                    return f;
                }
                _ => {}
            }
        }
    }
    if data.len() >= FLIGHT_MAX {
        f.complete = true;
    }
    f
}

/// The IANA name of a cipher suite (those a server may pick from what we
/// offer, and the usual others), or its number in hex.
pub fn cipher_name(c: u16) -> String {
    let name = match c {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009f => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003d => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0039 => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0x0004 => "TLS_RSA_WITH_RC4_128_MD5",
        _ => return format!("0x{c:04x}"),
    };
    name.to_string()
}

/// OpenSSL's short name of a distinguished name attribute.
fn attr_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.4" => "SN",
        "2.5.4.42" => "GN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.12" => "title",
        "2.5.4.17" => "postalCode",
        "2.5.4.15" => "businessCategory",
        "2.5.4.43" => "initials",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        _ => return None,
    })
}

/// One attribute value escaped as RFC 4514 (and OpenSSL's RFC2253 option)
/// do: `,+"\<>;` and a leading `#` or space and a trailing space behind a
/// backslash, bytes outside printable ASCII as `\XX`. The result is
/// printable ASCII.
fn escape_value(v: &[u8]) -> String {
    let mut out = String::new();
    for (i, &b) in v.iter().enumerate() {
        let edge = (i == 0 && (b == b'#' || b == b' ')) || (i + 1 == v.len() && b == b' ');
        match b {
            b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => {
                out.push('\\');
                out.push(b as char);
            }
            _ if edge => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:02X}")),
        }
    }
    out
}

/// A distinguished name as `openssl x509 -nameopt RFC2253` prints it:
/// most specific RDN first, `,` between RDNs, `+` inside one.
fn name_text(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    let oid = a.attr_type().to_id_string();
                    match (attr_name(&oid), a.attr_value().as_str()) {
                        (Some(n), Ok(s)) => format!("{n}={}", escape_value(s.as_bytes())),
                        (Some(n), Err(_)) => {
                            format!("{n}={}", escape_value(a.attr_value().data))
                        }
                        (None, _) => {
                            let der = a.attr_value().to_der_vec().unwrap_or_default();
                            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
                            format!("{oid}=#{hex}")
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    let text = rdns.into_iter().rev().collect::<Vec<_>>().join(",");
    // Printable ASCII already; bound it like a banner.
    escape_banner(text.as_bytes(), NAME_MAX)
}

/// An X.509 time in RFC 3339 UTC, to the second.
fn time_text(t: ASN1Time) -> String {
    let d = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// OpenSSL's name of a signature algorithm.
fn sig_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.3.14.3.2.29" => "sha1WithRSA",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        "1.2.840.10040.4.3" => "dsaWithSHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa_with_SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        _ => return oid.to_string(),
    }
    .to_string()
}

/// The key type and size in bits (OpenSSL's `Public-Key: (N bit)`).
fn key_facts(spki: &SubjectPublicKeyInfo<'_>) -> (String, u32) {
    use x509_parser::public_key::PublicKey;
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.3.101.112" => return ("ed25519".into(), 256),
        "1.3.101.113" => return ("ed448".into(), 456),
        "1.3.101.110" => return ("x25519".into(), 253),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(k)) => ("rsa".into(), k.key_size() as u32),
        Ok(PublicKey::EC(p)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|a| a.as_oid().ok())
                .map(|o| o.to_id_string());
            let bits = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => 256,
                Some("1.3.132.0.34") => 384,
                Some("1.3.132.0.35") => 521,
                Some("1.3.132.0.10") => 256,
                Some("1.2.840.10045.3.1.1") => 192,
                Some("1.3.132.0.33") => 224,
                _ => p.key_size() as u32,
            };
            ("ec".into(), bits)
        }
        Ok(PublicKey::DSA(y)) => ("dsa".into(), significant_bits(y)),
        _ => ("other".into(), 0),
    }
}

fn significant_bits(n: &[u8]) -> u32 {
    let n = &n[n.iter().position(|&b| b != 0).unwrap_or(n.len())..];
    n.first()
        .map_or(0, |&b| (n.len() as u32 - 1) * 8 + (8 - b.leading_zeros()))
}

/// Whether `cert` is self-signed: its issuer is its subject, and its
/// signature verifies with its own key; where that cannot be checked (an
/// algorithm or key size the verifier refuses, such as RSA under 2048
/// bits), its authority key identifier is absent or equals its subject key
/// identifier.
fn self_signed(cert: &X509Certificate<'_>) -> bool {
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    if cert.verify_signature(None).is_ok() {
        return true;
    }
    let mut ski = None;
    let mut aki = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = Some(a.key_identifier.as_ref().map(|k| k.0))
            }
            _ => {}
        }
    }
    match aki {
        None | Some(None) => true,
        Some(Some(a)) => Some(a) == ski,
    }
}

/// The findings record's facts of a DER certificate; None when it does
/// not parse.
pub fn cert_facts(der: &[u8]) -> Option<Cert> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut san = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            let text = match n {
                GeneralName::DNSName(s) => escape_banner(s.as_bytes(), SAN_ENTRY_MAX),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).ok()?).to_string(),
                    16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).ok()?).to_string(),
                    _ => continue,
                },
                _ => continue,
            };
            if san.len() < SAN_MAX {
                san.push(text);
            }
        }
    }
    let (key, key_bits) = key_facts(cert.public_key());
    Some(Cert {
        subject: name_text(cert.subject()),
        issuer: name_text(cert.issuer()),
        san,
        not_before: time_text(cert.validity().not_before),
        not_after: time_text(cert.validity().not_after),
        key,
        key_bits,
        sig: sig_name(&cert.signature_algorithm.algorithm.to_id_string()),
        self_signed: self_signed(&cert),
        sha256: Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    })
}

/// The name of a TLS protocol version (`TLSv1.3`), or None for one
/// unknown.
pub fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0x0300 => "SSLv3",
        0x0301 => "TLSv1.0",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ => return None,
    })
}

/// The findings record's `tls` of a flight (None before a ServerHello).
pub fn facts(flight: &Flight) -> Option<crate::finding::Tls> {
    let v = flight.version?;
    Some(crate::finding::Tls {
        version: version_name(v)?.to_string(),
        cipher: flight.cipher.map(cipher_name),
        cert: flight.leaf.as_deref().and_then(cert_facts),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 8448 section 3, "Simple 1-RTT Handshake".
    const CLIENT_PRIVATE: &str = "49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005";
    const CLIENT_HELLO: &str = concat!(
        "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece700000613011303130201",
        "0000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400",
        "230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b00",
        "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c",
        "00024001",
    );
    const SERVER_HELLO: &str = concat!(
        "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024",
        "001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304",
    );
    const ENCRYPTED_EXTENSIONS: &str =
        "080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000";
    pub(crate) const CERT_DER: &str = concat!(
        "308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a0603550403130372736130",
        "1e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130",
        "819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de",
        "55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b",
        "1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c4",
        "7428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06",
        "092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417",
        "f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a4",
        "2a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de1",
    );
    /// The server's handshake write key and IV the RFC prints.
    const SERVER_HS_KEY: &str = "3fce516009c21727d0f2e4e86ee403bc";
    const SERVER_HS_IV: &str = "5d313eb2671276ee13000b30";

    pub(crate) fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 0x03, 0x03];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    /// A Certificate message holding `der` (TLS 1.3 form when `tls13`).
    pub(crate) fn certificate(der: &[u8], tls13: bool) -> Vec<u8> {
        let mut entry = (der.len() as u32).to_be_bytes()[1..].to_vec();
        entry.extend_from_slice(der);
        if tls13 {
            entry.extend_from_slice(&[0, 0]);
        }
        let mut body = Vec::new();
        if tls13 {
            body.push(0);
        }
        body.extend_from_slice(&(entry.len() as u32).to_be_bytes()[1..]);
        body.extend_from_slice(&entry);
        let mut m = vec![0x0b];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(&body);
        m
    }

    /// The server's flight of the RFC 8448 trace as far as its Certificate,
    /// sealed with the handshake key and IV the RFC prints.
    fn rfc8448_flight() -> Vec<u8> {
        let mut plain = hex(ENCRYPTED_EXTENSIONS);
        plain.extend_from_slice(&certificate(&hex(CERT_DER), true));
        plain.push(0x16);
        let header = [0x17, 0x03, 0x03, 0, 0];
        let len = (plain.len() + 16) as u16;
        let mut header = header;
        header[3..].copy_from_slice(&len.to_be_bytes());
        let iv: [u8; 12] = hex(SERVER_HS_IV).try_into().unwrap();
        let sealed = aes_gcm::Aes128Gcm::new_from_slice(&hex(SERVER_HS_KEY))
            .unwrap()
            .encrypt(
                (&iv).into(),
                Payload {
                    msg: &plain,
                    aad: &header,
                },
            )
            .unwrap();
        let mut flight = record(0x16, &hex(SERVER_HELLO));
        // Middlebox compatibility: a change_cipher_spec record first.
        flight.extend_from_slice(&record(0x14, &[1]));
        flight.extend_from_slice(&header);
        flight.extend_from_slice(&sealed);
        flight
    }

    #[test]
    fn tls13_certificate_is_decrypted_with_the_rfc8448_keys() {
        let ch = hex(CLIENT_HELLO);
        let client = Client {
            secret: hex(CLIENT_PRIVATE).try_into().unwrap(),
            hello: &ch,
        };
        let flight = rfc8448_flight();
        let f = read(&flight, Some(client));
        assert_eq!((f.version, f.cipher), (Some(0x0304), Some(0x1301)));
        assert_eq!(f.leaf, Some(hex(CERT_DER)), "our key schedule is the RFC's");
        assert!(f.complete);
        // Every prefix is incomplete and reads no certificate.
        for cut in [1, 5, 40, 95, 100, flight.len() - 1] {
            let p = read(&flight[..cut], Some(client));
            assert!(!p.complete && p.leaf.is_none(), "cut at {cut}");
        }
        // The wrong client secret: decryption fails, the flight is over.
        let mut wrong = client;
        wrong.secret[5] ^= 1; // (the low bits of byte 0 are clamped away)
        let f = read(&flight, Some(wrong));
        assert_eq!((f.leaf, f.complete, f.version), (None, true, Some(0x0304)));
        // Without the client side: version and cipher only.
        let f = read(&flight, None);
        assert_eq!((f.leaf, f.complete, f.cipher), (None, true, Some(0x1301)));
        let t = facts(&read(&flight, Some(client))).unwrap();
        assert_eq!(t.version, "TLSv1.3");
        assert_eq!(t.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(t.cert.unwrap().subject, "CN=rsa");
    }

    #[test]
    fn our_key_share_is_the_public_key_of_the_secret() {
        // RFC 8448: the client's public share.
        let s: [u8; 32] = hex(CLIENT_PRIVATE).try_into().unwrap();
        assert_eq!(
            public_key(s).to_vec(),
            hex("99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c")
        );
        let v4 = |a: u32| IpAddr::V4(a.into());
        let a = client_secret(1, 2, v4(10), v4(20), 30, 40);
        assert_eq!(a, client_secret(1, 2, v4(10), v4(20), 30, 40));
        assert_ne!(a, client_secret(1, 2, v4(10), v4(20), 31, 40));
        assert_ne!(a, client_secret(1, 3, v4(10), v4(20), 30, 40));
        assert_ne!(a, client_secret(1, 2, v4(20), v4(10), 30, 40));
    }

    /// Over IPv4 the secret is the hash of the addresses as 32-bit
    /// numbers, as it always was (recorded handshakes keep their keys);
    /// over IPv6 it hashes the 16-byte addresses, and differs from the
    /// IPv4-mapped form.
    #[test]
    fn client_secret_over_both_families() {
        let (src, dst) = (0xc612_0001u32, 0xc613_0004u32);
        let mut h = Sha256::new();
        h.update(b"synsweep tls1.3 client");
        for v in [1u64, 2] {
            h.update(v.to_be_bytes());
        }
        h.update(src.to_be_bytes());
        h.update(dst.to_be_bytes());
        h.update(61000u16.to_be_bytes());
        h.update(443u16.to_be_bytes());
        let before: [u8; 32] = h.finalize().into();
        let (s4, d4) = (IpAddr::V4(src.into()), IpAddr::V4(dst.into()));
        assert_eq!(client_secret(1, 2, s4, d4, 61000, 443), before);
        let mapped = |a: IpAddr| match a {
            IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
            v6 => v6,
        };
        let (s6, d6) = (mapped(s4), mapped(d4));
        let six = client_secret(1, 2, s6, d6, 61000, 443);
        assert_ne!(six, before);
        assert_eq!(six, client_secret(1, 2, s6, d6, 61000, 443));
        assert_ne!(
            six,
            client_secret(1, 2, s6, "2001:2::4".parse().unwrap(), 61000, 443)
        );
    }

    /// A TLS 1.2 ServerHello (no extensions) choosing `cipher`.
    pub(crate) fn server_hello12(version: u16, cipher: u16) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[7; 32]);
        b.push(0);
        b.extend_from_slice(&cipher.to_be_bytes());
        b.push(0);
        let mut m = vec![0x02, 0, 0, b.len() as u8];
        m.extend_from_slice(&b);
        m
    }

    #[test]
    fn tls12_leaf_is_reassembled_across_records_and_segments() {
        let mut hs = server_hello12(0x0303, 0xc02f);
        hs.extend_from_slice(&certificate(&hex(CERT_DER), false));
        hs.extend_from_slice(&[0x0e, 0, 0, 0]);
        // The handshake bytes cut into records of 100 bytes (a message
        // spans records), as servers with small fragments do.
        let flight: Vec<u8> = hs.chunks(100).flat_map(|c| record(0x16, c)).collect();
        let f = read(&flight, None);
        assert_eq!((f.version, f.cipher), (Some(0x0303), Some(0xc02f)));
        assert_eq!(f.leaf, Some(hex(CERT_DER)));
        assert!(f.complete);
        // Segment by segment: incomplete until the certificate is whole.
        let cert_end = 5 * 5 + hs.len() - 4; // before the ServerHelloDone
        for cut in (1..cert_end - 4).step_by(37) {
            let p = read(&flight[..cut], None);
            assert!(!p.complete && p.leaf.is_none(), "cut at {cut}");
        }
        // TLS 1.0, one record.
        let mut hs = server_hello12(0x0301, 0x002f);
        hs.extend_from_slice(&certificate(&hex(CERT_DER), false));
        let t = facts(&read(&record(0x16, &hs), None)).unwrap();
        assert_eq!(
            (t.version.as_str(), t.cipher.as_deref()),
            ("TLSv1.0", Some("TLS_RSA_WITH_AES_128_CBC_SHA"))
        );
        assert!(t.cert.is_some());
        // An alert ends the flight; so does a ServerHelloDone without a
        // certificate (anonymous suite).
        assert!(read(&record(0x15, &[2, 40]), None).complete);
        let mut hs = server_hello12(0x0303, 0x0034);
        hs.extend_from_slice(&[0x0e, 0, 0, 0]);
        let f = read(&record(0x16, &hs), None);
        assert!(f.complete && f.leaf.is_none());
    }

    #[test]
    fn certificate_facts_match_openssl() {
        // `openssl x509 -noout -subject -issuer -nameopt RFC2253 -dates
        // -fingerprint -sha256 -text` on the RFC 8448 certificate.
        let c = cert_facts(&hex(CERT_DER)).unwrap();
        assert_eq!(c.subject, "CN=rsa");
        assert_eq!(c.issuer, "CN=rsa");
        assert_eq!(c.not_before, "2016-07-30T01:23:59Z");
        assert_eq!(c.not_after, "2026-07-30T01:23:59Z");
        assert_eq!((c.key.as_str(), c.key_bits), ("rsa", 1024));
        assert_eq!(c.sig, "sha256WithRSAEncryption");
        assert!(c.self_signed, "issuer is subject, no key identifiers");
        assert_eq!(
            c.sha256,
            "a7ef15cef43e4b67bdb158fcc13cceef9041c8a6cef762046e825543a92bdc83"
        );
        assert!(c.san.is_empty());
        assert_eq!(cert_facts(b"\x30\x03\x02\x01\x00"), None);
        assert_eq!(cert_facts(&hex(CERT_DER)[..200]), None);
    }

    #[test]
    fn names_are_escaped_as_rfc4514() {
        assert_eq!(escape_value(b"a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_value(b"#x "), "\\#x\\ ");
        assert_eq!(escape_value("é\n".as_bytes()), "\\C3\\A9\\0A");
        assert_eq!(significant_bits(&[0, 0x01, 0xff]), 9);
    }

    #[test]
    fn cipher_names() {
        assert_eq!(cipher_name(0xc030), "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        assert_eq!(cipher_name(0x1303), "TLS_CHACHA20_POLY1305_SHA256");
        assert_eq!(cipher_name(0xabcd), "0xabcd");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_flights_never_panic(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            secret in proptest::prelude::any::<[u8; 32]>(),
        ) {
            let ch = hex(CLIENT_HELLO);
            let _ = read(&data, Some(Client { secret, hello: &ch }));
            let _ = cert_facts(&data);
            // Records of the right shape around arbitrary bodies.
            let mut f = record(0x16, &hex(SERVER_HELLO));
            f.extend_from_slice(&record(0x17, &data));
            let _ = read(&f, Some(Client { secret, hello: &ch }));
            let mut f = record(0x16, &server_hello12(0x0303, 0xc02f));
            f.extend_from_slice(&record(0x16, &data));
            let _ = read(&f, None);
        }
    }
}
