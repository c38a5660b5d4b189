//! The rolling upgrade's shape and plan: static checks of the playbooks (no Ansible needed) and,
//! ignored by a plain `cargo test` (`make test` runs them), real ansible-playbook runs against
//! simulated clusters: the persisted plan, the exact fleet-wide dry run, limits and variables
//! refused up front, the controller killed mid-run, the rollback.

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `lk_max_waves: N` from the role defaults.
fn max_waves() -> usize {
    read("playbooks/roles/lk/defaults/main.yml")
        .lines()
        .find_map(|l| l.strip_prefix("lk_max_waves:"))
        .and_then(|v| v.split('#').next())
        .map(|v| v.trim().parse().expect("lk_max_waves is a number"))
        .expect("lk_max_waves in playbooks/roles/lk/defaults/main.yml")
}

/// The `lk_wave_play` values of the imports of `play` in rolling_upgrade.yml, in order.
fn wave_plays(playbook: &str, play: &str) -> Vec<usize> {
    let text = read(playbook);
    let lines: Vec<&str> = text.lines().collect();
    let mut waves = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == format!("ansible.builtin.import_playbook: {play}") {
            let wave = lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("- "))
                .find_map(|l| l.trim().strip_prefix("lk_wave_play:"))
                .unwrap_or_else(|| panic!("{playbook}: import of {play} without lk_wave_play"));
            waves.push(wave.trim().parse().unwrap());
        }
    }
    waves
}

/// groups.yml refuses clusters larger than lk_max_waves, so every wave up to it must have its
/// play: one missing would silently skip the last node of the largest clusters.
#[test]
fn rolling_upgrade_and_rollback_have_one_play_per_wave_up_to_lk_max_waves() {
    let n = max_waves();
    assert!(n >= 2, "lk_max_waves = {n}");
    let want: Vec<usize> = (1..=n).collect();
    for (playbook, play) in [
        ("playbooks/plays/upgrade_phase.yml", "upgrade_wave.yml"),
        ("playbooks/plays/upgrade_phase.yml", "return_wave.yml"),
        ("playbooks/rollback.yml", "plays/rollback_wave.yml"),
        ("playbooks/rollback.yml", "plays/return_wave.yml"),
    ] {
        assert_eq!(
            wave_plays(playbook, play),
            want,
            "{playbook} must import {play} once per wave 1..lk_max_waves ({n}), in order"
        );
    }
}

/// rolling_upgrade.yml runs the phase file twice, canary clusters first (lk_canary_clusters),
/// with the canary check between, and each phase passes its name to the wave plays; the run
/// lease is taken before anything and released before the summary (issue 28).
#[test]
fn rolling_upgrade_runs_the_canary_phase_its_check_then_the_other_clusters() {
    let text = read("playbooks/rolling_upgrade.yml");
    let imports: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ansible.builtin.import_playbook: "))
        .collect();
    assert_eq!(
        imports,
        [
            "plays/check_args.yml",
            "plays/lease.yml",
            "plays/prepare.yml",
            "plays/upgrade_phase.yml",
            "plays/canary_check.yml",
            "plays/upgrade_phase.yml",
            "plays/lease_release.yml",
            "plays/finish.yml"
        ]
    );
    let phases: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("lk_wave_phase: "))
        .collect();
    assert_eq!(phases, ["canary", "main"]);
    // Each wave play includes the role once, at run time (the step's task file): an empty wave
    // play loads nothing (import_role parsed it 32 times per run). The gate is the play's
    // variable (vars/gates.yml) and the pause a play of its own (pause_wave.yml): no task of
    // either runs on a node when the cluster goes on and no pause is set.
    for (play, tasks) in [
        ("upgrade_wave.yml", "upgrade_node"),
        ("return_wave.yml", "return_node"),
    ] {
        let t = read(&format!("playbooks/plays/{play}"));
        assert!(
            t.contains("groups['lk_' ~ lk_wave_phase ~ '_wave_'"),
            "{play} must take its hosts from the phase's wave group"
        );
        assert_eq!(
            t.matches("include_role:").count(),
            1,
            "{play} includes the role once"
        );
        assert!(
            !t.contains("import_role:"),
            "{play} must not import the role at parse time"
        );
        // Regression (Molecule, fresh clone): the include runs before the role's defaults are
        // loaded, so a play keyword naming a role default must give its own default; the
        // simulated inventories set lk_node_env, the container ones do not.
        assert!(
            t.contains("environment: \"{{ lk_node_env | default({}) }}\""),
            "{play}: environment must default lk_node_env (the role's default is not loaded yet)"
        );
        assert!(
            t.contains(&format!("tasks_from: {tasks}")),
            "{play} must include {tasks}"
        );
        assert!(
            t.contains("- ../vars/gates.yml") && t.contains("when: lk_gate_go | bool"),
            "{play}: the role is included only when the gate lets the node go on"
        );
        assert!(
            t.contains("import_playbook: pause_wave.yml") && t.contains("lk_pause_wanted:"),
            "{play}: the pause before the wave"
        );
    }
}

