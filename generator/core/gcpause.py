"""The cyclic garbage collector paused while one workbook is read or built.

Design: a read or a build makes some hundred thousand short-lived objects (cells, findings, parts
of the plan) and almost no reference cycles; reference counting frees them. The collector, run
every 700 allocations, walks the young ones again and again meanwhile, and now and then the
spec's memo tables with them: ~8% of a read. So the reader and the writer pause it for one
workbook and collect the youngest generation once when they are done (the few cycles a workbook
made are freed there, inside the time of that read or build). Loading a cached spec (some 50,000
objects at once) is paused the same way. Nested uses and a collector already
disabled by the caller are left as they are; from several threads the collector is back on once
the first pauser is done (a pause is an optimisation, never needed for correctness).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off, then collect generation 0 (if it was on)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)
