"""The garbage collector paused for one workbook (generator/core/gcpause.py): back on afterwards, left
off when the caller had it off, and the older generations still collected -- a cycle that outlived
its pause and died later is freed after enough pauses, as without them."""

from __future__ import annotations

import gc
import weakref

from generator.core.gcpause import gc_paused


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_collector_is_back_on_and_a_callers_off_stays_off() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: left as it is
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_cycle_that_outlived_its_pause_is_freed_by_later_pauses() -> None:
    gc.collect()
    with gc_paused():
        node = _Node()  # survives the pause's collection (still referenced), so it ages
    alive = weakref.ref(node)
    del node
    _t0, t1, t2 = gc.get_threshold()
    for _ in range((t1 + 1) * (t2 + 1)):  # only paused work: no automatic collection in between
        with gc_paused():
            pass
        if alive() is None:
            break
    assert alive() is None
