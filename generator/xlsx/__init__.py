"""Spreadsheet I/O, the only code that knows OOXML (parser, xlsxwriter writer, reader, LibreOffice); imports ``core`` only."""
