{#- Before anything moves: the pre-flight passes, and the hierarchies in service here are recorded
    (lkops.hand_back puts exactly these back at the end). Read-only apart from the record. #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import lkops, lkops_common, state_args with context %}
lkops-preflight:
  lkops.preflight_passed:
    {{- state_args(dict(lkops.preflight, target_version=lkops.target_version, lkroot=lkops.lkroot)) }}
    {{- state_args(lkops_common) }}

lkops-placement:
  lkops.placement_recorded:
    - target_version: {{ lkops.target_version | json }}
    - lkroot: {{ lkops.lkroot | json }}
    {{- state_args(lkops_common) }}
    - require:
      - lkops: lkops-preflight
