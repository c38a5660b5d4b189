{#- `state.apply lkops`: install the binaries. The procedure itself is in lkops.prepare,
    lkops.node_upgrade and lkops.hand_back, run one node of each cluster at a time by
    `salt-run state.orch lkops.orch.rolling_upgrade`. #}
{%- set tplroot = tpldir.split("/")[0] %}
include:
  - {{ tplroot }}.install
