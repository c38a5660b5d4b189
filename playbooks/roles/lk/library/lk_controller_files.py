#!/usr/bin/python
# The documentation of the lk_controller_files action (action_plugins/lk_controller_files.py does
# the work, in the controller's process). Like ansible.builtin.set_fact, it is an action with a
# module file for its documentation and argument spec only; the module itself never runs.
"""Documentation of the lk_controller_files action (lkops)."""
from __future__ import annotations

DOCUMENTATION = r"""
module: lk_controller_files
short_description: Write the lkops playbooks' files on the controller, atomically
description:
  - Writes each file atomically (a temporary file in the same directory, flushed, given its
    mode, renamed into place) inside Ansible's own process on the controller, creating missing
    parent directories (mode 0755). A file whose content and mode are already right is not
    touched.
  - Internal to the lkops playbooks (reports, summaries, the plan's controller copy); it never
    changes a node.
  - "In check mode nothing is written unless the task says C(check_mode: false)."
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Path on the controller (a relative one is relative to the working directory).
        type: str
        required: true
      content:
        description: The file's text.
        type: str
        required: true
      mode:
        description: Octal mode of the file.
        type: str
        default: "0644"
author:
  - lkops maintainers (@lkops)
"""

EXAMPLES = r"""
- name: Write the summary
  lk_controller_files:
    files:
      - path: /srv/lkops/report/summary.json
        content: "{{ summary | to_nice_json }}\n"
  check_mode: false
  changed_when: false
"""

RETURN = r"""
written:
  description: The paths written (those whose content or mode differed).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    """Never reached through Ansible: the action plugin of the same name does the work."""
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    path=dict(type="str", required=True),
                    content=dict(type="str", required=True),
                    mode=dict(type="str", default="0644"),
                ),
            ),
        ),
        supports_check_mode=True,
    )
    module.fail_json(msg="lk_controller_files runs as an action on the controller, not as a module")


if __name__ == "__main__":
    main()
