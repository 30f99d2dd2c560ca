//! Real daemons for a lab's target namespace: started through
//! `wrap_in_ns`, killed (by their own pid) when dropped, also on panic.

use super::{Lab, wrap_in_ns};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Daemons started in the target namespace; killed (by their own pid) when
/// dropped, also when the test panics.
pub struct Daemons(pub Vec<(String, Child)>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Daemons {
    pub fn start(&mut self, lab: &Lab, program: &str, args: &[&str]) {
        let mut cmd = Command::new(program);
        cmd.args(args);
        let child = wrap_in_ns(lab.target_ns(), &cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("udp lab: cannot start {program} (is it installed?): {e}"));
        self.0.push((program.to_string(), child));
    }

    /// Wait until something listens on each UDP port in the target namespace.
    pub fn wait_ports(&mut self, lab: &Lab, ports: &[u16]) {
        let end = Instant::now() + Duration::from_secs(15);
        for &p in ports {
            loop {
                let out = Command::new("ip")
                    .args(["netns", "exec", lab.target_ns(), "ss", "-Huln"])
                    .arg(format!("sport = :{p}"))
                    .output()
                    .expect("ss");
                if !out.stdout.is_empty() {
                    break;
                }
                for (name, c) in &mut self.0 {
                    if let Ok(Some(st)) = c.try_wait() {
                        panic!("udp lab: {name} exited ({st}) before udp/{p} was open");
                    }
                }
                assert!(Instant::now() < end, "udp lab: nothing listens on udp/{p}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
