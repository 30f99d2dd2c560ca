//! Worked examples of the score formula (they are quoted in the README).

use synsweep::finding::{Finding, PortState};
use synsweep::risk::Risk;
use synsweep::risk::score::{Grade, host_scores, scan_score};

fn host(ip: &str, ports: &[u16]) -> Vec<Finding> {
    let risk = Risk::new(None);
    ports
        .iter()
        .map(|&p| {
            let mut f = Finding::tcp(
                ip.parse().unwrap(),
                p,
                PortState::Open,
                64,
                std::time::UNIX_EPOCH,
            );
            risk.annotate(&mut f);
            f
        })
        .collect()
}

fn grade_of(ports: &[u16]) -> (u8, Grade) {
    let h = host_scores(&host("198.19.0.1", ports));
    assert_eq!(h.len(), 1);
    (h[0].score, h[0].grade)
}

#[test]
fn web_server_with_ssh_is_an_a() {
    assert_eq!(grade_of(&[80, 443, 22]), (94, Grade::A));
}

#[test]
fn web_server_with_rdp_is_a_c() {
    assert_eq!(grade_of(&[80, 443, 3389]), (77, Grade::C));
}

#[test]
fn docker_without_tls_is_an_f() {
    assert_eq!(grade_of(&[2375]), (55, Grade::F));
}

#[test]
fn caps_hold_even_when_the_product_is_high() {
    // One high finding alone: 100 x 0.80 = 80, capped at 79.
    assert_eq!(grade_of(&[3306]).1, Grade::C);
    assert!(grade_of(&[3306]).0 <= 79);
    // Any critical finding is an F.
    assert!(grade_of(&[443, 6379]).0 <= 59);
}

#[test]
fn closed_and_duplicate_ports_cost_nothing_extra() {
    let mut fs = host("198.19.0.1", &[80, 443, 22, 22]);
    let mut closed = host("198.19.0.1", &[3389]).remove(0);
    closed.state = PortState::Closed;
    fs.push(closed);
    let h = host_scores(&fs);
    assert_eq!((h[0].score, h[0].grade, h[0].open), (94, Grade::A, 3));
}

#[test]
fn the_scan_scores_as_its_weakest_host() {
    let mut fs = host("198.19.0.1", &[80, 443, 22]);
    fs.extend(host("198.19.0.2", &[80, 443, 3389]));
    fs.extend(host("198.19.0.3", &[443]));
    let hosts = host_scores(&fs);
    assert_eq!(hosts.len(), 3);
    let scan = scan_score(&hosts);
    assert_eq!((scan.score, scan.grade), (77, Grade::C));
    assert_eq!(scan.weakest, Some("198.19.0.2".parse().unwrap()));
    assert_eq!(scan.hosts, 3);
    assert_eq!(scan.grades[&Grade::A], 2);
    assert!(scan.mean > scan.score as f64);
    let empty = scan_score(&[]);
    assert_eq!((empty.score, empty.grade, empty.hosts), (100, Grade::A, 0));
}
