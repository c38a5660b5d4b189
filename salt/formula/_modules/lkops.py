"""
lkops execution module: runs the lkops binaries (lk_preflight, lk_resource, lk_backup, lk_upgrade,
lk_defaults_merge, lk_info, lk_plan) through their JSON-on-stdin contract; ``lkops.info``, a
read-only summary of the node; ``lkops.facts`` (lk_info) and ``lkops.plan`` (lk_plan), which the
orchestration (``_runners/lkops.py``) uses to plan the rolling upgrade with the same planner as
the Ansible role.

Synced to the minions with ``saltutil.sync_all`` from the ``_modules/`` directory of a file root.

Settings (minion config, grains or pillar, read with ``config.get``):

    lkops:
      bindir: /usr/local/libexec/lkops   # where install.sls put the binaries
      env: {}                            # extra environment for the binaries (e.g. PATH)
      lkroot: /opt/LifeKeeper
      target_version: 9.6.1

The contract (docs/distribution.md): ``lk_x [--check] [--diff] -`` reads one JSON object of module
arguments on stdin and prints one JSON object; exit code 0 is success, 1 a module failure (the JSON
says why), anything else a broken contract. No shell is involved: the argument vector is fixed and
the arguments only ever travel as JSON on stdin.
"""

import json
import os
import subprocess

from salt.exceptions import CommandExecutionError

__virtualname__ = "lkops"

MODULES = (
    "lk_preflight",
    "lk_resource",
    "lk_backup",
    "lk_upgrade",
    "lk_defaults_merge",
    "lk_info",
    "lk_plan",
)


def __virtual__():
    return __virtualname__


def _setting(key, default=None):
    return __salt__["config.get"]("lkops:" + key, default)


