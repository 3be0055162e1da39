"""What a text becomes in a spreadsheet cell, for every download (reports, invoices): a text
beginning with = + - @, a tab or a carriage return is prefixed with `'` so that it never runs as
a formula in the accountant's spreadsheet; what a file format cannot hold is replaced, so that a
hostile or broken value never fails a download."""

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What XML 1.0 cannot hold (C0 controls but tab, LF and CR; U+FFFE, U+FFFF) and what UTF-8
# cannot encode (lone surrogates).
XLSX_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
CSV_UNWRITABLE = re.compile("[\x00\ud800-\udfff]")
EXCEL_CELL_TEXT_LIMIT = 32_767


def formula_guarded(text: str) -> str:
    """Text a spreadsheet shows as text: a leading formula character is escaped with `'`."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_text(text: str) -> str:
    return formula_guarded(CSV_UNWRITABLE.sub("\ufffd", text))


def xlsx_text(text: str) -> str:
    return formula_guarded(XLSX_UNWRITABLE.sub("\ufffd", text))[:EXCEL_CELL_TEXT_LIMIT]
