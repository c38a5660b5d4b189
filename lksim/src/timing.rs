//! How long LifeKeeper's commands take (issue 20).  Every duration is in seconds of a real
//! node; it is multiplied by the time scale before lksim waits: `$LKSIM_TIME_SCALE`, else the
//! `scale` of the timings file given to `lksim cluster create --timings FILE`, else 0.  With
//! scale 0 (the default) nothing waits and nothing else changes.  The defaults are listed as
//! UNCONFIRMED in FIDELITY.md ("Timing").

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Timings {
    /// The media's setup, start to end (LifeKeeper is stopped for most of it).
    pub setup: f64,
    /// From `lkstart` (or setup's restart) until `$LKROOT/config/LK_INITDONE` appears.
    pub lkstart: f64,
    /// `lkstop`.
    pub lkstop: f64,
    /// `perform_action`: per resource restored or removed.
    pub perform_action: f64,
    /// `lkbackup -c` / `-x`.
    pub lkbackup: f64,
    /// `rmlk`.
    pub rmlk: f64,
    /// A DataKeeper resync (used when `--resync-seconds` is not given).
    pub resync: f64,
    /// The time scale stored with the cluster; `$LKSIM_TIME_SCALE` overrides it.
    pub scale: f64,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            setup: 420.0,
            lkstart: 60.0,
            lkstop: 20.0,
            perform_action: 5.0,
            lkbackup: 10.0,
            rmlk: 60.0,
            resync: 300.0,
            scale: 0.0,
        }
    }
}

impl Timings {
    pub fn load(path: &str) -> Result<Timings, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--timings {path}: {e}"))?;
        let t: Timings =
            serde_json::from_str(&text).map_err(|e| format!("--timings {path}: {e}"))?;
        for (k, v) in t.fields() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("--timings {path}: {k} must be a number >= 0"));
            }
        }
        Ok(t)
    }

    fn fields(&self) -> [(&'static str, f64); 8] {
        [
            ("setup", self.setup),
            ("lkstart", self.lkstart),
            ("lkstop", self.lkstop),
            ("perform_action", self.perform_action),
            ("lkbackup", self.lkbackup),
            ("rmlk", self.rmlk),
            ("resync", self.resync),
            ("scale", self.scale),
        ]
    }

    /// The time scale in force: `$LKSIM_TIME_SCALE`, else the stored one.
    pub fn scale(&self) -> f64 {
        std::env::var("LKSIM_TIME_SCALE")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(self.scale)
    }

    /// `secs` of a real node as lksim waits them.
    pub fn scaled(&self, secs: f64) -> Duration {
        let s = secs * self.scale();
        if s > 0.0 {
            Duration::from_secs_f64(s)
        } else {
            Duration::ZERO
        }
    }
}

/// Wait `d` (nothing for zero).
pub fn wait(d: Duration) {
    if !d.is_zero() {
        std::thread::sleep(d);
    }
}
