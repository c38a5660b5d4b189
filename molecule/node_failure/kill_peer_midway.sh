#!/bin/sh
# Controller side of the node_failure scenario: waits until UPGRADED is half-way through its
# setup (new packages in, LifeKeeper stopped: lksim fault "delay"), then kills the container of
# PEER, the node that serves the hierarchies meanwhile. Gives up after 600 s.
UPGRADED=$1 PEER=$2 TARGET=$3
i=0
while [ $i -lt 1200 ]; do
  v=$(docker exec "$UPGRADED" rpm -q --qf '%{VERSION}' steeleye-lk 2>/dev/null)
  # lktest (the vendor's probe): a stopped lcdstatus may exit 0 (its exit code is not public)
  if [ "$v" = "$TARGET" ] && ! docker exec "$UPGRADED" /opt/LifeKeeper/bin/lktest >/dev/null 2>&1; then
    docker kill "$PEER" >/dev/null && echo "killed $PEER while $UPGRADED was half-way to $TARGET" && exit 0
  fi
  i=$((i + 1)); sleep 0.5
done
echo "$UPGRADED never reached the half-way point of its upgrade"; exit 1
