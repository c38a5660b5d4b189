# One step of a node's rolling upgrade as ONE task: the lkops modules it calls (lk_resource
# standby, lk_upgrade, lk_preflight, lk_resource query ...) run on the node one after another, in
# the order the task lists them, each exactly as its own task would run it (its module file sent
# to the node, check mode, the play's environment). No Python is needed on the node: the modules
# are the lkops binaries.
#
# Why it exists (issue 26: tasks per node and the controller's CPU per node): every task costs the
# controller a worker process, templating, callbacks and a PLAY RECAP line per node, and a node's
# upgrade wave was 13 tasks (switchover, its record, a debug, the upgrade, a debug, the version
# read, an assert, the wait for ALIVE comm paths, the mirror wait, the record...). The decisions
# are not made here: which calls, with which arguments and targets, come from the plan (lk_plan,
# src/procedure/) through the role; this only carries them out and stops at the first that fails.
#
# Per call: `when` (false: not run), `each` (one call per item, the item's keys over `args`),
# `ignore_errors` (a failure is recorded in its result and the next call is made),
# `until` (result keys that must all be true, retried `retries` times `delay` seconds apart;
# `stop_if`: result keys that end the retries at once, failed), `expect` (result key -> value:
# anything else fails the step). `on_failure`: calls made after a failure (a read of what is
# installed now), their own failures ignored. Each call is one line of the run's event record
# (events.jsonl, as callback_plugins/lkops_events.py writes for a task), appended the moment it
# returns, so a killed run still leaves it.
"""Run the lkops module calls of one rolling-upgrade step on a node, in order (lkops)."""
from __future__ import annotations

import datetime
import json
import os
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

_ARGS = frozenset(("steps", "on_failure", "events", "track"))
_STEP_KEYS = frozenset(
    (
        "name", "module", "args", "each", "when", "register", "until", "stop_if", "retries", "delay",
        "expect", "predicted_change", "mirrors_as", "show_steps", "ignore_errors",
    )
)
_TRACK_KEYS = frozenset(("wave", "stage", "predicted"))
# What `calls` keeps of each call's result.
_CALL_KEYS = ("changed", "failed", "msg", "actions", "placement", "switchovers")


def _iso(t):
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def _keys(value, where):
    if value is None:
        return []
    if isinstance(value, string_types):
        return [value]
    if isinstance(value, list) and all(isinstance(v, string_types) for v in value):
        return list(value)
    raise AnsibleActionFail("%s: a result key or a list of them is required, got %r" % (where, value))


def _steps(value, where):
    if value is None:
        return []
    if not isinstance(value, list):
        raise AnsibleActionFail("%s: a list of calls is required" % where)
    out = []
    for i, s in enumerate(value):
        at = "%s[%d]" % (where, i)
        if not isinstance(s, dict):
            raise AnsibleActionFail("%s: a mapping with name, module and args is required" % at)
        unknown = sorted(set(s) - _STEP_KEYS)
        if unknown:
            raise AnsibleActionFail("%s: unsupported key(s): %s (supported: %s)" % (at, ", ".join(unknown), ", ".join(sorted(_STEP_KEYS))))
        module = s.get("module")
        if not isinstance(module, string_types) or not module.rsplit(".", 1)[-1].startswith("lk_"):
            raise AnsibleActionFail("%s.module: an lkops module (lk_*) is required, got %r" % (at, module))
        if not isinstance(s.get("name"), string_types) or not s.get("name"):
            raise AnsibleActionFail("%s.name: the call's name is required" % at)
        args = s.get("args") or {}
        each = s.get("each")
        if not isinstance(args, dict):
            raise AnsibleActionFail("%s.args: a mapping is required" % at)
        if each is not None and not (isinstance(each, list) and all(isinstance(e, dict) for e in each)):
            raise AnsibleActionFail("%s.each: a list of mappings is required" % at)
        expect = s.get("expect") or {}
        if not isinstance(expect, dict):
            raise AnsibleActionFail("%s.expect: a mapping of result key to value is required" % at)
        try:
            retries, delay = int(s.get("retries", 0)), float(s.get("delay", 0))
        except (TypeError, ValueError):
            raise AnsibleActionFail("%s: retries and delay must be numbers" % at) from None
        out.append(
            {
                "name": s["name"],
                "module": module,
                "args": args,
                "each": each,
                "when": _truth(s.get("when", True)),
                "register": s.get("register"),
                "until": _keys(s.get("until"), at + ".until"),
                "stop_if": _keys(s.get("stop_if"), at + ".stop_if"),
                "retries": max(retries, 0),
                "delay": max(delay, 0.0),
                "expect": expect,
                "predicted_change": _truth(s.get("predicted_change", False)),
                "mirrors_as": s.get("mirrors_as"),
                "show_steps": _truth(s.get("show_steps", False)),
                "ignore_errors": _truth(s.get("ignore_errors", False)),
            }
        )
    return out


