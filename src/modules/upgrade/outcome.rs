//! The results of lk_upgrade composed from the plan: check mode's predicted result (the whole
//! plan, the predicted packages), a finished run's result and the "nothing to do" result, so the
//! three cannot drift apart.

use super::facts::Facts;
use super::plan::{Action, AtTarget, Step, StepStatus, Upgrade};
use super::Params;
use crate::lifekeeper::version::Path as UpPath;
use crate::lifekeeper::{packages, setup};
use crate::runtime::{diff, Outcome};
use serde_json::{json, Value};
use std::path::Path;

pub fn steps_json(steps: &[Step]) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|s| json!({"name": s.name, "status": s.status.as_str(), "detail": s.detail}))
            .collect(),
    )
}

pub fn package_diff(before: &[String], after: &[String]) -> Value {
    let lines = |v: &[String]| v.iter().map(|s| format!("{s}\n")).collect::<String>();
    diff::text("LifeKeeper packages", &lines(before), &lines(after))
}

impl AtTarget {
    pub fn outcome(&self, journal: &Path) -> Outcome {
        Outcome::new(
            false,
            format!(
                "LifeKeeper {} is already installed on {}",
                self.target, self.host
            ),
        )
        .with("path", "none")
        .with("previous_version", self.target.to_string())
        .with("version", self.target.to_string())
        .with("steps", json!([]))
        .with("setup_log", Value::Null)
        .with("setup_logs", json!([]))
        .with("lifekeeper_running", self.running)
        .with("packages", self.packages.clone())
        .with("journal", journal.display().to_string())
    }
}

impl Upgrade {
    /// "upgraded LifeKeeper on node-a from 9.4.0 to 9.6.1 (direct path)", with the verb for a
    /// resumed or a fresh run.
    pub fn headline(&self, resuming: &str, fresh: &str) -> String {
        format!(
            "{} LifeKeeper on {} from {} to {} ({} path{})",
            if self.resuming { resuming } else { fresh },
            self.host,
            self.previous
                .map(|v| v.to_string())
                .unwrap_or_else(|| "?".into()),
            self.target,
            self.path.name(),
            self.stepping
                .map(|s| format!(" through {s}"))
                .unwrap_or_default(),
        )
    }

    /// The result keys a check-mode plan and a real run share, so the two cannot drift apart.
    pub fn outcome(&self, msg: String, running: bool, after: &[String], journal: &Path) -> Outcome {
        let mut o = Outcome::new(true, msg)
            .with("path", self.path.name())
            .with("previous_version", self.previous.map(|v| v.to_string()))
            .with("version", self.target.to_string())
            .with("steps", steps_json(&self.steps))
            .with("setup_log", self.journal.setup_logs.last().cloned())
            .with("setup_logs", self.journal.setup_logs.clone())
            .with("lifekeeper_running", running)
            .with("packages", after.to_vec())
            .with("journal", journal.display().to_string())
            .diff(Some(package_diff(&self.journal.packages_before, after)));
        if let Some(s) = &self.saved_defaults {
            o.set("saved_defaults", s.display().to_string());
        }
        if let Some(b) = &self.backup_archive {
            o.set("backup", b.display().to_string());
        }
        if let Some(u) = self
            .setup_usage
            .as_ref()
            .or(self.journal.setup_usage.as_ref())
        {
            o.set("setup_usage", u.clone());
        }
        if matches!(self.path, UpPath::Reinstall | UpPath::Rollback) {
            o.set("to_reinstall", self.journal.to_reinstall.clone());
            if let Some(a) = &self.journal.site_files_archive {
                o.set("site_files_archive", a.clone());
            }
        }
        o
    }

    /// The packages the plan would leave installed: every LifeKeeper package kept (in place) or
    /// the core set (reinstall), plus the kits asked for, each at the version on the target media.
    pub fn predict_packages(&self, p: &Params, f: &Facts) -> Vec<String> {
        let (kits, quorum) = match &p.setup_config {
            Some(_) => setup::kits_in(&f.setup_config_text),
            // The generated configuration's kits: those asked for, else those installed before.
            None => {
                let c = super::generated_conf(p, &self.journal.packages_before);
                (c.recovery_kits, c.quorum)
            }
        };
        let mut names: Vec<String> = packages::CORE.iter().map(|s| s.to_string()).collect();
        if !matches!(self.path, UpPath::Reinstall | UpPath::Rollback) {
            names.extend(
                self.journal
                    .packages_before
                    .iter()
                    .map(|n| packages::name(n).to_string()),
            );
        }
        names.extend(kits.iter().map(|k| packages::kit_package(k)));
        if quorum {
            names.push(packages::QUORUM.into());
        }
        names.sort();
        names.dedup();
        let on_media = &f.media_packages;
        let mut out: Vec<String> = names
            .iter()
            .map(|n| {
                on_media
                    .iter()
                    .find(|m| packages::name(m) == n)
                    .cloned()
                    .unwrap_or_else(|| format!("{n}-{}", self.target))
            })
            .collect();
        out.sort();
        out
    }

    /// Check mode's result: the whole plan and the predicted packages.
    pub fn predicted(&self, p: &Params, f: &Facts) -> Outcome {
        let after = self.predict_packages(p, f);
        let todo = self
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Planned && s.action != Action::Verify)
            .count();
        let mut o = self.outcome(
            format!(
                "would {}: {todo} step(s)",
                if self.path == UpPath::Rollback {
                    self.headline("resume rolling back", "roll back")
                } else {
                    self.headline("resume upgrading", "upgrade")
                }
            ),
            self.running_now,
            &after,
            &f.journal_path,
        );
        if let Some(w) = &self.backup_missing {
            o.warn(w.clone());
        }
        o
    }
}