/// The role is `roles/lk`; `roles/lkops` paths in comments and docs send a newcomer nowhere.
#[test]
fn no_stale_roles_lkops_paths() {
    for f in [
        "playbooks/rolling_upgrade.yml",
        "playbooks/README.md",
        "molecule/README.md",
        "README.md",
    ] {
        assert!(!read(f).contains("roles/lkops"), "{f} names roles/lkops");
    }
}

/// Issue 21: the published role did nothing as a role. It is private to the playbooks now: its
/// entry point says so (ansible-doc), applying it refuses unless a playbook of ours says it is
/// the caller (`lk_role_caller`), and every playbook that applies it as a whole does say so.
/// (It keeps the name `lk`: ansible-lint production wants a role's variables prefixed with its
/// name, and the `lk_*` names are the interface.)
#[test]
fn the_role_is_private_to_the_playbooks_and_each_playbook_applying_it_names_itself() {
    let spec = read("playbooks/roles/lk/meta/argument_specs.yml");
    assert!(
        spec.contains("short_description: Private to the lkops playbooks"),
        "{spec}"
    );
    let main = read("playbooks/roles/lk/tasks/main.yml");
    assert!(
        main.contains("ansible.builtin.fail:")
            && main.contains("when: lk_role_caller is not defined"),
        "{main}"
    );
    let mut applying = Vec::new();
    for e in std::fs::read_dir(repo().join("playbooks"))
        .unwrap()
        .flatten()
    {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "yml") {
            continue;
        }
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.trim() == "- role: lk" {
                assert!(
                    lines[i + 1..]
                        .iter()
                        .take(3)
                        .any(|n| n.trim() == format!("lk_role_caller: {name}")),
                    "playbooks/{name}:{}: applies the role without lk_role_caller: {name}",
                    i + 1
                );
                applying.push(name.clone());
            }
        }
    }
    applying.sort();
    assert_eq!(applying, ["restore.yml", "support.yml", "switchover.yml"]);
}

