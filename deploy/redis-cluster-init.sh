#!/bin/sh
# One-shot (service `redis-cluster-init`, profile `cluster`): join the six redis-node-* servers
# into 3 masters with 1 replica each. redis-cli wants addresses, so the names are resolved first.
# Idempotent: a cluster that already serves every slot is left alone.
set -eu

first=$(echo "$CLUSTER_NODES" | cut -d' ' -f1)
if redis-cli -h "$first" cluster info | grep -q '^cluster_state:ok'; then
  echo "redis-cluster-init: cluster already up"
  exit 0
fi
addrs=""
for node in $CLUSTER_NODES; do
  addrs="$addrs $(getent hosts "$node" | cut -d' ' -f1):6379"
done
# shellcheck disable=SC2086 # one argument per node
redis-cli --cluster create $addrs --cluster-replicas 1 --cluster-yes
until redis-cli -h "$first" cluster info | grep -q '^cluster_state:ok'; do sleep 1; done
echo "redis-cluster-init: cluster_state:ok"
