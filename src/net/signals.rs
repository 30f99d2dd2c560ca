//! SIGINT/SIGTERM as a channel of counts: the driver feeds each signal to
//! the scan core, which decides (stop sending and pause, skip the wait). A
//! third signal exits at once.

use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Signals {
    count: Arc<AtomicU32>,
    handle: signal_hook::iterator::Handle,
}

impl Signals {
    pub fn install() -> Result<Signals> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut sigs = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| Error::runtime(format!("cannot install signal handlers: {e}")))?;
        let count = Arc::new(AtomicU32::new(0));
        let handle = sigs.handle();
        let c = count.clone();
        std::thread::spawn(move || {
            for _ in sigs.forever() {
                if c.fetch_add(1, Ordering::SeqCst) >= 2 {
                    std::process::exit(130);
                }
            }
        });
        Ok(Signals { count, handle })
    }

    /// Signals received so far.
    pub fn count(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.handle.close();
    }
}
