"""The guide sheet's text, rendered once per spec with stand-ins for the unit, is exactly what Jinja2
renders for that unit, whatever the unit's name holds (generator/core/guide.py)."""

from __future__ import annotations

import copy

import pytest

from generator.core import guide
from generator.core.spec import Spec

NAMES = ["长沙市测试单位", "单位\n第二行 {{ x }}", "\ue000单位代码\ue001", "名\ue000称", ""]


@pytest.mark.parametrize("has_sections", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_the_prerendered_guide_is_the_rendered_one(spec: Spec, name: str, has_sections: bool) -> None:
    assert guide.guide_text(spec, name, "430100009", has_sections) == guide.render(spec, name, "430100009", has_sections)


def test_a_spec_holding_the_stand_in_mark_is_rendered_per_unit(spec: Spec) -> None:
    odd = copy.copy(spec)
    odd.title = spec.title + guide._MARK
    odd._caches = {}
    assert guide.prerender(odd) == {False: None, True: None}
    assert guide.guide_text(odd, "某单位", "430100009", True) == guide.render(odd, "某单位", "430100009", True)
    assert "某单位" in guide.guide_text(odd, "某单位", "430100009", True)


def test_the_spec_cache_keeps_the_guide(spec: Spec) -> None:
    from generator.core import catalog

    fresh = catalog.load_spec(spec.root)  # from the session's cache entry
    assert fresh.cache("guide") == guide.prerender(spec)
