"""The office's flows over a round (units, store, collect, consolidate, migrate, spec diffs); imports ``core`` and ``xlsx``."""
