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

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

# Sidecar option keys the controller-side validator understands.
_SPEC_KEYS = ("type", "elements", "required", "choices", "aliases")
# `no_log` is not a documentation key, so the sidecar names its secret options in a comment line
# (written by the same renderer as the rest): `# lkops-no-log: license_files ...`.
_NO_LOG_MARK = "# lkops-no-log:"


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
    documentation = dict(doc["DOCUMENTATION"])
    with open(path, "rb") as f:
        head = f.read(4096).decode("utf-8", "replace").splitlines()
    documentation["_no_log"] = set(
        name for line in head if line.startswith(_NO_LOG_MARK) for name in line[len(_NO_LOG_MARK):].split()
    )
    return documentation


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
        if name in documentation.get("_no_log", ()):
            entry["no_log"] = True
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
        self._validate(spec, args)

        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(
            result,
            self._execute_module(module_args=args, task_vars=task_vars, wrap_async=wrap_async),
        )
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _validate(self, spec, args):
        """ActionBase.validate_argument_spec, minus what could leak a secret.

        The stock method attaches the task's arguments to the error, and ansible-core 2.19 prints
        them with the message; a no_log option's value would be shown. Here the message names
        the parameter only, with every no_log value masked.
        """
        validation = ArgumentSpecValidator(spec).validate(dict(args))
        errors = validation.errors.errors  # the list; the container itself is always truthy
        if errors:
            msg = validation.errors.msg
            if isinstance(errors[0], UnsupportedError):
                msg = "Unsupported parameters for (%s) module: %s" % (self._load_name, msg)
            raise AnsibleActionFail(remove_values(msg, validation._no_log_values))
