"""The neighbourhood world: a pure (no asyncio, no Redis) model shared by simulators and analyzer.

- :mod:`rtcc.world.model` — value types (World, Household, Building, Camera, Street) and lookups
  (``World.mount_building``, ``World.building_tree``).
- :mod:`rtcc.world.geo` — WGS84 lon/lat <-> local metres (transverse Mercator).
- :mod:`rtcc.world.geojson` — ``load_world`` / ``dump_world`` for the world-file contract; the
  checks live in :mod:`rtcc.world.validate` and :mod:`rtcc.world.fields`, OSM tags in
  :mod:`rtcc.world.osm`.
- :mod:`rtcc.world.synth` — ``synthesize(households, seed, ...)``, a deterministic neighbourhood.
- :mod:`rtcc.world.visibility` — visibility polygons and ``households_in_view`` (ray caster in
  :mod:`rtcc.world.raycast`, indexes in :mod:`rtcc.world.index`); :mod:`rtcc.world.dori` —
  image-detail bands;
  :mod:`rtcc.world.optics` — camera models and defaults.
- :mod:`rtcc.world.mapplot` — the PNG map; :mod:`rtcc.world.summary` — what ``check`` prints.
"""
