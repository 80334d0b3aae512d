"""What every served component shares: the application's resources (settings, Redis clients) as
typed app keys, the one error middleware, and running an application until it is stopped.

Components (the hub, the registry API, the wall, the analyzer) import their app keys from here,
never from :mod:`rtcc.app`, which only assembles them.
"""
