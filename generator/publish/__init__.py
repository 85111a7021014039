"""Publication: the whole 部门决算公开 report (HTML, PDF, DOCX) from a unit's figures, and the check
of a published PDF against the data. May import core, xlsx, office and narrative.

- :mod:`.tables` the tables as printed, read off the workbook's cell plan (``core.layout``)
- :mod:`.source` where the figures come from: workbook, data file, collection database (汇总)
- :mod:`.profile` what the tables do not carry (职责, 机构设置, 决算单位构成, reasons, budget)
- :mod:`.report` the parts assembled once; pre-publication checks
- :mod:`.html`, :mod:`.pdf` (WeasyPrint), :mod:`.docx` (python-docx) one module per format
- :mod:`.verify` ``check-published``: a published PDF's tables and text against the data
"""
