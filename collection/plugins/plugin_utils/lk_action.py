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
# The one exception is module_defaults for the action group (group/lkops.lifekeeper.lifekeeper):
# an option set there for the whole group reaches every module in it, also those that do not
# have it (lk_defaults_merge has no lkroot); such an option is left out for that module instead of
# failing it. The same option misspelt or unknown on the task itself is still refused.
"""Controller-side argument check shared by the lkops action plugins (plugins/action/lk_*.py)."""
from __future__ import annotations

import os

import yaml

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

# Sidecar option keys the controller-side validator understands.
_SPEC_KEYS = ("type", "elements", "required", "choices", "no_log", "aliases")


# The names the group has in module_defaults: by FQCN, or short inside the collection's own
# playbooks.
_GROUP_KEYS = ("group/lkops.lifekeeper.lifekeeper", "group/lifekeeper")


def _module_dir():
    # plugin_utils/ and modules/ are siblings inside plugins/ of the installed collection.
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modules")


def load_sidecar(module):
    """The DOCUMENTATION mapping of a module's sidecar (plugins/modules/<module>.yml)."""
    path = os.path.join(_module_dir(), module + ".yml")
    try:
        with open(path, "rb") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise AnsibleError("lkops: cannot read the documentation of %s (%s): %s" % (module, path, e)) from e
    if not isinstance(doc, dict) or not isinstance(doc.get("DOCUMENTATION"), dict):
        raise AnsibleError("lkops: %s has no DOCUMENTATION mapping" % path)
    return doc["DOCUMENTATION"]


def argument_spec(documentation):
    """Ansible's argument spec from the sidecar's options."""
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
    """Whether the module declares check-mode support (full or partial)."""
    support = ((documentation.get("attributes") or {}).get("check_mode") or {}).get("support", "none")
    return support in ("full", "partial")


def group_default_names(module_defaults):
    """Option names that module_defaults sets for the lkops action group."""
    names = set()
    for entry in module_defaults or []:
        if isinstance(entry, dict):
            for key in _GROUP_KEYS:
                if isinstance(entry.get(key), dict):
                    names.update(entry[key])
    return names


class LkActionModule(ActionBase):
    """Validates a task against its module's sidecar, then runs the binary module."""

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
        spec = argument_spec(documentation)
        args = dict(self._task.args)
        known = set(spec).union(*(opt.get("aliases") or () for opt in spec.values()))
        for name in group_default_names(self._task.module_defaults) - known:
            args.pop(name, None)
        self._task.args = args
        self.validate_argument_spec(argument_spec=spec)

        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(
            result,
            self._execute_module(module_args=args, task_vars=task_vars, wrap_async=wrap_async),
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
