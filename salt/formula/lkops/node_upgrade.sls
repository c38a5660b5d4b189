{#- One node, in the order of the vendor procedure: pre-flight and placement record (lkops.prepare),
    hierarchies switched over to a peer, a verified backup, the upgrade, the site's defaults merged,
    and a backup of the upgraded configuration. Each step requires the one before it.

    salt node-a state.apply lkops.node_upgrade test=True   # what would change, nothing changes
    Run it through `salt-run state.orch lkops.orch.rolling_upgrade`, which takes one node of each
    cluster at a time and hands the hierarchies back at the end. #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import lkops, lkops_common, state_args with context %}
{#- backup_dir (lk_backup; `dest` is its old alias) from lkops:backup_dir unless lkops:backup names it. #}
{%- set backup_args = dict(lkops.backup, lkroot=lkops.lkroot, defaults_file=lkops.defaults_file) %}
{%- if 'dest' not in lkops.backup and 'backup_dir' not in lkops.backup %}
{%-   do backup_args.update({'backup_dir': lkops.backup_dir}) %}
{%- endif %}
{#- lk_defaults_merge edits lkops:defaults_file unless lkops:defaults_merge names the file (defaults_file, or its old alias dest). #}
{%- set merge_file = {} if ('dest' in lkops.defaults_merge or 'defaults_file' in lkops.defaults_merge)
                     else {'defaults_file': lkops.defaults_file} %}
include:
  - {{ tplroot }}.prepare

lkops-standby:
  lkops.hierarchies_standby:
    - target_version: {{ lkops.target_version | json }}
    {#- The orchestration passes lk_plan's calls for this node; applied alone: the module's default. #}
    - calls: {{ salt['pillar.get']('lkops_plan:standby_calls', none) | json }}
    {{- state_args(dict(lkops.resource, lkroot=lkops.lkroot)) }}
    {{- state_args(lkops_common) }}
    - require:
      - lkops: lkops-placement

lkops-backup:
  lkops.backed_up:
    {{- state_args(backup_args) }}
    {{- state_args(lkops_common) }}
    - require:
      - lkops: lkops-standby

lkops-upgrade:
  lkops.upgraded:
    {{- state_args(dict(lkops.upgrade, version=lkops.target_version, lkroot=lkops.lkroot,
                        defaults_file=lkops.defaults_file)) }}
    {{- state_args(lkops_common) }}
    - require:
      - lkops: lkops-backup

{%- if lkops.defaults_merge.get('src') %}

lkops-defaults:
  lkops.defaults_merged:
    {{- state_args(dict(merge_file, **lkops.defaults_merge)) }}
    {{- state_args(lkops_common) }}
    - require:
      - lkops: lkops-upgrade
{%- endif %}

{#- A new backup whenever the upgrade changed something (mod_watch forces it), so the newest
    backup is the upgraded configuration. #}
lkops-backup-upgraded:
  lkops.backed_up:
    {{- state_args(backup_args) }}
    {{- state_args(lkops_common) }}
    - watch:
      - lkops: lkops-upgrade
{%- if lkops.defaults_merge.get('src') %}
    - require:
      - lkops: lkops-defaults
{%- endif %}
