use super::*;
use crate::runtime::Choice;

fn st(lines: &[(&str, &str, &str, usize)], peers: &[(&str, &str)]) -> Status {
    let mut s = Status::default();
    let mut stack: Vec<String> = vec![];
    for (tag, state, backup, depth) in lines {
        stack.truncate(*depth);
        s.resources.push(Res {
            tag: tag.to_string(),
            id: String::new(),
            state: state.to_string(),
            prio: 1,
            primary: "node-a".into(),
            backup: (*backup != "------").then(|| backup.to_string()),
            parent: stack.last().cloned(),
            depth: *depth,
        });
        stack.push(tag.to_string());
    }
    for (m, state) in peers {
        s.comm_paths.push(status::CommPath {
            machine: m.to_string(),
            network: "TCP".into(),
            address: "a/b".into(),
            state: state.to_string(),
            prio: Some(1),
        });
    }
    s
}

fn params(state: &str) -> Params {
    Params {
        state: State::from_name(state).expect("a declared state"),
        tags: None,
        switch_to: None,
        bottom_up: false,
        wait: 0,
        lkroot: "/opt/LifeKeeper".into(),
        remote_lkroot: None,
        timeout: None,
        wait_for_mirror_sync: 0,
        mirror_status_cmd: None,
        mirror_tags: None,
        mirror_sync_target: None,
    }
}

fn view() -> View {
    let a = st(
        &[
            ("app", "ISP", "node-b", 0),
            ("fs", "ISP", "node-b", 1),
            ("ip", "OSU", "node-b", 0),
        ],
        &[("node-b", "ALIVE")],
    );
    let b = st(
        &[
            ("app", "OSU", "------", 0),
            ("fs", "OSU", "------", 1),
            ("ip", "ISP", "------", 0),
        ],
        &[("node-a", "ALIVE")],
    );
    View {
        me: Some("node-a".into()),
        local: a,
        peers: [("node-b".to_string(), Some(b))].into(),
    }
}

#[test]
fn placement_lines_name_every_node_and_odd_children() {
    let mut v = view();
    assert_eq!(
        placement(&v, &["app".into(), "ip".into()]),
        vec![
            "app: ISP on node-a, OSU on node-b",
            "ip: OSU on node-a, ISP on node-b"
        ]
    );
    v.local.resources[1].state = "OSF".into();
    v.peers.insert("node-c".into(), None);
    assert_eq!(
        placement(&v, &["app".into()]),
        vec!["app: ISP on node-a (fs OSF), OSU on node-b, unknown on node-c"]
    );
}

#[test]
fn standby_plans_a_remote_restore_on_the_backup_and_predicts_it() {
    let mut v = view();
    let roots = vec!["app".to_string(), "ip".to_string()];
    let (steps, w) = plan(&params("standby"), &v, &roots).unwrap();
    assert!(w.is_empty());
    assert_eq!(
        steps.iter().map(Step::json).collect::<Vec<_>>(),
        vec![json!({"tag": "app", "action": "restore", "node": "node-b"})]
    );
    // One word, the line the far side's shell runs: perform_action holding node-b's lkops
    // node lock (issue 28 O1; node_lock_remote tests the script itself).
    let d = steps[0].cmds[0].display();
    assert_eq!(
        d[..5],
        ["/opt/LifeKeeper/bin/lcdremexec", "-e", "-d", "node-b", "--"]
    );
    assert_eq!(d.len(), 6, "{d:?}");
    assert!(
        d[5].contains("flock -n 9 ||")
            && d[5]
                .ends_with("'/opt/LifeKeeper/bin/perform_action' '-t' 'app' '-a' 'restore' 9>&-"),
        "{}",
        d[5]
    );
    v.apply(&steps[0]);
    assert_eq!(
        placement(&v, &roots),
        vec![
            "app: OSU on node-a, ISP on node-b",
            "ip: OSU on node-a, ISP on node-b"
        ]
    );
    assert!(settled(&v, &roots, &steps));
}

#[test]
fn active_restores_here_and_switch_to_none_removes() {
    let v = view();
    let roots = vec!["app".to_string(), "ip".to_string()];
    let (steps, _) = plan(
        &Params {
            bottom_up: true,
            ..params("active")
        },
        &v,
        &roots,
    )
    .unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(
        steps[0].cmds[0].display(),
        vec![
            "/opt/LifeKeeper/bin/perform_action",
            "-b",
            "-t",
            "ip",
            "-a",
            "restore"
        ]
    );
    let (steps, _) = plan(
        &Params {
            switch_to: Some("none".into()),
            ..params("standby")
        },
        &v,
        &roots,
    )
    .unwrap();
    assert_eq!(
        steps[0].cmds[0].display(),
        vec![
            "/opt/LifeKeeper/bin/perform_action",
            "-t",
            "fs",
            "-a",
            "remove"
        ]
    );
    assert_eq!(steps.len(), 1);
}

