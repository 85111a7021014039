"""juesuan: templates, collection and checks for the yearly 部门决算公开 round.

The tree is the architecture; each layer imports only the layers above it in this list:

- ``core``      the spec, the expression language, layouts, figures, rules, findings (pure Python)
- ``xlsx``      the only code that knows the file format: parser, writer, reader, LibreOffice
- ``office``    the round's flows: units, store, collect, consolidate, migrate, spec diffs
- ``narrative`` 第三部分 情况说明: rendering and checking (imports only ``core``)
- ``cli``       the faces: one thin module per command group

``tests/test_layers.py`` holds the tree to it.
"""

__version__ = "0.1.0"
