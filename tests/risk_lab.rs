//! A real lab scan feeds the risk categorizer: every finding's category,
//! severity and admin flag follow the rules (risky, then administrative, then
//! normal, then other; cleartext management is risky with admin set), with
//! rationale and mitigation filled in, and a policy changes only the host it
//! names.

mod common;

use common::run::synsweep;

use common::Lab;
use common::findings::records;
use std::collections::BTreeMap;

#[test]
fn lab_findings_carry_the_risk_picture() {
    // 47123 is in no catalog: category other.
    let ports = [22u16, 23, 80, 443, 445, 3306, 3389, 6379, 47123];
    let lab = Lab::builder()
        .listen(&ports)
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("f.ndjson");
    let json = dir.path().join("f.json");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[expect]]\nhosts = [\"198.19.0.4\"]\nports = [3389]\n",
    )
    .unwrap();
    let list = ports
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let out = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                "198.19.0.0/28",
                "-p",
                &list,
                "--rate",
                "2000",
                "--wait",
                "1",
                "--policy",
            ])
            .arg(&policy)
            .arg("-o")
            .arg(&nd)
            .arg("-o")
            .arg(&json),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&nd);
    // 4 alive hosts (.0 .4 .8 .12) x 9 ports.
    assert_eq!(recs.len(), 4 * ports.len(), "{recs:#?}");
    let want: BTreeMap<u64, (&str, &str, bool)> = [
        (22, ("administrative", "low", true)),
        (23, ("risky", "critical", true)),
        (80, ("normal", "low", false)),
        (443, ("normal", "info", false)),
        (445, ("risky", "critical", false)),
        (3306, ("risky", "high", false)),
        (3389, ("administrative", "high", true)),
        (6379, ("risky", "critical", false)),
        (47123, ("other", "low", false)),
    ]
    .into_iter()
    .collect();
    let mut guesses = 0;
    for r in &recs {
        let port = r["port"].as_u64().unwrap();
        let (cat, sev, admin) = want[&port];
        assert_eq!(r["category"], cat, "{r}");
        assert_eq!(r["severity"], sev, "{r}");
        assert_eq!(r["admin"], admin, "{r}");
        assert!(!r["rationale"].as_str().unwrap().is_empty(), "{r}");
        assert!(!r["mitigation"].as_str().unwrap().is_empty(), "{r}");
        assert!(!r["service"].as_str().unwrap().is_empty(), "{r}");
        let expected = r["ip"] == "198.19.0.4" && port == 3389;
        assert_eq!(r["expected"], expected, "{r}");
        // The lab's listeners speak no protocol: each catalog name is the
        // port's, rated as such but marked as a guess.
        let service = r["service"].as_str().unwrap();
        if r.get("protocol").is_none() && port != 47123 {
            guesses += 1;
            assert!(service.ends_with('?'), "{r}");
            assert!(
                r["rationale"]
                    .as_str()
                    .unwrap()
                    .starts_with(synsweep::risk::GUESS_RATIONALE),
                "{r}"
            );
        } else if r.get("protocol").is_some() {
            assert!(!service.ends_with('?'), "{r}");
        }
    }
    assert!(guesses > 0, "no port left unnamed: {recs:#?}");
    // The JSON document grades every host; the policy host differs from the others only by 3389.
    let doc: serde_json::Value = common::schema::read_document(&json);
    let hosts: BTreeMap<String, (u64, String)> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["ip"].as_str().unwrap().to_string(),
                (
                    h["score"].as_u64().unwrap(),
                    h["grade"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(hosts.len(), 4, "{hosts:?}");
    // Three critical, two high (3306, 3389), one medium-or-lower set: an F everywhere.
    let others: Vec<_> = ["198.19.0.0", "198.19.0.8", "198.19.0.12"]
        .iter()
        .map(|h| hosts[*h].clone())
        .collect();
    assert!(
        others.iter().all(|o| *o == others[0] && o.1 == "F"),
        "{hosts:?}"
    );
    // The expected RDP costs nothing on .4: its score is higher by exactly the high penalty.
    let (s4, s0) = (hosts["198.19.0.4"].0 as f64, others[0].0 as f64);
    assert!(s4 > s0, "{hosts:?}");
    assert!(
        (s4 * 0.8 - s0).abs() <= 1.0,
        "{s4} * 0.8 should be about {s0}"
    );
    assert_eq!(
        doc["score"]["score"].as_u64().unwrap(),
        others[0].0,
        "weakest link"
    );
}