#[test]
fn refuses_dead_target_self_target_and_unknown_target() {
    let mut v = view();
    v.local.comm_paths[0].state = "DEAD".into();
    v.peers.insert("node-b".into(), None);
    let e = plan(&params("standby"), &v, &["app".into()]).unwrap_err();
    assert!(e.msg.contains("DEAD"), "{}", e.msg);
    let e = plan(
        &Params {
            switch_to: Some("node-a".into()),
            ..params("standby")
        },
        &v,
        &["app".into()],
    )
    .unwrap_err();
    assert_eq!(e.data["invalid_parameter"], "switch_to");
    let e = plan(
        &Params {
            switch_to: Some("node-x".into()),
            ..params("standby")
        },
        &v,
        &["app".into()],
    )
    .unwrap_err();
    assert!(e.msg.contains("node-b"), "{}", e.msg);
}

/// Issue 28 W2: a failed (OSF) resource here refuses a switchover away before any step,
/// naming it; taking out of service only (switch_to=none) and active are not refused.
#[test]
fn w2_standby_with_a_failed_resource_here_is_refused_up_front() {
    let mut v = view();
    v.local.resources[1].state = "OSF".into();
    let roots = vec!["app".to_string(), "ip".to_string()];
    let e = plan(&params("standby"), &v, &roots).unwrap_err();
    assert!(
        e.msg.contains("fs (in the hierarchy app) is OSF") && e.msg.contains("Nothing was moved"),
        "{}",
        e.msg
    );
    assert_eq!(e.data["failed_resources"][0]["tag"], "fs");
    let none = Params {
        switch_to: Some("none".into()),
        ..params("standby")
    };
    assert!(plan(&none, &v, &roots).is_ok());
    assert!(plan(&params("active"), &v, &roots).is_ok());
    // Not managed (tags leave it out): not refused.
    assert!(plan(&params("standby"), &v, &["ip".to_string()]).is_ok());
}

#[test]
fn lowest_priority_node_defaults_to_primary_and_refuses_without_any_target() {
    let mut b = view().peers["node-b"].clone().unwrap();
    let r = b.resource("ip").unwrap().clone();
    assert_eq!(
        default_target(&r.primary, r.backup.as_deref(), "node-b").as_deref(),
        Some("node-a")
    );
    b.resources[2].primary = "node-b".into();
    let r = &b.resources[2];
    assert_eq!(
        default_target(&r.primary, r.backup.as_deref(), "node-b"),
        None
    );
}

#[test]
fn bad_input_names_the_parameter() {
    let e = validate(&Params {
        tags: Some(vec!["-x".into()]),
        ..params("active")
    })
    .unwrap_err();
    assert_eq!(e.data["invalid_parameter"], "tags");
    let e = validate(&Params {
        switch_to: Some("node-b".into()),
        ..params("active")
    })
    .unwrap_err();
    assert_eq!(e.data["invalid_parameter"], "switch_to");
    let e = validate(&Params {
        switch_to: Some("a\nb".into()),
        ..params("standby")
    })
    .unwrap_err();
    assert_eq!(e.data["invalid_parameter"], "switch_to");
    let e = validate(&Params {
        wait: -1,
        ..params("standby")
    })
    .unwrap_err();
    assert_eq!(e.data["invalid_parameter"], "wait");
    let v = view();
    let e = select_roots(
        &Params {
            tags: Some(vec!["fs".into()]),
            ..params("active")
        },
        &v.local,
    )
    .unwrap_err();
    assert!(e.msg.contains("\"app\""), "{}", e.msg);
    let e = select_roots(
        &Params {
            tags: Some(vec!["nope".into()]),
            ..params("active")
        },
        &v.local,
    )
    .unwrap_err();
    assert_eq!(e.data["invalid_parameter"], "tags");
}

/// What the rolling upgrade waits for after a node's upgrade (lk_node_steps `until`): LifeKeeper
/// running, a comm path at least, and every one ALIVE. A DEAD path, no path at all, or LifeKeeper
/// not answering is not it.
#[test]
fn comm_paths_alive_needs_lifekeeper_running_a_path_and_every_path_alive() {
    let alive = |running: bool, peers: &[(&str, &str)]| {
        let o = report::report(
            Outcome::new(false, ""),
            running,
            Some("node-a"),
            &st(&[], peers),
            &[],
        );
        o.data["comm_paths_alive"].clone()
    };
    assert_eq!(
        alive(true, &[("node-b", "ALIVE"), ("node-c", "ALIVE")]),
        json!(true)
    );
    assert_eq!(
        alive(true, &[("node-b", "ALIVE"), ("node-c", "DEAD")]),
        json!(false)
    );
    assert_eq!(alive(true, &[]), json!(false));
    assert_eq!(alive(false, &[("node-b", "ALIVE")]), json!(false));
}
