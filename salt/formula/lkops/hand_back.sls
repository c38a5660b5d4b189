{#- After every node of the cluster is upgraded: the hierarchies lkops.prepare recorded on this node
    are in service here again. #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import lkops, lkops_common, state_args with context %}
lkops-hand-back:
  lkops.hierarchies_returned:
    {{- state_args(dict(lkops.resource, lkroot=lkops.lkroot)) }}
    {{- state_args(lkops_common) }}
