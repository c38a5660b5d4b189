# Bench-only Ansible callback (enabled by bench/run, never by the project's ansible.cfg): records
# when each task started and when each host's result came back, and writes them as JSON to
# $LKBENCH_TASKLOG at the end of the run, so bench/run can say which tasks the wall time went to.
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: lkbench_timer
type: aggregate
short_description: per-task timing for lkops benchmarks
description: Writes task start times and per-host result times to $LKBENCH_TASKLOG.
requirements: [enable in ANSIBLE_CALLBACKS_ENABLED]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lkbench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.t0 = time.time()
        self.tasks = []
        self.cur = None

    def _task(self, task):
        self.cur = {"name": task.get_name(), "action": task.action, "start": time.time(),
                    "hosts": {}}
        self.tasks.append(self.cur)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task)

    def v2_runner_on_start(self, host, task):
        if self.cur is not None:
            self.cur["hosts"].setdefault(host.get_name(), {})["start"] = time.time()

    def _done(self, result, status):
        if self.cur is not None:
            h = self.cur["hosts"].setdefault(result._host.get_name(), {})
            h["end"] = time.time()
            h["status"] = status

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._done(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("LKBENCH_TASKLOG")
        if path:
            with open(path, "w") as f:
                json.dump({"start": self.t0, "end": time.time(), "tasks": self.tasks}, f)
