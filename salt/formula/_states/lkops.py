"""
lkops states: the LifeKeeper upgrade procedure as Salt states, wrapping the lkops binaries through
the ``lkops`` execution module (``_modules/lkops.py``, JSON on stdin).

Every state runs its module once; under ``test=True`` it runs it in check mode, so the prediction
is the module's own (result ``None`` when something would change). ``changes`` holds only what
changed: the module's before/after diff as a unified diff (``changes: {diff: ...}``), or nothing.

    lkops.preflight_passed      lk_preflight: every pre-flight check passes (read-only)
    lkops.placement_recorded    which root hierarchies are in service here before the upgrade
    lkops.hierarchies_standby   lk_resource state=standby: they are served by a peer
    lkops.backed_up             lk_backup state=present: a verified backup of this node exists
    lkops.upgraded              lk_upgrade: LifeKeeper is at ``version``
    lkops.defaults_merged       lk_defaults_merge: the site's defaults are in the new file
    lkops.hierarchies_returned  lk_resource state=active for the recorded hierarchies

Common arguments: ``bindir`` and ``env`` (default: the ``lkops:bindir`` / ``lkops:env``
settings) and ``timeout`` (seconds for the whole module run). Every other keyword argument is a
module argument and goes to the module as it is, so the module's own validation (unknown
parameters, bad choices) applies.
"""

import difflib
import json
import os

__virtualname__ = "lkops"

# Keyword arguments that belong to the state, not to the module.
_OWN = ("bindir", "env", "timeout")


def __virtual__():
    if "lkops.run" not in __salt__:
        return (False, "the lkops execution module is not synced (saltutil.sync_all)")
    return __virtualname__


def _split(kwargs):
    own = {k: kwargs.pop(k) for k in _OWN if k in kwargs}
    args = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    return own, args


def _unified(d):
    before, after = d.get("before", ""), d.get("after", "")
    if not isinstance(before, str) or not isinstance(after, str):
        before = json.dumps(before, indent=2, sort_keys=True) + "\n"
        after = json.dumps(after, indent=2, sort_keys=True) + "\n"
    return "".join(
        difflib.unified_diff(
            before.splitlines(True),
            after.splitlines(True),
            d.get("before_header", "before"),
            d.get("after_header", "after"),
        )
    )


def _changes(result):
    """What changed, as Salt shows it: the module's diff (one or several) as one unified diff."""
    if not result.get("changed"):
        return {}
    diff = result.get("diff")
    parts = diff if isinstance(diff, list) else [diff] if isinstance(diff, dict) else []
    text = "".join(_unified(d) for d in parts)
    # A change the module describes without a diff still has to show as a change.
    return {"diff": text} if text else {"summary": result.get("comment") or result.get("msg")}


def _state(name, module, args, own, test=None, comment_prefix=""):
    """Run `module`, and turn its JSON result into a state return."""
    test = __opts__["test"] if test is None else test
    result = __salt__["lkops.run"](module, args, test=test, **own)
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    ret["comment"] = comment_prefix + (result.get("comment") or result.get("msg") or "")
    if result["retcode"] != 0 or result.get("failed"):
        ret["result"] = False
        return ret, result
    ret["changes"] = _changes(result)
    if test and ret["changes"]:
        ret["result"] = None
    return ret, result


def preflight_passed(name, **kwargs):
    """
    Every lk_preflight check passes on this node. Read-only: it never changes anything, so it
    reports no changes in either mode; a failed check fails the state.

    .. code-block:: yaml

        lkops-preflight:
          lkops.preflight_passed:
            - target_version: 9.6.1
    """
    own, args = _split(kwargs)
    # Always in check mode: it only reads, and a pre-flight passes or fails, it never "would".
    ret, _ = _state(name, "lk_preflight", args, own, test=True)
    ret["changes"] = {}
    if ret["result"] is None:
        ret["result"] = True
    return ret


