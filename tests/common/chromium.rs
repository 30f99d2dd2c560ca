//! Headless Chromium (Debian's `chromium` package) for the HTML report
//! tests: dump the DOM a page renders to, take its text. Fails (does not
//! skip) without chromium.

use std::process::{Command, Output};

/// Run headless chromium with `args` and a throwaway profile.
pub fn chromium(args: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args);
    cmd.output().unwrap_or_else(|e| {
        panic!("chromium is required for this test (apt-get install chromium): {e}")
    })
}

/// The DOM of `url` after rendering.
pub fn dump_dom(url: &str) -> String {
    let dom = chromium(&["--dump-dom", url]);
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    String::from_utf8_lossy(&dom.stdout).to_string()
}

/// Text of the DOM with tags removed and the common entities decoded.
pub fn dom_text(dom: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