/// Issue 26: the rolling upgrade's decisions are lk_plan's (src/procedure/). No file under
/// playbooks/ decides a switchover target, a wave, a prediction or a cluster's summary with a
/// template: the decision templates are gone and nothing names them; the templates left render
/// reports.
#[test]
fn the_decision_templates_are_gone_and_the_role_calls_lk_plan() {
    let templates = repo().join("playbooks/roles/lk/templates");
    for t in [
        "default_targets.j2",
        "standby_targets.j2",
        "standby_calls.j2",
        "moves_standby.j2",
        "moves_return.j2",
        "moves_done.j2",
        "moves_text.j2",
        "placement_now.j2",
        "plan_draft.j2",
        "plan_pick.j2",
        "summary.json.j2",
    ] {
        assert!(!templates.join(t).exists(), "{t} is back");
    }
    let mut files = vec![];
    let mut stack = vec![repo().join("playbooks")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "j2") {
                files.push(p);
            }
        }
    }
    for p in &files {
        let text = std::fs::read_to_string(p).unwrap();
        for word in [
            "default_targets.j2",
            "standby_targets.j2",
            "standby_calls.j2",
            "moves_standby.j2",
            "moves_return.j2",
            "moves_done.j2",
            "moves_text.j2",
            "placement_now.j2",
            "plan_pick.j2",
            "plan_draft.j2",
            "summary.json.j2",
            "lk_placement_start",
        ] {
            assert!(!text.contains(word), "{} still names {word}", p.display());
        }
    }
    let plan = read("playbooks/roles/lk/tasks/plan.yml");
    assert!(plan.contains("lk_plan:"), "plan.yml does not call lk_plan");
    // The node copy is written and read by lk_plan (no Python on the node), not copy/slurp.
    for p in &files {
        let text = std::fs::read_to_string(p).unwrap();
        for word in [
            "dest: \"{{ lk_plan_node_file }}\"",
            "src: \"{{ lk_plan_node_file }}\"",
        ] {
            assert!(!text.contains(word), "{}: {word}", p.display());
        }
    }
}

/// Issue 26: the summary (summary.json) is lk_plan's `summary` mode, run once on a node of the
/// run (the binaries are the nodes'; the controller may be another OS), with every variable the
/// summary reads carried in; the playbook decides nothing of it.
#[test]
fn the_summary_is_lk_plans_on_a_node_with_every_variable_it_reads() {
    let text = read("playbooks/roles/lk/tasks/summary.yml");
    let task = text
        .split("\n- name: ")
        .find(|t| t.contains("\n  lk_plan:\n    summary:\n"))
        .expect("summary.yml runs lk_plan with summary");
    // A node of the run (vars/main.yml lk_module_node): the play runs on the controller.
    assert!(
        task.contains("\n  delegate_to: \"{{ lk_module_node }}\"\n"),
        "the summary must run on a node, not the controller the play runs on: {task}"
    );
    let vars = read("playbooks/roles/lk/vars/main.yml");
    assert!(
        vars.contains(
            "lk_module_node: >-\n  {{ inventory_hostname if inventory_hostname in groups['lk_run']"
        ),
        "lk_module_node must be a node of the run"
    );
    // lk_tags_now and lk_running_now are read from each node's final query (lk_final) instead.
    assert!(
        task.contains("\n        lk_final: >-\n")
            && task.contains("out.append(hostvars[h].lk_finish.results.final | default(none))"),
        "summary.yml does not carry lk_final in: {task}"
    );
    for var in lkops::procedure::summary::VARS
        .into_iter()
        .filter(|v| !["lk_tags_now", "lk_running_now", "lk_final"].contains(v))
    {
        assert!(
            task.contains(&format!(
                "\n        {var}: \"{{{{ _hosts | map('extract', hostvars, '{var}') | map('default', none) | list }}}}\"\n"
            )),
            "summary.yml does not carry {var} in: {task}"
        );
    }
    assert!(
        !text.contains("lk_summary: \"{{ lookup("),
        "the summary is lk_plan's, not a lookup: {text}"
    );
}

/// The gates compare stages by `lk_stage_rank` (playbooks/vars/gates.yml), the summary by
/// `procedure::summary::STAGES`: the same order, or a cluster would pass a gate and be reported
/// unfinished (or the other way round).
#[test]
fn the_stage_order_of_the_gates_is_the_summarys() {
    let text = read("playbooks/vars/gates.yml");
    let mut ranks: Vec<(i64, String)> = text
        .lines()
        .skip_while(|l| *l != "lk_stage_rank:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let (k, v) = l.trim().split_once(':').expect("stage: rank");
            (v.trim().parse().expect("a rank is a number"), k.to_string())
        })
        .collect();
    ranks.sort();
    let order: Vec<String> = ranks.into_iter().map(|(_, k)| k).collect();
    assert_eq!(order, lkops::procedure::summary::STAGES);
}
