"""Scale-out: the per-file work of a round (read+check a returned workbook, build a unit's template) as
batched tasks on a Dask distributed cluster (``--engine dask``). Imports ``core``, ``xlsx`` and ``office``;
the only layer that imports ``dask``/``distributed``. The store stays in the main process: one writer."""