def run(module, args=None, test=False, diff=True, bindir=None, env=None, timeout=None):
    """
    Run one lkops module with ``args`` (a dict) on stdin and return its JSON result, with
    ``retcode`` added (0 success, 1 module failure).

    test
        Run it in check mode (``--check``): it reads, predicts and changes nothing.

    diff
        Ask for the before/after ``diff`` (``--diff``).

    bindir, env
        Default to the ``lkops:bindir`` and ``lkops:env`` settings.

    timeout
        Seconds the whole run may take (default: none; each module bounds its own commands).

    CLI Example:

    .. code-block:: bash

        salt node-a lkops.run lk_resource '{"state": "query"}'
    """
    if module not in MODULES:
        raise CommandExecutionError(
            "lkops.run: module must be one of {}, not {!r}".format(", ".join(MODULES), module)
        )
    if args is None:
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError as exc:
            raise CommandExecutionError("lkops.run: args is not JSON: {}".format(exc))
    if not isinstance(args, dict):
        raise CommandExecutionError("lkops.run: args must be a mapping, not {!r}".format(args))
    bindir = bindir or _setting("bindir", "/usr/local/libexec/lkops")
    exe = os.path.join(bindir, module)
    if not os.access(exe, os.X_OK):
        raise CommandExecutionError(
            "{} is not installed (apply lkops.install, or set lkops:bindir)".format(exe)
        )
    argv = [exe]
    if test:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    argv.append("-")
    child_env = dict(os.environ)
    for k, v in (env if env is not None else _setting("env", {}) or {}).items():
        child_env[str(k)] = str(v)
    try:
        proc = subprocess.run(
            argv,
            input=json.dumps(args).encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CommandExecutionError("{} did not finish within {} s".format(module, timeout))
    stdout = proc.stdout.decode("utf-8", "replace")
    try:
        result = json.loads(stdout)
    except ValueError:
        result = None
    if proc.returncode not in (0, 1) or not isinstance(result, dict):
        raise CommandExecutionError(
            "{} broke its contract (exit code {}): {}{}".format(
                module,
                proc.returncode,
                stdout.strip()[:2000],
                proc.stderr.decode("utf-8", "replace").strip()[-2000:],
            )
        )
    result["retcode"] = proc.returncode
    return result


def info(target_version=None, lkroot=None, bindir=None, env=None, **preflight_args):
    """
    What is on this node, read-only: the installed LifeKeeper version, whether it runs, the
    upgrade path to ``target_version``, this node's resources and comm paths and where each root
    hierarchy is in service. Runs ``lk_preflight`` and ``lk_resource`` (state query), both in
    check mode.

    Extra keyword arguments go to lk_preflight (e.g. ``required_packages``).

    CLI Example:

    .. code-block:: bash

        salt '*' lkops.info
        salt node-a lkops.info target_version=9.6.1
    """
    preflight_args = {k: v for k, v in preflight_args.items() if not k.startswith("__")}
    lkroot = lkroot or _setting("lkroot", "/opt/LifeKeeper")
    target = target_version or _setting("target_version", "9.6.1")
    pre = run(
        "lk_preflight",
        dict(preflight_args, target_version=target, lkroot=lkroot),
        test=True,
        diff=False,
        bindir=bindir,
        env=env,
    )
    res = run(
        "lk_resource",
        {"state": "query", "lkroot": lkroot},
        test=True,
        diff=False,
        bindir=bindir,
        env=env,
    )
    if res["retcode"] != 0:
        raise CommandExecutionError("lk_resource query failed: {}".format(res.get("msg")))
    resources = res.get("resources", [])
    return {
        "version": pre.get("installed_version"),
        "lifekeeper_running": res.get("lifekeeper_running"),
        "node": res.get("node"),
        "target_version": target,
        "upgrade_path": pre.get("upgrade_path"),
        "preflight_passed": pre["retcode"] == 0,
        "preflight_summary": pre.get("summary"),
        "resources": resources,
        "in_service": sorted(
            r["tag"] for r in resources if r.get("parent") is None and r.get("state") == "ISP"
        ),
        "comm_paths": res.get("comm_paths", []),
    }


def facts(lkroot=None, backup_dir=None, bindir=None, env=None, timeout=None):
    """
    What LifeKeeper on this node is and holds (lk_info, read-only): the facts the planner reads.
    Its JSON result as it is, with ``retcode``.

    CLI Example:

    .. code-block:: bash

        salt '*' lkops.facts
    """
    args = {"lkroot": lkroot or _setting("lkroot", "/opt/LifeKeeper")}
    if backup_dir or _setting("backup_dir"):
        args["backup_dir"] = backup_dir or _setting("backup_dir")
    return run("lk_info", args, test=True, diff=False, bindir=bindir, env=env, timeout=timeout)


def plan(facts, order, version=None, cluster="default", record=None, new_plan=False,
         switch_to=None, plan_dir=None, persist=False, test=False, bindir=None, env=None):
    """
    The rolling upgrade of a cluster planned by lk_plan (the planner the Ansible role uses) from
    every node's ``facts`` (lkops.facts results by minion id) and ``order`` (the upgrade order).
    With ``persist`` the plan is kept on this node (``plan_dir``, default ``lkops:backup_dir``)
    and a rerun resumes it; ``record`` is a recorded plan to take (the first node's). ``test``:
    check mode, nothing is written. Its JSON result as it is, with ``retcode`` (1: refused, with
    ``refused`` naming why).

    CLI Example:

    .. code-block:: bash

        salt-run lkops.plan cluster=sales    # the runner gathers the facts and calls this
    """
    args = {
        "facts": facts,
        "order": list(order),
        "version": version or _setting("target_version", "9.6.1"),
        "cluster": cluster,
        "new_plan": bool(new_plan),
        "persist": bool(persist),
        "plan_dir": plan_dir or _setting("backup_dir", "/var/backups/lifekeeper"),
    }
    if record:
        args["record"] = record
    if switch_to:
        args["switch_to"] = switch_to
    return run("lk_plan", args, test=test, diff=True, bindir=bindir, env=env)
