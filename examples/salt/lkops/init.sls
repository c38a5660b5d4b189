{#- Run lkops modules listed in pillar, in order:

      lkops:
        bindir: /usr/local/libexec/lkops      # where the lk_* binaries are installed
        run:
          - id: lifekeeper-defaults
            module: lk_defaults_merge
            args: {src: /var/backups/lifekeeper/LifeKeeper.old}

    salt-call state.apply lkops             # real run
    salt-call state.apply lkops test=True   # each module in check mode -#}
{%- from "lkops/macros.jinja" import lk_state with context %}
{%- set bindir = salt['pillar.get']('lkops:bindir', '/usr/local/libexec/lkops') %}
{%- set previous = namespace(id=none) %}
{%- for task in salt['pillar.get']('lkops:run', []) %}
{{ lk_state(task.id, task.module, task.get('args', {}), bindir, previous.id) }}
{%- set previous.id = task.id %}
{%- endfor %}
