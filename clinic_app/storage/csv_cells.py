"""CSV cells a spreadsheet will not run (issue 15, item 9), read back exactly.

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula (and some also after a tab or carriage return), so a name such as
``=HYPERLINK("http://…")`` typed into the record would act when an export is opened. Such a
text is written with an apostrophe in front, which every spreadsheet shows as plain text. A
text that itself starts with an apostrophe gets one too, so reading back is one rule: a cell
that starts with an apostrophe loses exactly that one.

>>> spreadsheet_safe("=1+1"), spreadsheet_safe("-20"), spreadsheet_safe("'a"), spreadsheet_safe("a")
("'=1+1", "'-20", "''a", 'a')
>>> from_spreadsheet_safe("'=1+1"), from_spreadsheet_safe("''a"), from_spreadsheet_safe("a")
('=1+1', "'a", 'a')
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (OWASP list)."""
QUOTE = "'"

MANIFEST_KEY = "text_cells"
MANIFEST_VALUE = "apostrophe before = + - @ tab CR and '"
"""What a CSV export's manifest says when its cells were written this way."""


def spreadsheet_safe(text: str) -> str:
    if text.startswith(FORMULA_STARTS) or text.startswith(QUOTE):
        return QUOTE + text
    return text


def from_spreadsheet_safe(cell: str) -> str:
    return cell[1:] if cell.startswith(QUOTE) else cell
