# Controller-side output of the lkops playbooks (reports, summaries, the plan's controller copy),
# written inside Ansible's own process: no module is sent anywhere and no interpreter is started.
#
# Why it exists (issue 26: the controller's CPU per node): each ansible.builtin.file, copy or
# template task on localhost starts a Python interpreter for its module (copy and template two:
# stat, then copy), about 0.3 CPU-seconds each. A two-node rolling upgrade started 24 of them, a
# third of the controller's CPU for the whole run. The files are the controller's own records,
# never a change to a cluster, so the tasks say changed_when: false and check_mode: false where
# a dry run must write them too (its readiness report and predicted summary).
#
# Each file is written atomically: a temporary file in the same directory, flushed to disk, given
# its mode, then renamed over the old one, so a reader (or a killed controller) never sees half a
# report. A file whose content and mode are already right is left untouched. Missing parent
# directories are created (0755).
"""Write controller-side files atomically, in the controller's process (lkops)."""
from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase

_ARGS = frozenset(("files",))
_FILE_KEYS = frozenset(("path", "content", "mode"))


def _mode(value, where):
    text = to_text(value if value is not None else "0644")
    try:
        mode = int(text, 8)
    except ValueError:
        raise AnsibleActionFail("%s.mode: %r is not an octal mode such as 0644" % (where, value)) from None
    if mode < 0 or mode > 0o7777:
        raise AnsibleActionFail("%s.mode: %r is not an octal mode such as 0644" % (where, value))
    return mode


def _entries(args):
    unknown = sorted(set(args) - _ARGS)
    if unknown:
        raise AnsibleActionFail("unsupported parameter(s): %s (supported: files)" % ", ".join(unknown))
    files = args.get("files")
    if not isinstance(files, list):
        raise AnsibleActionFail("files: a list of {path, content, mode} is required")
    out = []
    for i, f in enumerate(files):
        where = "files[%d]" % i
        if not isinstance(f, dict):
            raise AnsibleActionFail("%s: a mapping with path, content and mode is required" % where)
        unknown = sorted(set(f) - _FILE_KEYS)
        if unknown:
            raise AnsibleActionFail("%s: unsupported key(s): %s (supported: path, content, mode)" % (where, ", ".join(unknown)))
        path = f.get("path")
        if not isinstance(path, string_types) or not path:
            raise AnsibleActionFail("%s.path: a path is required, got %r" % (where, path))
        content = f.get("content")
        if not isinstance(content, string_types):
            raise AnsibleActionFail("%s.content: a string is required (the file's text)" % where)
        # A relative path is the controller's working directory's, as for a copy task on localhost.
        out.append((os.path.abspath(path), to_bytes(content, errors="surrogate_or_strict"), _mode(f.get("mode"), where)))
    return out


def _up_to_date(path, data, mode):
    try:
        st = os.stat(path)
        if st.st_size != len(data) or (st.st_mode & 0o7777) != mode:
            return False
        with open(path, "rb") as fh:
            return fh.read() == data
    except OSError:
        return False


def _write(path, data, mode):
    parent = os.path.dirname(path)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class ActionModule(ActionBase):
    """lk_controller_files: write files on the controller, atomically, in-process."""

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        entries = _entries(self._task.args)
        stale = [(p, d, m) for p, d, m in entries if not _up_to_date(p, d, m)]
        result["written"] = [p for p, _d, _m in stale]
        result["changed"] = bool(stale)
        if self._play_context.check_mode:
            result["msg"] = "would write %d of %d file(s)" % (len(stale), len(entries))
            return result
        for path, data, mode in stale:
            try:
                _write(path, data, mode)
            except OSError as e:
                raise AnsibleActionFail("cannot write %s: %s" % (path, e)) from e
        result["msg"] = "wrote %d of %d file(s)" % (len(stale), len(entries))
        return result
