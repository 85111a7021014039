"""Load on the collection web page, bounded and on 127.0.0.1 only: 50 units upload at once, 500
distinct workbooks in all, against ``juesuan serve`` in its own process. Every upload must answer
its result page (通过, no error response) and every file be stored exactly once, for its unit,
with its bytes kept. Latency is measured and printed by ``bench/web_load.py``, not asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.web_load import Server, load, make_links, prepare, stored_once

pytestmark = pytest.mark.slow


def test_fifty_units_five_hundred_uploads_stored_once(tmp_path: Path) -> None:
    units_csv, files = prepare(tmp_path, units=50, per_unit=10)
    assert sum(len(f) for f in files.values()) == 500
    db = tmp_path / "load.sqlite"
    links = make_links(db, units_csv)
    assert len(links) == 50
    with Server(db, workers=2) as server:
        ups, wall = load(server.url, links, files, deadline_s=600)
    assert len(ups) == 500
    bad = [u for u in ups if u.http_status != 200 or u.result != "通过" or u.error]
    assert bad == [], bad[:3]
    ok, why = stored_once(db, files)
    assert ok, why
