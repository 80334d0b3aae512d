#!/bin/sh
# One-shot seeding of the compose deployment (service `seed` in docker-compose.yml): a synthetic
# world (kept in the `world` volume, so a restart reuses it), its consent registry, and every
# camera's source pointed at the replay simulator (service `sim`). Idempotent.
set -eu

WORLD="${RTCC_WORLD:-/world/world.geojson}"
SIM_HOST="${SEED_SIM_HOST:-sim}"

if [ ! -s "$WORLD" ]; then
  rtcc world synth --households "${SEED_HOUSEHOLDS:-60}" --seed 1 -o "$WORLD"
fi
rtcc registry import "$WORLD"
rtcc registry export -o /tmp/registry.json
for cam in $(python3 -c 'import json, sys; print(" ".join(c["id"] for c in json.load(open(sys.argv[1]))["cameras"]))' /tmp/registry.json); do
  rtcc registry source "$cam" "rtsp://${SIM_HOST}:8554/cams/${cam}"
done
echo "seed: registry and sources ready"
