{#- salt-run state.orch lkops.orch.rolling_upgrade

    Pillar lkops:clusters names each cluster's minions in upgrade order:

      lkops:
        clusters:
          sales: [sales-b, sales-a]
          hr: [hr-1, hr-2, hr-3]

    1. lkops.prepare on every node (pre-flight, placement record); any failure stops everything.
    2. Wave k: lkops.node_upgrade on the k-th node of every cluster, one node at a time; a node's
       upgrade requires the previous node of its cluster, so a failure stops its cluster only.
    3. lkops.hand_back on every node of a cluster once all of them are upgraded. #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import lkops with context %}
{%- set clusters = lkops.clusters %}
{%- set everyone = [] %}
{%- set waves = [0] %}
{%- for name, nodes in clusters | dictsort %}
{%-   do everyone.extend(nodes) %}
{%-   do waves.append(nodes | length) %}
{%- endfor %}

{%- if not everyone %}
lkops-no-clusters:
  test.fail_without_changes:
    - name: "pillar lkops:clusters names no cluster: nothing to upgrade"
{%- else %}

lkops-prepare:
  salt.state:
    - tgt: {{ everyone | join(',') }}
    - tgt_type: list
    - sls: {{ tplroot }}.prepare

{%- for k in range(waves | max) %}
{%-   for name, nodes in clusters | dictsort if nodes | length > k %}

lkops-upgrade-{{ name }}-{{ k + 1 }}:
  salt.state:
    - tgt: {{ nodes[k] }}
    - sls: {{ tplroot }}.node_upgrade
    - require:
      - salt: {{ 'lkops-prepare' if k == 0 else 'lkops-upgrade-' ~ name ~ '-' ~ k }}
{%-   endfor %}
{%- endfor %}

{%- for name, nodes in clusters | dictsort %}

lkops-hand-back-{{ name }}:
  salt.state:
    - tgt: {{ nodes | join(',') }}
    - tgt_type: list
    - sls: {{ tplroot }}.hand_back
    - require:
      - salt: lkops-upgrade-{{ name }}-{{ nodes | length }}
{%- endfor %}
{%- endif %}
