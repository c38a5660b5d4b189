{#- Every lkops module on one node, in the order of the vendor procedure: pre-flight, hierarchies
    switched over to the other node, configuration backup, the upgrade, the defaults merge.
    Each step requires the previous one, so a failure stops the rest. Each module's arguments
    come from pillar lkops:<module> when given, else the defaults below.

    salt-call state.apply lkops.node_upgrade test=True   # all five in check mode: what would change
    salt-call state.apply lkops.node_upgrade -#}
{%- from "lkops/macros.jinja" import lk_state with context %}
{%- set bindir = salt['pillar.get']('lkops:bindir', '/usr/local/libexec/lkops') %}
{%- set backups = salt['pillar.get']('lkops:backup_dir', '/var/backups/lifekeeper') %}

{{ lk_state('lkops-preflight', 'lk_preflight',
            salt['pillar.get']('lkops:lk_preflight', {'target_version': '9.6.1'}), bindir) }}

{{ lk_state('lkops-switch-away', 'lk_resource',
            salt['pillar.get']('lkops:lk_resource', {'state': 'standby'}), bindir, 'lkops-preflight') }}

{{ lk_state('lkops-backup', 'lk_backup',
            salt['pillar.get']('lkops:lk_backup', {'dest': backups}), bindir, 'lkops-switch-away') }}

{{ lk_state('lkops-upgrade', 'lk_upgrade',
            salt['pillar.get']('lkops:lk_upgrade', {'version': '9.6.1', 'media': '/root/sps.img'}),
            bindir, 'lkops-backup') }}

{{ lk_state('lkops-defaults', 'lk_defaults_merge',
            salt['pillar.get']('lkops:lk_defaults_merge', {'src': backups ~ '/LifeKeeper.defaults.old'}),
            bindir, 'lkops-upgrade') }}
