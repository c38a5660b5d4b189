{#- salt-run state.orch lkops.orch.rolling_upgrade

    Pillar lkops:clusters names each cluster's minions in upgrade order:

      lkops:
        clusters:
          sales: [sales-b, sales-a]
          hr: [hr-1, hr-2, hr-3]

    0. The plan of each cluster, from lk_plan (the planner the Ansible role uses: the waves, where
       each hierarchy goes while its node is upgraded, which hierarchies come home): every node's
       lk_info facts (lkops.facts) are gathered and lk_plan runs, read-only, on the cluster's
       first node. A cluster the planner refuses (a node that did not answer, a peer LifeKeeper
       lists that the pillar leaves out, LifeKeeper stopped) gets one failing step naming why,
       and nothing else: no node of it is touched.
    1. lkops.prepare on every node of the clusters planned (pre-flight, placement record); any
       failure stops everything.
    2. Wave k: lkops.node_upgrade on the k-th node of every cluster, one node at a time, its
       switchovers the plan's (pillar lkops_plan:standby_calls); a node's upgrade requires the
       previous node of its cluster, so a failure stops its cluster only.
    3. lkops.hand_back on every node of a cluster once all of them are upgraded: the hierarchies
       lkops.prepare recorded on each node come back (the record is kept per target version, so
       a rerun after a failure still knows the homes from before the first run). #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import lkops with context %}
{%- set clusters = lkops.clusters %}
{%- set planned = {} %}
{%- set refused = {} %}
{%- for name, nodes in clusters | dictsort %}
{%-   set got = salt['saltutil.cmd'](tgt=nodes, tgt_type='list', fun='lkops.facts', timeout=120) %}
{%-   set facts = {} %}
{%-   for n in nodes %}
{%-     set r = got.get(n, {}).get('ret') %}
{%-     if r is mapping and r.get('retcode') == 0 %}{%- do facts.update({n: r}) %}{%- endif %}
{%-   endfor %}
{%-   set asked = (nodes | select('in', facts) | list or nodes)[0] %}
{%-   set out = salt['saltutil.cmd'](tgt=asked, fun='lkops.plan', timeout=120,
                                     kwarg={'facts': facts, 'order': nodes, 'cluster': name,
                                            'version': lkops.target_version,
                                            'switch_to': lkops.resource.get('switch_to'),
                                            'plan_dir': lkops.backup_dir}).get(asked, {}).get('ret') %}
{%-   if out is mapping and out.get('retcode') == 0 %}
{%-     do planned.update({name: out.plan}) %}
{%-   else %}
{%-     do refused.update({name: (out.refused | map(attribute='reason') | join('; ')) if out is mapping and out.get('refused')
                               else (out.msg if out is mapping and out.get('msg') else 'no plan: ' ~ (out | string)[:500])}) %}
{%-   endif %}
{%- endfor %}
{%- set everyone = [] %}
{%- set waves = [0] %}
{%- for name, plan in planned | dictsort %}
{%-   do everyone.extend(plan.waves | map(attribute='node')) %}
{%-   do waves.append(plan.waves | length) %}
{%- endfor %}

{%- if not clusters %}
lkops-no-clusters:
  test.fail_without_changes:
    - name: "pillar lkops:clusters names no cluster: nothing to upgrade"
{%- endif %}

{%- for name, why in refused | dictsort %}

lkops-plan-{{ name }}:
  test.fail_without_changes:
    - name: {{ ("cluster " ~ name ~ " is not upgraded, nothing of it is touched: " ~ why) | json }}
{%- endfor %}

{%- if everyone %}

lkops-prepare:
  salt.state:
    - tgt: {{ everyone | join(',') }}
    - tgt_type: list
    - sls: {{ tplroot }}.prepare

{%-   for k in range(waves | max) %}
{%-     for name, plan in planned | dictsort if plan.waves | length > k %}
{%-       set node = plan.waves[k].node %}
{%-       set me = plan.nodes | selectattr('node', 'equalto', node) | first %}
{%-       set standby = me.upgrade_steps | selectattr('step', 'equalto', 'standby') | list %}

lkops-upgrade-{{ name }}-{{ k + 1 }}:
  salt.state:
    - tgt: {{ node }}
    - sls: {{ tplroot }}.node_upgrade
    - pillar:
        lkops_plan:
          standby_calls: {{ (standby[0].calls if standby else none) | json }}
    - require:
      - salt: {{ 'lkops-prepare' if k == 0 else 'lkops-upgrade-' ~ name ~ '-' ~ k }}
{%-     endfor %}
{%-   endfor %}

{%-   for name, plan in planned | dictsort %}

lkops-hand-back-{{ name }}:
  salt.state:
    - tgt: {{ plan.waves | map(attribute='node') | join(',') }}
    - tgt_type: list
    - sls: {{ tplroot }}.hand_back
    - require:
      - salt: lkops-upgrade-{{ name }}-{{ plan.waves | length }}
{%-   endfor %}
{%- endif %}
