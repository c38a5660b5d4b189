#!/usr/bin/python
# The documentation of the lk_node_steps action (action_plugins/lk_node_steps.py does the work:
# it sends the lkops modules it calls to the node, one after another). Like
# ansible.builtin.set_fact, it is an action with a module file for its documentation and
# argument spec only; this module itself never runs.
"""Documentation of the lk_node_steps action (lkops)."""
from __future__ import annotations

DOCUMENTATION = r"""
module: lk_node_steps
short_description: Run the lkops module calls of one rolling-upgrade step on a node, in order
description:
  - Runs each listed lkops module (lk_*) on the node, in order, exactly as its own task would
    (check mode, the play's environment), and stops at the first call that fails. One task for
    what was a switchover, an upgrade and its verification (the lkops playbooks' tasks per node).
  - "It decides nothing: the calls, their arguments and targets come from the plan (lk_plan)."
  - Each call made is one line of the run's event record (I(events)) the moment it returns, and
    one line on the terminal.
  - Internal to the lkops playbooks.
options:
  steps:
    description: The calls, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The call's name (the event record, the failure message, C(failed_step)).
        type: str
        required: true
      module:
        description: An lkops module (lk_*).
        type: str
        required: true
      args:
        description: Its arguments (omitted ones are dropped).
        type: dict
        default: {}
      each:
        description: One call per item, the item's keys over I(args).
        type: list
        elements: dict
      when:
        description: False, the call is not made.
        type: bool
        default: true
      register:
        description: The key of its result in C(results) (with I(each), C(results) of every call).
        type: str
      until:
        description: Result keys that must all be true; the call is made again until they are.
        type: list
        elements: str
      stop_if:
        description: Result keys that end the retries of I(until) at once, failed.
        type: list
        elements: str
      retries:
        description: How many more calls I(until) may make.
        type: int
        default: 0
      delay:
        description: Seconds between them.
        type: float
        default: 0
      expect:
        description: Result key to value; any other value fails the step.
        type: dict
      predicted_change:
        description: In check mode, a call not made (I(when) false) counts as a change.
        type: bool
        default: false
      mirrors_as:
        description: The stage the C(mirrors) of its result are recorded under (C(mirror_waits)).
        type: str
      show_steps:
        description: Show the C(steps) of its result (name and status) on the terminal.
        type: bool
        default: false
      ignore_errors:
        description: A failure of this call is kept in its result and the next call is made.
        type: bool
        default: false
  on_failure:
    description: Calls made after a failure (same keys as I(steps)); their own failures are ignored.
    type: list
    elements: dict
  events:
    description: The run's event record (events.jsonl) a line per call is appended to.
    type: path
  track:
    description: >-
      Record the switchovers of the step (C(moves)): the C(switchovers) the calls report, or in
      check mode the plan's I(predicted) ones, each with I(wave) and I(stage).
    type: dict
author:
  - lkops maintainers (@lkops)
"""

EXAMPLES = r"""
- name: Switch over and upgrade this node
  lk_node_steps:
    steps:
      - name: Switch this node's hierarchies over to a peer (lk_resource standby)
        module: lk_resource
        args: {state: standby, tags: [ip-10.0.0.50]}
      - name: Upgrade LifeKeeper (lk_upgrade)
        module: lk_upgrade
        args: {version: 9.6.1, media: /srv/media/sps_961.img}
  register: step
"""

RETURN = r"""
results:
  description: The result of each registered call, by its I(register) key.
  returned: always
  type: dict
calls:
  description: >-
    Each call made, in order: its name, C(action) (the module) and of its result changed, failed,
    msg, actions, placement and switchovers.
  returned: always
  type: list
  elements: dict
steps:
  description: Each call, in order (name, module, changed, failed, skipped).
  returned: always
  type: list
  elements: dict
failed_step:
  description: The name of the call that failed.
  returned: failure
  type: str
moves:
  description: The step's switchovers (tag, from, to, wave, stage, seq and the times).
  returned: with track
  type: list
  elements: dict
mirror_waits:
  description: The DataKeeper mirror waits of the calls with I(mirrors_as).
  returned: with track
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    """Never reached through Ansible: the action plugin of the same name does the work."""
    step = dict(
        name=dict(type="str", required=True),
        module=dict(type="str", required=True),
        args=dict(type="dict", default={}),
        each=dict(type="list", elements="dict"),
        when=dict(type="bool", default=True),
        register=dict(type="str"),
        until=dict(type="list", elements="str"),
        stop_if=dict(type="list", elements="str"),
        retries=dict(type="int", default=0),
        delay=dict(type="float", default=0),
        expect=dict(type="dict"),
        predicted_change=dict(type="bool", default=False),
        mirrors_as=dict(type="str"),
        show_steps=dict(type="bool", default=False),
        ignore_errors=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=dict(
            steps=dict(type="list", elements="dict", required=True, options=step),
            # The same keys as a step (the action checks them).
            on_failure=dict(type="list", elements="dict"),
            events=dict(type="path"),
            track=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    module.fail_json(msg="lk_node_steps runs as an action on the controller, not as a module")


if __name__ == "__main__":
    main()
