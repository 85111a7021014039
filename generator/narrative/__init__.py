"""第三部分 情况说明: rendered from the figures (render) and a written 说明 checked against them (check); imports only the core.

See :mod:`.render` and :mod:`.check` for the rules each follows; :mod:`.figures` holds what both share.
"""

from .check import check_narrative
from .figures import Budget, Project, budget_from_mapping, change, completion, default_format, load_budget, percent
from .render import (
    build_context,
    load_reasons,
    normalize_reasons,
    reasons_skeleton,
    render_docx,
    render_narrative,
    render_performance,
)

__all__ = [
    "Budget", "Project", "budget_from_mapping", "build_context", "change", "check_narrative", "completion", "default_format",
    "load_budget", "load_reasons", "normalize_reasons", "percent", "reasons_skeleton", "render_docx",
    "render_narrative", "render_performance",
]
