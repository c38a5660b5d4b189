#!/bin/sh
# Records, about every 0.5 s until STOPFILE exists, where app-x is in service:
#   <epoch ms> dk-a=<state> dk-b=<state>
# (state: ISP, OSU, ... or "down" when the node's lcdstatus does not answer, e.g. mid-upgrade).
# Usage: record_service.sh RECORD STOPFILE NODE...
set -u
record=$1; stop=$2; shift 2
: > "$record"
while [ ! -e "$stop" ]; do
  line=$(date +%s%3N)
  for n in "$@"; do
    s=$(docker exec "$n" /opt/LifeKeeper/bin/lcdstatus -e 2>/dev/null | awk '$2 == "app-x" { print $4; exit }')
    line="$line $n=${s:-down}"
  done
  echo "$line" >> "$record"
  sleep 0.5
done
