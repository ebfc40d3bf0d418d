"""The run's wiring and its configuration: the order of the stages, the dry run, the settings loader.

``pipeline`` (read keys -> journal -> query or scan -> join -> write), ``stop`` (SIGINT/SIGTERM as
a stop request), ``plan`` (``--dry-run``), ``settings`` (flags, TOML and environment -> ``ReconcileConfig``).
"""
