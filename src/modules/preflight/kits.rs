//! LK-KIT-HANA-GENAPP: the SAP HANA gen/app based kit is not supported from 9.5.0; before an
//! upgrade to 9.5 or later it must be converted to the built-in SAP HANA Recovery Kit (the
//! vendor's 9.5 upgrading page, field evidence [UP95]). Gather (what is on disk under lkroot) ->
//! pure `judge_hana_genapp`.
//!
//! How a node shows the kit (field evidence [AZ], "kits shipped apart"): `HANA2-ARK.run` unpacks
//! into `<lkroot>/HANA2-ARK/` and copies its scripts into `<lkroot>/lkadm/subsys/gen/app/bin/`;
//! the gen/app resources it creates run those scripts. No package owns any of it, so rpm cannot
//! tell. UNCONFIRMED: that every installation of that kit leaves the `HANA2-ARK` folder, and the
//! scripts' names (lksim's stand-in names them `hana2-ark-<action>`; any script there whose
//! name starts with `hana`, in any case, counts). A wrong guess can only stop the run here,
//! before anything is changed; `skip: [LK-KIT-HANA-GENAPP]` overrides it.

use super::env::Env;
use super::Finding;
use crate::lifekeeper::version::Version;
use serde_json::json;
use std::path::Path;

/// Where the kit unpacks itself under lkroot [AZ].
pub(super) const KIT_DIR: &str = "HANA2-ARK";
/// Where gen/app kits copy their scripts [AZ].
pub(super) const GENAPP_BIN: &str = "lkadm/subsys/gen/app/bin";

/// The first release that no longer supports the gen/app based kit [UP95].
const UNSUPPORTED_FROM: Version = Version::new(9, 5, 0);

pub(super) fn check_hana_genapp(env: &Env) -> Finding {
    let (kit_dir, scripts) = gather(&env.p.lkroot);
    judge_hana_genapp(env.target, kit_dir.as_deref(), &scripts)
}

/// What the node holds of the kit: its folder (when present) and the HANA scripts in the
/// gen/app bin folder (sorted file names).
fn gather(lkroot: &Path) -> (Option<String>, Vec<String>) {
    let dir = lkroot.join(KIT_DIR);
    let kit_dir = dir.is_dir().then(|| dir.display().to_string());
    let mut scripts: Vec<String> = std::fs::read_dir(lkroot.join(GENAPP_BIN))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.to_ascii_lowercase().starts_with("hana"))
                .collect()
        })
        .unwrap_or_default();
    scripts.sort();
    (kit_dir, scripts)
}

/// The verdict from the target release, the kit's folder (`None`: absent) and the HANA gen/app
/// scripts found.
pub(super) fn judge_hana_genapp(
    target: Version,
    kit_dir: Option<&str>,
    scripts: &[String],
) -> Finding {
    let expected = "no SAP HANA gen/app based kit (HANA2-ARK) when upgrading to 9.5.0 or later";
    let mut found: Vec<String> = kit_dir.map(|d| d.to_string()).into_iter().collect();
    found.extend(scripts.iter().map(|s| format!("{GENAPP_BIN}/{s}")));
    if found.is_empty() {
        return Finding::pass(
            expected,
            "none",
            "no SAP HANA gen/app based kit on this node",
        );
    }
    let actual = format!("found: {}", found.join(", "));
    let details = json!({ "kit_dir": kit_dir, "scripts": scripts });
    if target < UNSUPPORTED_FROM {
        return Finding::pass(
            expected,
            actual,
            format!("the SAP HANA gen/app based kit is still supported by {target}; it must be converted before any upgrade to 9.5.0 or later"),
        )
        .details(details);
    }
    Finding::fail(
        expected,
        actual,
        format!(
            "the SAP HANA gen/app based kit ({}) is not supported from 9.5.0, so it cannot be upgraded to {target} (the vendor's 9.5 upgrading page)",
            found.join(", ")
        ),
    )
    .remedy("Before upgrading to 9.5 or later, convert the SAP HANA gen/app based kit (HANA2-ARK) to the built-in SAP HANA Recovery Kit, following the vendor's procedure, and remove the gen/app kit; then run the pre-flight again. If these files are not that kit, skip this check (skip: [LK-KIT-HANA-GENAPP]).")
    .details(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn no_kit_passes_whatever_the_target() {
        for t in ["9.4.3", "9.5.0", "9.6.1", "10.0"] {
            let f = judge_hana_genapp(v(t), None, &[]);
            assert_eq!(f.status, super::super::Status::Pass, "{t}");
        }
    }

    #[test]
    fn kit_folder_or_scripts_fail_an_upgrade_to_95_or_later_with_the_conversion_remedy() {
        let scripts = vec!["hana2-ark-restore".to_string()];
        for (dir, s) in [
            (Some("/opt/LifeKeeper/HANA2-ARK"), &[][..]),
            (None, &scripts[..]),
            (Some("/opt/LifeKeeper/HANA2-ARK"), &scripts[..]),
        ] {
            for t in ["9.5.0", "9.6.1", "10.0"] {
                let f = judge_hana_genapp(v(t), dir, s);
                assert_eq!(f.status, super::super::Status::Fail, "{t} {dir:?} {s:?}");
                let r = f.remedy.as_deref().unwrap();
                assert!(r.contains("built-in SAP HANA Recovery Kit"), "{r}");
                assert!(r.contains("skip: [LK-KIT-HANA-GENAPP]"), "{r}");
                assert!(f.msg.contains("not supported from 9.5.0"), "{}", f.msg);
            }
        }
        let f = judge_hana_genapp(v("9.6.1"), None, &scripts);
        assert!(
            f.actual
                .contains("lkadm/subsys/gen/app/bin/hana2-ark-restore"),
            "{}",
            f.actual
        );
    }

    #[test]
    fn below_95_the_kit_still_passes_and_says_what_is_coming() {
        let f = judge_hana_genapp(v("9.4.3"), Some("/opt/LifeKeeper/HANA2-ARK"), &[]);
        assert_eq!(f.status, super::super::Status::Pass);
        assert!(f.msg.contains("before any upgrade to 9.5.0"), "{}", f.msg);
    }

    #[test]
    fn gather_reads_the_kit_folder_and_only_hana_scripts() {
        let d = std::env::temp_dir().join(format!("lkops-hana-kit-{}", std::process::id()));
        let bin = d.join(GENAPP_BIN);
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("my-site-restore"), "").unwrap();
        assert_eq!(gather(&d), (None, vec![]));
        std::fs::write(bin.join("HANA2-ARK-remove"), "").unwrap();
        std::fs::create_dir_all(d.join(KIT_DIR)).unwrap();
        let (dir, scripts) = gather(&d);
        assert_eq!(dir, Some(d.join(KIT_DIR).display().to_string()));
        assert_eq!(scripts, vec!["HANA2-ARK-remove".to_string()]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
