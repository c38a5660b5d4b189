{#- `state.apply lkops.clean`: remove what this formula installed on the minion, the binaries in
    lkops:bindir (install.sls) and the placement record the states keep in the minion's cache dir
    (lkops.placement_recorded). LifeKeeper, its configuration and the backups in
    lkops:backup_dir are left alone: they are the cluster's, not the formula's. Run it after the
    rolling upgrade has finished (the record is what lkops.hand_back puts back). #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import lkops with context %}
{%- for m in lkops.modules %}
lkops-clean-bin-{{ m }}:
  file.absent:
    - name: {{ lkops.bindir }}/{{ m }}
{%- endfor %}

lkops-clean-placement-record:
  file.absent:
    - name: {{ opts.cachedir }}/lkops/placement.json

{#- The directory too when it is the formula's own (named lkops, as the default is); a shared
    directory such as /usr/local/bin keeps everything else. #}
{%- if lkops.bindir.rstrip('/').split('/')[-1] == 'lkops' %}
lkops-clean-bindir:
  file.absent:
    - name: {{ lkops.bindir }}
    - require:
{%-   for m in lkops.modules %}
      - file: lkops-clean-bin-{{ m }}
{%-   endfor %}
{%- endif %}
