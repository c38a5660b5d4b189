{#- The lkops binaries, each checked against SHA256SUMS (source_hash) before it is installed. #}
{%- set tplroot = tpldir.split("/")[0] %}
{%- from tplroot ~ "/map.jinja" import lkops with context %}
{%- for m in lkops.modules %}
lkops-bin-{{ m }}:
  file.managed:
    - name: {{ lkops.bindir }}/{{ m }}
    - source: {{ lkops.source }}/{{ m }}
    - source_hash: {{ lkops.source_hash }}
    - mode: '0755'
    - makedirs: True
{%- endfor %}