# ---- placement: where the hierarchies are served before the upgrade -----------------------------


def _record_path():
    return os.path.join(__opts__["cachedir"], "lkops", "placement.json")


def _read_record():
    try:
        with open(_record_path()) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def placement_recorded(name, target_version, lkroot=None, **kwargs):
    """
    The root hierarchies in service on this node, recorded once per ``target_version`` in the
    minion's cache dir (``<cachedir>/lkops/placement.json``), before anything is switched over:
    ``lkops.hierarchies_returned`` brings exactly these back here at the end of the rolling
    upgrade. A record for the same target version is kept as it is (a rerun, or a run resumed
    after a failure, must not record the switched-over placement as the home one).
    """
    own, _ = _split(kwargs)
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    rec = _read_record()
    if rec is not None and rec.get("target_version") == target_version:
        ret["comment"] = "placement before the upgrade to {} already recorded: {}".format(
            target_version, ", ".join(rec["home"]) or "no hierarchy in service here"
        )
        return ret
    status = __salt__["lkops.run"](
        "lk_resource",
        {"state": "query", "lkroot": lkroot or __salt__["config.get"]("lkops:lkroot", "/opt/LifeKeeper")},
        test=True,
        diff=False,
        **own
    )
    if status["retcode"] != 0:
        ret["result"] = False
        ret["comment"] = "lk_resource query: " + (status.get("msg") or "failed")
        return ret
    home = sorted(
        r["tag"]
        for r in status.get("resources", [])
        if r.get("parent") is None and r.get("state") == "ISP"
    )
    new = {"target_version": target_version, "home": home}
    ret["changes"] = {"placement": {"old": rec, "new": new}}
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = "would record {}".format(", ".join(home) or "no hierarchy in service here")
        return ret
    path = _record_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(new, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    ret["comment"] = "recorded {}".format(", ".join(home) or "no hierarchy in service here")
    return ret


def hierarchies_standby(name, target_version=None, calls=None, **kwargs):
    """
    No hierarchy is in service on this node: lk_resource ``state: standby`` switches them over to
    a peer (``switch_to``, default each hierarchy's BACKUP node). With ``target_version``, a node
    already at that version is left alone (it is not upgraded, so its hierarchies stay where they
    are), as the Ansible role does.

    ``calls``: the lk_resource standby calls lk_plan decided for this node (the orchestration
    passes them as pillar ``lkops_plan:standby_calls``): each ``{tags, switch_to}``, made in
    order, so a hierarchy goes where the planner sends it (an upgraded peer in a cluster of three
    or more). An empty list: the plan moves nothing off this node.
    """
    own, args = _split(kwargs)
    if calls is not None:
        return _standby_calls(name, calls, own, args)
    if target_version is not None:
        info = __salt__["lkops.info"](
            target_version=target_version,
            lkroot=args.get("lkroot"),
            bindir=own.get("bindir"),
            env=own.get("env"),
        )
        if info["version"] == target_version:
            return {
                "name": name,
                "changes": {},
                "result": True,
                "comment": "LifeKeeper is already at {}: not upgraded, so its hierarchies stay "
                "where they are".format(target_version),
            }
    args["state"] = "standby"
    ret, _ = _state(name, "lk_resource", args, own)
    return ret


def _standby_calls(name, calls, own, args):
    """The planned standby calls, in order; the first that fails stops the rest."""
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if not calls:
        ret["comment"] = "the plan moves no hierarchy off this node"
        return ret
    comments, diffs = [], []
    for call in calls:
        one = dict(args, state="standby")
        for key in ("tags", "switch_to"):
            if call.get(key):
                one[key] = call[key]
        r, _ = _state(name, "lk_resource", one, own)
        comments.append(r["comment"])
        if r["changes"]:
            diffs.append(r["changes"].get("diff") or r["changes"].get("summary") or "")
        if r["result"] is False:
            ret["result"] = False
            break
        if r["result"] is None:
            ret["result"] = None
    ret["comment"] = "; ".join(c for c in comments if c)
    if diffs:
        ret["changes"] = {"diff": "".join(diffs)}
    return ret


def hierarchies_returned(name, lkroot=None, **kwargs):
    """
    The hierarchies ``lkops.placement_recorded`` found in service here are in service here again
    (lk_resource ``state: active`` with those tags). Nothing recorded, or nothing was in service
    here: nothing to do.
    """
    own, args = _split(kwargs)
    rec = _read_record()
    if not rec or not rec.get("home"):
        return {
            "name": name,
            "changes": {},
            "result": True,
            "comment": "no hierarchy was in service here before the upgrade: nothing to hand back"
            if rec
            else "no placement recorded (lkops.placement_recorded): nothing to hand back",
        }
    args.update(state="active", tags=rec["home"])
    if lkroot:
        args["lkroot"] = lkroot
    ret, _ = _state(name, "lk_resource", args, own)
    return ret


def backed_up(name, backup_dir=None, **kwargs):
    """
    A verified configuration backup of this node in ``backup_dir`` (lk_backup ``state: present``;
    the old name ``dest`` is an alias, as for the module): a new one is taken only when the
    configuration changed since the newest one. Under ``watch``, a change in the watched state
    takes a new backup anyway (see ``mod_watch``).
    """
    own, args = _split(kwargs)
    if backup_dir is not None:
        # Given with its alias too, the module refuses it, naming both.
        args["backup_dir"] = backup_dir
    args["state"] = "present"
    ret, _ = _state(name, "lk_backup", args, own)
    return ret


def upgraded(name, version, **kwargs):
    """
    LifeKeeper is at ``version`` on this node (lk_upgrade: direct, stepwise or reinstall, resumed
    from its journal after a failure).

    Under ``test=True`` the switchover of ``lkops.hierarchies_standby`` was only predicted, so
    the hierarchies are still in service here and lk_upgrade's standby guard would refuse to show
    the plan: as the Ansible role does, check mode runs it with ``require_standby: false`` (the
    real run keeps the guard). The prediction says so in its comment.
    """
    own, args = _split(kwargs)
    args["version"] = version
    prefix = ""
    if __opts__["test"] and args.get("require_standby", True):
        args["require_standby"] = False
        prefix = "(the hierarchies are assumed switched over, as predicted) "
    ret, result = _state(name, "lk_upgrade", args, own, comment_prefix=prefix)
    if result.get("steps") and ret["result"] is not False:
        ret["comment"] += "\n" + "\n".join(
            "{}: {}".format(s["name"], s["status"]) for s in result["steps"]
        )
    return ret


def defaults_merged(name, src, **kwargs):
    """
    The site's parameters from ``src`` (the saved old /etc/default/LifeKeeper) are in the new
    release's defaults file (lk_defaults_merge ``defaults_file``, alias ``dest``; default
    /etc/default/LifeKeeper).
    """
    own, args = _split(kwargs)
    args["src"] = src
    ret, _ = _state(name, "lk_defaults_merge", args, own)
    return ret


def mod_watch(name, sfun=None, **kwargs):
    """
    Salt calls this when a watched state changed and the state itself changed nothing.

    - ``backed_up``: takes a new backup anyway (``force: true``), so a backup watching
      ``lkops.upgraded`` records the upgraded configuration.
    - ``preflight_passed``: runs the checks again.
    - every other state is a desired state that has just been checked: nothing more to do.
    """
    if sfun == "backed_up":
        kwargs["force"] = True
        return backed_up(name, **kwargs)
    if sfun == "preflight_passed":
        return preflight_passed(name, **kwargs)
    return {
        "name": name,
        "changes": {},
        "result": True,
        "comment": "lkops.{} has nothing more to do when a watched state changes".format(sfun),
    }
