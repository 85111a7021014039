"""The cyclic garbage collector paused while one workbook is read or built.

Design: a read or a build makes some hundred thousand short-lived objects (cells, findings, parts
of the plan) and almost no reference cycles; reference counting frees them. The collector, run
every 700 allocations, walks the young ones again and again meanwhile, and now and then the
spec's memo tables with them: ~8% of a read. So the reader and the writer pause it for one
workbook and collect once when they are done, inside the time of that read or build: the young
generation, and an older one when the collector would have taken it by then, so the older
generations are collected as often as without the pause (the few cycles a workbook made are freed
there). Loading a cached spec (some 50,000 objects at once) is paused the same way. Nested uses
and a collector already disabled by the caller are left as they are; from several threads the
collector is back on once the first pauser is done (a pause is an optimisation, never needed for
correctness).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off, then collect (if it was on) as the collector would
    have: the young generation, and an older one whose turn has come (see :func:`_generation_due`)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(_generation_due())


def _generation_due() -> int:
    """The oldest generation whose turn has come: the collector takes generation 1 after every
    ``threshold1`` collections of generation 0, and 2 after ``threshold2`` of 1. Collecting only the
    young one after every pause would starve the older ones -- its own automatic collections rarely
    run when most allocations happen paused -- and what dies there (an object that outlived the
    workbook it came with) would never be freed."""
    _t0, t1, t2 = gc.get_threshold()
    _c0, c1, c2 = gc.get_count()
    if c1 + 1 < t1:
        return 0
    return 2 if c2 + 1 >= t2 else 1
