"""The one table-id rule, on its own so that the expression language (and so every read) has it
without importing the spec schema's checks (:mod:`specschema` re-exports it as ``TABLE_ID_RE``)."""

from __future__ import annotations

import re

TABLE_ID_RE = re.compile(r"^(?:公开\d\d|附件\d|附表\d)$")
"""A table id: 公开NN (the 公开 tables), 附件N (the 第五部分 附件 forms) or 附表N (a form the unit fills
for the 说明's figures, not printed as a table: 附表1 其他重要事项). The expression language recognises
a table name by this same pattern."""