def _say(line):
    """A line for the operator, on stderr: stdout belongs to the stdout callback (a JSON callback's
    document, which rehearse.yml and AWX-style consumers parse, must stay JSON)."""
    display.display(line, stderr=True)


def _truth(v):
    if isinstance(v, string_types):
        return v.strip().lower() in ("true", "yes", "1", "on")
    return bool(v)


def _track(value):
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - _TRACK_KEYS or "stage" not in value:
        raise AnsibleActionFail("track: a mapping with stage, wave and predicted (the plan's switchovers) is required")
    predicted = value.get("predicted") or []
    if not isinstance(predicted, list):
        raise AnsibleActionFail("track.predicted: a list of switchovers is required")
    try:
        wave = int(value.get("wave", 0))
    except (TypeError, ValueError):
        raise AnsibleActionFail("track.wave: a number is required") from None
    return {"wave": wave, "stage": str(value["stage"]), "predicted": predicted}


class ActionModule(ActionBase):
    """lk_node_steps: the lkops module calls of one step, in order, as one task."""

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self._task.args
        unknown = sorted(set(args) - _ARGS)
        if unknown:
            raise AnsibleActionFail("unsupported parameter(s): %s (supported: %s)" % (", ".join(unknown), ", ".join(sorted(_ARGS))))
        steps = _steps(args.get("steps"), "steps")
        after_failure = _steps(args.get("on_failure"), "on_failure")
        track = _track(args.get("track"))
        self._events = args.get("events")
        self._vars = task_vars or {}
        self._node = self._vars.get("inventory_hostname")
        self._check = bool(self._play_context.check_mode)
        omit = self._vars.get("omit")
        self._omit = omit if isinstance(omit, string_types) else None

        results, record, diffs, made, mirrors, done = {}, [], [], [], [], []
        changed, failure = False, None
        for step in steps:
            if not step["when"]:
                record.append({"name": step["name"], "module": step["module"], "skipped": True})
                # Check mode: a call not made because an earlier change was only predicted (the
                # module would see another cluster) counts as the real run's change would.
                changed = changed or (self._check and step["predicted_change"])
                if step["register"]:
                    results[step["register"]] = {"skipped": True, "changed": False}
                continue
            step_calls = [dict(step["args"], **item) for item in step["each"]] if step["each"] is not None else [step["args"]]
            outs = []
            for call in step_calls:
                out, why = self._call(step, call)
                outs.append(out)
                # Every call in order, in short: what it did (actions, placement, switchovers) for
                # a reader of the run's results (the rehearsal, src/procedure/rehearsal.rs).
                done.append(dict({k: out[k] for k in _CALL_KEYS if k in out}, action=step["module"], name=step["name"]))
                changed = changed or bool(out.get("changed"))
                if out.get("diff"):
                    diffs.extend(out["diff"] if isinstance(out["diff"], list) else [out["diff"]])
                made.extend(s for s in out.get("switchovers") or [] if isinstance(s, dict))
                if step["mirrors_as"] and track is not None:
                    mirrors.extend(
                        dict(m, node=self._node, stage=step["mirrors_as"], wave=track["wave"], check_mode=self._check)
                        for m in out.get("mirrors") or []
                        if isinstance(m, dict)
                    )
                if step["show_steps"]:
                    for line in ("%s: %s" % (s.get("name"), s.get("status")) for s in out.get("steps") or [] if isinstance(s, dict)):
                        _say("  %s: %s" % (self._node, line))
                record.append({"name": step["name"], "module": step["module"], "changed": bool(out.get("changed")), "failed": bool(why)})
                if why and not step["ignore_errors"]:
                    failure = (step["name"], why)
                    break
            if step["register"]:
                results[step["register"]] = {"results": outs, "changed": any(o.get("changed") for o in outs)} if step["each"] is not None else outs[0]
            if failure:
                break

        if failure:
            for step in after_failure:
                if step["when"]:
                    out, _why = self._call(step, step["args"])
                    if step["register"]:
                        results[step["register"]] = out

        result.update(changed=changed, results=results, steps=record, calls=done)
        if track is not None:
            # The switchovers of this step for the summary: in check mode the plan's (what the real
            # run will make), in a real run what lk_resource reported.
            extra = {"wave": track["wave"], "stage": track["stage"], "seq": track["wave"] + (100 if track["stage"] == "return" else 0)}
            moves = [dict(m, **extra) for m in (track["predicted"] if self._check else made) if isinstance(m, dict)]
            for m in moves:
                verb = "would switch" if self._check else "switched"
                _say(
                    "  %s: %s %s from %s to %s (wave %s, %s)"
                    % (self._node, verb, m.get("tag"), m.get("from") or "none", m.get("to") or "none", m["wave"], m["stage"])
                )
            result.update(moves=moves, mirror_waits=mirrors)
        if diffs:
            result["diff"] = diffs
        if failure:
            result.update(failed=True, failed_step=failure[0], msg="%s: %s" % failure)
        else:
            result["msg"] = "%d call(s) made" % sum(1 for r in record if not r.get("skipped"))
        return result

    def _call(self, step, call):
        """One module call (retried per `until`); returns (result, why it failed or None)."""
        module_args = {k: v for k, v in call.items() if v is not None and not (self._omit and v == self._omit)}
        attempts = step["retries"] + 1 if step["until"] else 1
        started = time.time()
        out, why = {}, None
        for attempt in range(attempts):
            out = self._execute_module(module_name=step["module"], module_args=module_args, task_vars=self._vars, wrap_async=False)
            why = None
            failed = bool(out.get("failed") or out.get("unreachable"))
            # As Ansible's until: a result that does not meet it (a failed one too) is tried
            # again, unless a stop_if key says it never will (a timed-out command).
            if step["until"] and (failed or not all(out.get(k) for k in step["until"])):
                stop = [k for k in step["stop_if"] if out.get(k)]
                if not stop and attempt + 1 < attempts:
                    time.sleep(step["delay"])
                    continue
                if not failed:
                    why = "not %s after %d attempt(s)%s" % (
                        " and ".join(step["until"]), attempt + 1, (" (%s)" % ", ".join(stop)) if stop else ""
                    )
                    if out.get("msg"):
                        why += ": " + str(out["msg"])
            if failed:
                why = out.get("msg") or "failed"
            if not why:
                for key, want in step["expect"].items():
                    if out.get(key) != want:
                        why = "%s is %s, expected %s" % (key.replace("_", " "), out.get(key), want)
                        break
            break
        self._event(step, started, out, why)
        return out, why

    def _event(self, step, started, out, why):
        """The call's line on the terminal and in the run's event record (events.jsonl)."""
        ended = time.time()
        outcome = "failed" if why else ("changed" if out.get("changed") else "ok")
        _say("  %s: %s: %s%s" % (self._node, step["name"], outcome, (" (%s)" % why) if why else ""))
        if not self._events:
            return
        ev = {
            "time": _iso(ended),
            "started": _iso(started),
            "duration_s": round(ended - started, 3),
            "cluster": str(self._vars.get("lk_cluster_name", "default")),
            "node": self._node,
            "step": step["name"],
            "module": step["module"],
            "outcome": outcome,
            # The run the callback named when ansible-playbook started (lkops_events.py).
            "run": os.environ.get("LKOPS_EVENTS_RUN", ""),
            "check_mode": self._check,
        }
        try:
            os.makedirs(os.path.dirname(self._events), exist_ok=True)
            # One write() of one line on an O_APPEND descriptor, as the callback writes.
            fd = os.open(self._events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (json.dumps(ev, sort_keys=True) + "\n").encode())
            finally:
                os.close(fd)
        except OSError as e:
            display.warning("lk_node_steps: cannot append to %s: %s" % (self._events, e))
