# Controller-side shim shared by every lkops module's action plugin (plugins/action/lk_*.py).
#
# Why it exists: Ansible never reads a binary module's sidecar documentation at run time. Without
# this shim a missing required option, an unknown option or a value outside `choices` travels to
# the node and is only refused there, and Ansible would run a module in check mode even if the
# module declared it cannot honour check mode. With it, the sidecar next to the binary
# (plugins/modules/lk_x.yml, generated from the module's own parameter declaration) is the
# argument spec: the task fails on the controller, before anything is copied to the node, and a
# module whose `attributes.check_mode.support` is `none` is skipped under --check.
#
# The task's arguments are passed to the binary unchanged: the binary validates and coerces them
# again by the same declaration, so this layer can only refuse earlier, never change meaning.
from __future__ import annotations

import os

import yaml

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

# Sidecar option keys the controller-side validator understands.
_SPEC_KEYS = ("type", "elements", "required", "choices", "no_log", "aliases")


def _module_dir():
    # plugin_utils/ and modules/ are siblings inside plugins/ of the installed collection.
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modules")


def load_sidecar(module):
    path = os.path.join(_module_dir(), module + ".yml")
    try:
        with open(path, "rb") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise AnsibleError("lkops: cannot read the documentation of %s (%s): %s" % (module, path, e))
    if not isinstance(doc, dict) or not isinstance(doc.get("DOCUMENTATION"), dict):
        raise AnsibleError("lkops: %s has no DOCUMENTATION mapping" % path)
    return doc["DOCUMENTATION"]


def argument_spec(documentation):
    spec = {}
    for name, opt in (documentation.get("options") or {}).items():
        entry = {k: opt[k] for k in _SPEC_KEYS if k in opt}
        # `path` would be expanded (~, $VARS) against the CONTROLLER's environment; the path is
        # meant for the node, so it is checked as a plain string and the binary resolves it.
        if entry.get("type") == "path":
            entry["type"] = "str"
        if entry.get("elements") == "path":
            entry["elements"] = "str"
        spec[name] = entry
    return spec


def check_mode_supported(documentation):
    support = ((documentation.get("attributes") or {}).get("check_mode") or {}).get("support", "none")
    return support in ("full", "partial")


class LkActionModule(ActionBase):
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        module = (self._task.resolved_action or self._task.action).split(".")[-1]
        documentation = load_sidecar(module)
        # ActionBase.run() raises AnsibleActionSkip in check mode when this is False.
        self._supports_check_mode = check_mode_supported(documentation)
        result = super().run(tmp, task_vars)
        del tmp

        # Raises AnsibleActionFail ("missing required arguments: src", "value of state must be
        # one of: ...", "Unsupported parameters ...") before the binary is copied anywhere.
        self.validate_argument_spec(argument_spec=argument_spec(documentation))

        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(
            result,
            self._execute_module(module_args=dict(self._task.args), task_vars=task_vars, wrap_async=wrap_async),
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
