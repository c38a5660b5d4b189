# lkops run record (issue 20): appends one JSON object per step to
# <lk_report_dir>/<cluster>/events.jsonl the moment the step's result comes back, so a killed run
# still leaves its record. A step is a task of an lkops module (lk_*) or a backup fetch; the
# controller's bookkeeping tasks are not steps. Loaded by Ansible from the directory next to the
# playbooks (adjacent plugin directory) without being enabled (CALLBACK_NEEDS_ENABLED = False).
#
# Each line: {"time", "started", "cluster", "node", "step", "module", "outcome", "run", "check_mode"}
# time/started: UTC ISO 8601 with milliseconds; outcome: ok | changed | failed | unreachable;
# run: when this ansible-playbook run started (the run report shows the lines of its own run).
from __future__ import annotations

import datetime
import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: lkops_events
type: aggregate
short_description: lkops append-only run event log (events.jsonl)
description: Appends one JSON line per lkops step to lk_report_dir/<cluster>/events.jsonl.
"""


def _iso(t):
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def _is_step(task):
    action = task.action or ""
    # lk_plan's summary (tasks/summary.yml) is the controller's bookkeeping, not a step of a
    # cluster: it runs on a node only because the modules are the nodes' binaries.
    if action.rsplit(".", 1)[-1] == "lk_plan" and "summary" in (task.args or {}):
        return False
    # The role's lk_node_steps action writes a line per module call it makes (the steps), as
    # each returns: the task itself is not one more step.
    if action.rsplit(".", 1)[-1] == "lk_node_steps":
        return False
    return action.startswith("lk_") or action.rsplit(".", 1)[-1] in ("fetch",)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lkops_events"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self.run = _iso(time.time())
        # The role's lk_node_steps action (run in the workers, forked after this) names its
        # lines with this run too.
        os.environ["LKOPS_EVENTS_RUN"] = self.run
        self.started = {}
        self.where = {}
        self.play = None
        self.check = False

    def v2_playbook_on_play_start(self, play):
        self.play = play
        try:
            from ansible import context

            self.check = bool(context.CLIARGS.get("check"))
        except Exception:  # noqa: BLE001 - a record must never break the run
            pass

    def _dest(self, host):
        """(cluster, events path) for a host, from its variables (inventory + -e), cached."""
        name = host.get_name()
        if name in self.where:
            return self.where[name]
        cluster, path = "default", None
        try:
            vm = self.play.get_variable_manager()
            from ansible.template import Templar

            hv = vm.get_vars(play=self.play, host=host, include_hostvars=False)
            templar = Templar(loader=self.play._loader, variables=hv)
            cluster = str(templar.template(hv.get("lk_cluster", "default")))
            rep = hv.get("lk_report_dir")
            if rep is None and "lk_output_dir" in hv:
                rep = str(templar.template(hv["lk_output_dir"])) + "/report"
            rep = str(templar.template(rep)) if rep is not None else None
        except Exception:  # noqa: BLE001
            rep = None
        if rep is None:
            rep = os.path.join(os.environ.get("HOME", "/tmp"), "lkops-out", "report")
        path = os.path.join(rep, cluster, "events.jsonl")
        self.where[name] = (cluster, path)
        return self.where[name]

    def v2_runner_on_start(self, host, task):
        if _is_step(task):
            self.started[(host.get_name(), task._uuid)] = time.time()

    def _record(self, result, outcome):
        task = result._task
        if not _is_step(task):
            return
        host = result._host
        t1 = time.time()
        t0 = self.started.pop((host.get_name(), task._uuid), t1)
        if outcome == "ok" and result._result.get("changed"):
            outcome = "changed"
        cluster, path = self._dest(host)
        ev = {
            "time": _iso(t1),
            "started": _iso(t0),
            "duration_s": round(t1 - t0, 3),
            "cluster": cluster,
            "node": host.get_name(),
            "step": task.get_name(),
            "module": task.action,
            "outcome": outcome,
            "run": self.run,
            "check_mode": self.check,
        }
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # One write() of one line on an O_APPEND descriptor: lines of parallel hosts never
            # interleave, and what was written stays written when the run is killed.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (json.dumps(ev, sort_keys=True) + "\n").encode())
            finally:
                os.close(fd)
        except OSError as e:
            self._display.warning("lkops_events: cannot append to %s: %s" % (path, e))

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
