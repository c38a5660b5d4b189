#!/usr/bin/env bash
# Run one lkops module from any script or scheduler: JSON arguments in on stdin, one JSON object
# out on stdout, the exit code says success or failure. Needs jq (to read the result).
#
#   examples/runner.sh [--check] [--diff] MODULE ARGS_JSON
#   examples/runner.sh --check --diff /usr/local/libexec/lkops/lk_defaults_merge \
#       '{"src": "/var/backups/lifekeeper/LifeKeeper.old"}'
#
# Prints `changed: <msg>`, `ok: <msg>` or `failed: <msg>` (plus the diff with --diff, warnings
# on stderr) and exits
#   0  the module succeeded (changed or not; in check mode: what a real run would do)
#   1  the module failed: it said so ("failed": true, exit code 1) and nothing was half-done
#      that its message does not name
#   2  the module broke its contract (killed, crashed, or no JSON object on stdout): treat the
#      node's state as unknown
# The module's full JSON result is kept in $LKOPS_RESULT when that is set (a file path).
set -uo pipefail

flags=()
while [ $# -gt 0 ]; do
  case $1 in
    --check | --diff) flags+=("$1"); shift ;;
    *) break ;;
  esac
done
if [ $# -ne 2 ]; then
  echo "usage: $0 [--check] [--diff] MODULE ARGS_JSON" >&2
  exit 2
fi
module=$1 args=$2
command -v jq >/dev/null || { echo "runner: jq is needed to read the module's JSON" >&2; exit 2; }

# `-` = arguments as one JSON object on stdin (never on the command line: nothing is parsed by a
# shell and secrets do not show in ps). stderr (progress, logs) passes through.
out=$(printf '%s' "$args" | "$module" "${flags[@]}" -)
rc=$?
[ -n "${LKOPS_RESULT:-}" ] && printf '%s\n' "$out" > "$LKOPS_RESULT"

if [ -z "$out" ] || ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$out"; then
  echo "runner: $module exited $rc without a JSON result (contract broken): ${out:0:200}" >&2
  exit 2
fi
jq -r '.warnings[]? | "warning: " + .' <<<"$out" >&2

case $rc in
  0)
    if [ "$(jq -r '.changed' <<<"$out")" = true ]; then state=changed; else state=ok; fi
    echo "$state: $(jq -r '.msg // ""' <<<"$out")"
    # The diff is data (with --diff, when changed): before/after texts, or a prepared unified diff.
    if jq -e '.diff.prepared' >/dev/null <<<"$out"; then
      jq -j '.diff.prepared' <<<"$out"
    elif jq -e '.diff.before != null' >/dev/null <<<"$out"; then
      diff -u --label "$(jq -r '.diff.before_header // "before"' <<<"$out")" \
              --label "$(jq -r '.diff.after_header // "after"' <<<"$out")" \
           <(jq -j '.diff.before' <<<"$out") <(jq -j '.diff.after' <<<"$out")
    fi
    exit 0 ;;
  1)
    echo "failed: $(jq -r '.msg // "unknown error"' <<<"$out")"
    exit 1 ;;
  *)
    echo "runner: $module exited $rc (contract: 0 or 1)" >&2
    exit 2 ;;
esac
