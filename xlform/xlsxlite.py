"""A workbook writer for the part of XlsxWriter's API that xlform uses, rendering the XML itself.

Why: a generated form or an annotated copy spent about half of its time in XlsxWriter's generic
machinery (a Format of ~60 attributes per style, a Worksheet of ~200, an XML writer object and an
attribute list per element, a package of ~15 parts assembled through them), although xlform writes
the same few kinds of thing in every workbook: text, numbers and blanks with a format, merged
ranges, one validation per input type, comments, names, print setup and protection. This module
keeps XlsxWriter's method names and arguments for exactly those calls (workbook.py and annotate.py
call it like XlsxWriter) and writes the parts with f-strings.

It writes the same bytes as XlsxWriter: tests/test_xlsxlite.py writes every kind of workbook xlform
makes, with awkward values, through both and compares every zip member. One exception on purpose:
a text shaped like "<r>…</r>", which stock writes raw as if it were its own rich-text XML, is
escaped like any other text. Where the XML is fiddly and
rare it uses XlsxWriter's own code rather than a copy: styles.xml (rendered once per set of formats
by a stock workbook), the comment boxes' geometry and their VML, the small constant parts. That
code is XlsxWriter's internals, so this module is used only with the versions in SUPPORTED;
with any other, workbook.py writes through XlsxWriter itself (slower, the same workbook). After
upgrading XlsxWriter: run tests/test_xlsxlite.py, then add the version.

Only what xlform calls is here: anything else is an AttributeError, not a silent difference.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import re
from dataclasses import dataclass
from warnings import warn

import xlsxwriter
from xlsxwriter.app import App
from xlsxwriter.comments import Comments
from xlsxwriter.contenttypes import ContentTypes
from xlsxwriter.core import Core
from xlsxwriter.custom import Custom
from xlsxwriter.format import Format as _StockFormat
from xlsxwriter.relationships import Relationships
from xlsxwriter.styles import Styles
from xlsxwriter.theme import THEME_XML_2007
from xlsxwriter.utility import (_datetime_to_excel_datetime, _preserve_whitespace, _utf16_truncate, quote_sheetname,
                                xl_col_to_name)
from xlsxwriter.vml import Vml
from xlsxwriter.worksheet import Worksheet as _StockWorksheet

from .xlsxzip import write_zip

# versions whose output tests/test_xlsxlite.py compares byte for byte with this module's
SUPPORTED = ("3.3.1",)
ROW_MAX, COL_MAX, STR_MAX = 1_048_576, 16_384, 32_767
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DEFAULT_ROW_PX = 20                    # 15 points
_DEFAULT_COL_PX = 64
_DEFAULT_FONT = {"font_name": "Calibri", "font_size": 11}     # Workbook.default_format_properties
_ESCAPES = re.compile('["&<>\n]')
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")


class _ColNames(dict):
    def __missing__(self, col: int) -> str:
        name = self[col] = xl_col_to_name(col)
        return name


_COLS = _ColNames()


def _attr(text: str) -> str:
    """An attribute value as XlsxWriter escapes it (XMLwriter._escape_attributes)."""
    if not _ESCAPES.search(text):
        return text
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace("\n", "&#xA;")


def _data(text: str) -> str:
    """Element text as XlsxWriter escapes it (XMLwriter._escape_data): quotes stay."""
    if not _ESCAPES.search(text):
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def supported(version: str = xlsxwriter.__version__) -> bool:
    return version in SUPPORTED


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# a shared string the stock writer would change (escape, _xHHHH_ control codes, xml:space, rich text)
_SST_SLOW = re.compile("[\x00-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
# what XlsxWriter changes in a text, besides _x0000_-like literals: control characters other than
# tab and line feed (written as _xHHHH_), and &, <, > (a label such as "产出指标\n(50分)" is plain)
_ESCAPED_CHARS = re.compile("[\x00-\x08\x0b-\x1f&<>]")


def _plain(texts: list[str]) -> bool:
    """True if every text can be written as <t>text</t>: nothing to escape, no white space at an
    end. One scan of them all (a text that is plain only by itself may be reported as not plain:
    it then takes the escaping path, with the same result)."""
    joined = "".join(texts)
    if _ESCAPED_CHARS.search(joined) or ("_x" in joined and _SST_SLOW.search(joined)):
        return False
    return all(t == t.strip() for t in texts)



def inline_text(text: str) -> str:
    """The <t> element of an inline string exactly as XlsxWriter writes it: _xHHHH_ control codes,
    &, < and > escaped, xml:space where white space stands at an end (also used by consolidate)."""
    if _SST_SLOW.search(text):
        text = _StockWorksheet._escape_control_characters(text)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    return f"<t{space}>{text}</t>"


def string_rows_xml(rows: list[list[str | None]], inline_from: int, sst) -> tuple[str, tuple[int, int, int, int]]:
    """The <row> elements of a sheet of plain text, and its used range (first row, first column,
    last row, last column; 0-based). Columns before `inline_from` are shared strings (`sst(text)`
    gives a text's index, called in row order as write_string would), the others inline strings.
    In a row, None is no cell and "" an empty text cell.

    For the hidden metadata sheet (~125 rows × 6 strings: the field catalogue), which through a
    cell API cost a third of writing a whole workbook. Inline strings are what XlsxWriter itself
    writes in constant_memory mode, and what Excel, LibreOffice, calamine and openpyxl read like
    shared ones."""
    cols, out = _COLS, []
    used_rows, col_lo, col_hi = [], [], []
    # the usual sheet has no text that needs escaping: one check of all its inline texts, and
    # where one has, one per row
    plain_sheet = _plain([v for row in rows for v in row[inline_from:] if v is not None])
    for r, row in enumerate(rows, start=1):
        used = [c for c, v in enumerate(row) if v is not None]
        if not used:
            continue
        shared = [f'<c r="{cols[c]}{r}" t="s"><v>{sst(row[c])}</v></c>' for c in used if c < inline_from]
        if plain_sheet or _plain([v for v in row[inline_from:] if v is not None]):
            inline = [f'<c r="{cols[c]}{r}" t="inlineStr"><is><t>{row[c]}</t></is></c>' for c in used if c >= inline_from]
        else:
            inline = [f'<c r="{cols[c]}{r}" t="inlineStr"><is>{inline_text(row[c])}</is></c>'
                      for c in used if c >= inline_from]
        out.append(f'<row r="{r}">{"".join(shared)}{"".join(inline)}</row>')
        used_rows.append(r - 1)
        col_lo.append(used[0])
        col_hi.append(used[-1])
    if not out:
        raise ValueError("put_string_rows: at least one cell")
    return "".join(out), (used_rows[0], min(col_lo), used_rows[-1], max(col_hi))


# ----------------------------------------------------------------- formats and styles.xml

class Format:
    """A cell format: its properties and XlsxWriter's key for them (the xf identity)."""
    __slots__ = ("props", "key")

    def __init__(self, props: tuple, key: str):
        self.props, self.key = props, key


_FORMAT_KEYS: dict[tuple, str] = {}       # properties -> XlsxWriter's format key (one Format() per process)
_STYLES: dict[tuple, bytes] = {}          # (format keys in xf order, has comments) -> styles.xml


def _format_key(props: tuple) -> str:
    key = _FORMAT_KEYS.get(props)
    if key is None:
        if len(_FORMAT_KEYS) > 4096:
            _FORMAT_KEYS.clear()
        key = _FORMAT_KEYS[props] = _StockFormat(dict(props))._get_format_key()
    return key


def _styles_xml(formats: list[Format], has_comments: bool) -> bytes:
    """styles.xml for these formats in xf order, by XlsxWriter's own code: a stock workbook numbers
    the same formats in the same order, and its Styles writer writes them (Packager._write_styles_file).
    Remembered per process: the workbooks of a form use the same few orders."""
    cache_key = (tuple(f.key for f in formats), has_comments)
    xml = _STYLES.get(cache_key)
    if xml is None:
        wb = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
        for f in formats:
            wb.add_format(dict(f.props))._get_xf_index()
        wb._prepare_format_properties()
        styles = Styles()
        styles._set_style_properties([wb.xf_formats, wb.palette, wb.font_count, wb.num_formats, wb.border_count,
                                      wb.fill_count, wb.custom_colors, wb.dxf_formats, has_comments])
        buf = io.StringIO()
        styles._set_xml_writer(buf)
        styles._assemble_xml_file()
        xml = buf.getvalue().encode("utf-8")
        wb.fileclosed = True            # nothing to write: no "workbook not closed" warning at exit
        if len(_STYLES) > 256:
            _STYLES.clear()
        _STYLES[cache_key] = xml
    return xml


# ----------------------------------------------------------------- cells

class _Shared:
    """What a workbook's sheets share: the strings and which sheet is active."""
    __slots__ = ("sst", "active")

    def __init__(self) -> None:
        self.sst, self.active = SharedStrings(), 0


class SharedStrings:
    """The workbook's shared strings in the order they were first written, and how many writes."""
    __slots__ = ("strings", "count")

    def __init__(self) -> None:
        self.strings: dict[str, int] = {}
        self.count = 0

    def index(self, text: str) -> int:
        self.count += 1
        i = self.strings.get(text)
        if i is None:
            i = self.strings[text] = len(self.strings)
        return i


@dataclass(slots=True)
class _Validation:
    cells: tuple[int, int, int, int]
    options: dict


class Worksheet:
    """One sheet: its cells by row and column, merges, validations, comments, page setup."""

    def __init__(self, shared: "_Shared", name: str, index: int):
        # no reference back to the workbook: without reference cycles a written workbook is freed
        # at once, not left to the cyclic garbage collector
        self.shared, self.name, self.index = shared, name, index
        self.rows: dict[int, dict[int, tuple]] = {}       # row -> col -> (xml kind, payload, Format | None)
        self.heights: dict[int, int] = {}                 # row -> pixels
        self.widths: dict[int, int] = {}                  # col -> pixels
        self.merged: list[tuple[int, int, int, int]] = []
        self._merged_cells: set[tuple[int, int]] = set()
        self.validations: list[_Validation] = []
        self.comments: list[tuple[int, int, str, dict | None]] = []
        self.dim: list[int] | None = None                 # [row_min, row_max, col_min, col_max]
        self.hidden = 0                                   # 1 hidden, 2 very hidden
        self.selected = 0
        self.protection: dict | None = None
        self.string_rows: str | None = None               # put_string_rows
        self.gridlines = True
        self.hcenter = False
        self.paper = 0
        self.portrait = True
        self.page_setup = False                           # <pageSetup> only once something was set
        self.fit: tuple[int, int] | None = None
        self.margins = ("0.7", "0.7", "0.75", "0.75")
        self.header = self.footer = ""
        self.margin_header = self.margin_footer = "0.3"
        self.print_area_range = self.repeat_row_range = ""

    # dimensions, as Worksheet._check_dimensions keeps them
    def _dims(self, row: int, col: int) -> bool:
        if not (0 <= row < ROW_MAX and 0 <= col < COL_MAX):
            return False
        d = self.dim
        if d is None:
            self.dim = [row, row, col, col]
            return True
        if row < d[0]:
            d[0] = row
        if row > d[1]:
            d[1] = row
        if col < d[2]:
            d[2] = col
        if col > d[3]:
            d[3] = col
        return True

    def _put(self, row: int, col: int, cell: tuple) -> int:
        if not self._dims(row, col):
            return -1
        r = self.rows.get(row)
        if r is None:
            r = self.rows[row] = {}
        r[col] = cell
        return 0

    def write_string(self, row: int, col: int, string: str, cell_format: Format | None = None) -> int:
        if not (0 <= row < ROW_MAX and 0 <= col < COL_MAX):
            return -1                       # before the string is counted, as stock
        err = 0
        if len(string) > STR_MAX // 2 and _utf16_len(string) > STR_MAX:
            string, err = _utf16_truncate(string, STR_MAX), -2      # Excel's limit is in UTF-16 units
        if self._put(row, col, ("s", self.shared.sst.index(string), cell_format)) < 0:
            return -1
        return err

    def write_number(self, row: int, col: int, number, cell_format: Format | None = None) -> int:
        if number != number or number in (float("inf"), float("-inf")):
            raise TypeError("NAN/INF not supported in write_number() without 'nan_inf_to_errors' Workbook() option")
        return self._put(row, col, ("n", f"{number:.16G}", cell_format))

    def write_blank(self, row: int, col: int, blank, cell_format: Format | None = None) -> int:
        if cell_format is None:            # stock: a blank without a format is no cell
            return 0
        return self._put(row, col, ("b", None, cell_format))

    def write_boolean(self, row: int, col: int, boolean: bool, cell_format: Format | None = None) -> int:
        return self._put(row, col, ("t", 1 if boolean else 0, cell_format))

    def write_datetime(self, row: int, col: int, date, cell_format: Format | None = None) -> int:
        number = _datetime_to_excel_datetime(date, False, False)
        return self._put(row, col, ("n", f"{number:.16G}", cell_format))

    def _write(self, row: int, col: int, value, cell_format: Format | None) -> int:
        """XlsxWriter's write() for the types xlform passes (text is never a formula or URL here)."""
        if value is None or value == "":
            return self.write_blank(row, col, None, cell_format)
        if isinstance(value, bool):
            return self.write_boolean(row, col, value, cell_format)
        if isinstance(value, (int, float)):
            return self.write_number(row, col, value, cell_format)
        if isinstance(value, (dt.date, dt.datetime)):
            return self.write_datetime(row, col, value, cell_format)
        return self.write_string(row, col, str(value), cell_format)

    def merge_range(self, first_row: int, first_col: int, last_row: int, last_col: int, data,
                    cell_format: Format | None = None) -> int:
        if first_row == last_row and first_col == last_col:
            warn("Can't merge single cell")
            return -1
        if first_row > last_row:
            first_row, last_row = last_row, first_row
        if first_col > last_col:
            first_col, last_col = last_col, first_col
        if not (self._dims(first_row, first_col) and self._dims(last_row, last_col)):
            return -1
        self._merge(first_row, first_col, last_row, last_col, cell_format)
        self._write(first_row, first_col, data, cell_format)
        return 0

    def _merge(self, first_row: int, first_col: int, last_row: int, last_col: int, cell_format) -> None:
        # merge_range but for its first cell's value, dimensions checked by the caller
        cells = [(r, c) for r in range(first_row, last_row + 1) for c in range(first_col, last_col + 1)]
        if not self._merged_cells.isdisjoint(cells):
            raise ValueError(f"merge_range: {_COLS[first_col]}{first_row + 1}:{_COLS[last_col]}{last_row + 1} "
                             "overlaps a merged range")
        self._merged_cells.update(cells)
        self.merged.append((first_row, first_col, last_row, last_col))
        if cell_format is not None:          # stock writes no blank without a format
            blank, rows = ("b", None, cell_format), self.rows
            for r, c in cells[1:]:
                row = rows.get(r)
                if row is None:
                    row = rows[r] = {}
                row[c] = blank

    def put_cells(self, cells) -> None:
        """(row, col, last_row, last_col, value, format) each: merged where the range is more than
        one cell, then the value written as write() would (workbook._put_cells). The same cells and
        dimensions as those calls, without a call and a dimension check per cell."""
        cells = list(cells)
        if not cells or min(min(c[0], c[2]) for c in cells) < 0 or min(min(c[1], c[3]) for c in cells) < 0 \
                or max(max(c[0], c[2]) for c in cells) >= ROW_MAX or max(max(c[1], c[3]) for c in cells) >= COL_MAX:
            for r, c, lr, lc, v, fmt in cells:         # out of bounds: each call does what stock does
                if lr != r or lc != c:
                    self.merge_range(r, c, lr, lc, None, fmt)
                self._write(r, c, v, fmt)
            return
        rows, sst = self.rows, self.shared.sst.index
        for r, c, lr, lc, v, fmt in cells:
            if lr < r or lc < c:
                self.merge_range(r, c, lr, lc, None, fmt)      # reversed: swapped, as stock does
            elif lr != r or lc != c:
                self._merge(r, c, lr, lc, fmt)
            kind = v.__class__
            if kind is str and v and len(v) <= STR_MAX // 2:
                cell = ("s", sst(v), fmt)
            elif v is None or (kind is str and not v):
                if fmt is None:
                    continue
                cell = ("b", None, fmt)
            elif kind is int or (kind is float and v - v == 0):
                cell = ("n", f"{v:.16G}", fmt)
            else:
                self._write(r, c, v, fmt)
                continue
            row = rows.get(r)
            if row is None:
                row = rows[r] = {}
            row[c] = cell
        # the dimensions as the per-cell calls set them: both corners of a merged range; a blank
        # without a format is no cell
        written = [x for x in cells if x[5] is not None or not (x[4] is None or x[4] == "")]
        merged = [x for x in cells if x[2] != x[0] or x[3] != x[1]]
        if written or merged:
            self._dims(min([x[0] for x in written] + [x[0] for x in merged]),
                       min([x[1] for x in written] + [x[1] for x in merged]))
            self._dims(max([x[0] for x in written] + [x[2] for x in merged]),
                       max([x[1] for x in written] + [x[3] for x in merged]))

    def put_string_rows(self, rows: list[list[str | None]], inline_from: int = 0) -> None:
        """Plain text rows, columns from `inline_from` on as inline strings (the metadata sheet;
        see string_rows_xml)."""
        if self.string_rows is not None or self.rows:
            raise ValueError("put_string_rows: once, on an empty sheet")
        self.string_rows, (r1, c1, r2, c2) = string_rows_xml(rows, inline_from, self.shared.sst.index)
        self._dims(r1, c1)
        self._dims(r2, c2)

    # ------------------------------------------------------------- rows, columns, extras

    def set_column(self, first_col: int, last_col: int, width: float) -> int:
        if width <= 0:
            raise ValueError("set_column: a hidden column (width 0) is not used by xlform")
        # characters to pixels as stock: 7 per digit and 5 of padding, 12 per character below 1
        px = int(width * 12 + 0.5) if width < 1 else int(width * 7 + 0.5) + 5
        for col in range(min(first_col, last_col), max(first_col, last_col) + 1):
            self.widths[col] = px
        return 0

    def set_row(self, row: int, height: float) -> int:
        px = int(height * 4.0 / 3.0 + 0.5)          # points to pixels, as stock
        if not px:
            raise ValueError("set_row: a hidden row (height 0) is not used by xlform")
        if not self._dims(row, self.dim[2] if self.dim else 0):     # stock: a row height extends the dimension
            return -1
        self.heights[row] = px
        return 0

    def write_comment(self, row: int, col: int, comment: str, options: dict | None = None) -> int:
        if not self._dims(row, col):
            return -1
        if _utf16_len(comment) > STR_MAX:
            return -2
        self.comments.append((row, col, comment, options))
        return 0

    def data_validation(self, first_row: int, first_col: int, last_row: int, last_col: int, options: dict) -> int:
        self.validations.append(_Validation((first_row, first_col, last_row, last_col), dict(options)))
        return 0

    def protect(self, password: str = "", options: dict | None = None) -> None:
        opts = {"sheet": True, "content": False, "objects": False, "scenarios": False, "format_cells": False,
                "format_columns": False, "format_rows": False, "insert_columns": False, "insert_rows": False,
                "insert_hyperlinks": False, "delete_columns": False, "delete_rows": False,
                "select_locked_cells": True, "sort": False, "autofilter": False, "pivot_tables": False,
                "select_unlocked_cells": True}
        opts.update(options or {})
        # XlsxWriter's legacy password hash (it uses nothing of the sheet)
        opts["password"] = _StockWorksheet._encode_password(None, password) if password else ""
        self.protection = opts

    def hide(self) -> None:
        self.hidden, self.selected = 1, 0

    def very_hidden(self) -> None:
        self.hidden, self.selected = 2, 0

    def activate(self) -> None:
        self.hidden, self.selected = 0, 1
        self.shared.active = self.index

    def hide_gridlines(self, option: int = 1) -> None:
        if option != 2:
            raise ValueError("hide_gridlines: only 2 (screen and print) is used by xlform")
        self.gridlines = False

    def center_horizontally(self) -> None:
        self.hcenter = True

    def set_paper(self, paper_size: int) -> None:
        if paper_size:
            self.paper, self.page_setup = paper_size, True

    def set_landscape(self) -> None:
        self.portrait, self.page_setup = False, True

    def set_portrait(self) -> None:
        self.portrait, self.page_setup = True, True

    def set_margins(self, left=0.7, right=0.7, top=0.75, bottom=0.75) -> None:
        self.margins = (f"{left}", f"{right}", f"{top}", f"{bottom}")

    def fit_to_pages(self, width: int, height: int) -> None:
        self.fit, self.page_setup = (width, height), True

    def repeat_rows(self, first_row: int, last_row: int | None = None) -> None:
        last_row = first_row if last_row is None else last_row
        self.repeat_row_range = f"{quote_sheetname(self.name)}!${first_row + 1}:${last_row + 1}"

    def print_area(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        a = f"${_COLS[first_col]}${first_row + 1}"
        b = f"${_COLS[last_col]}${last_row + 1}"
        self.print_area_range = f"{quote_sheetname(self.name)}!{a if a == b else a + ':' + b}"

    def set_header(self, header: str = "") -> None:
        self.header = self._header_footer(header, self.header)

    def set_footer(self, footer: str = "") -> None:
        self.footer = self._header_footer(footer, self.footer)

    def _header_footer(self, text: str, old: str) -> str:
        text = text.replace("&[Picture]", "&G")
        if "&G" in text:
            raise ValueError("header/footer: pictures are not used by xlform")
        if _utf16_len(text) > 255:       # as stock: a warning, and the header or footer left as it was
            warn("Header string cannot be longer than Excel's limit of 255 characters")
            return old
        return text

    # ------------------------------------------------------------- the sheet's XML

    def _xml(self, xf, comments_rel: bool) -> str:
        out = [_DECL, f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">']
        if self.fit:
            out.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        d = self.dim
        if d is None:
            ref = "A1"
        elif d[0] == d[1] and d[2] == d[3]:
            ref = f"{_COLS[d[2]]}{d[0] + 1}"
        else:
            ref = f"{_COLS[d[2]]}{d[0] + 1}:{_COLS[d[3]]}{d[1] + 1}"
        grid = "" if self.gridlines else ' showGridLines="0"'
        selected = ' tabSelected="1"' if self.selected else ""
        out.append(f'<dimension ref="{ref}"/><sheetViews><sheetView{grid}{selected} workbookViewId="0"/>'
                   '</sheetViews><sheetFormatPr defaultRowHeight="15"/>')
        if self.widths:
            out.append(self._cols_xml())
        if self.string_rows is not None:
            out.append(f"<sheetData>{self.string_rows}</sheetData>")
        elif d is None:
            out.append("<sheetData/>")
        else:
            out.append("<sheetData>")
            out.append(self._rows_xml(xf))
            out.append("</sheetData>")
        p = self.protection
        if p:
            out.append(_protection_xml(p))
        if self.merged:
            out.append(f'<mergeCells count="{len(self.merged)}">' + "".join(
                f'<mergeCell ref="{_COLS[c1]}{r1 + 1}:{_COLS[c2]}{r2 + 1}"/>' for r1, c1, r2, c2 in self.merged)
                + "</mergeCells>")
        if self.validations:
            out.append(f'<dataValidations count="{len(self.validations)}">')
            out.extend(_validation_xml(v) for v in self.validations)
            out.append("</dataValidations>")
        if self.hcenter:
            out.append('<printOptions horizontalCentered="1"/>')
        left, right, top, bottom = self.margins
        out.append(f'<pageMargins left="{left}" right="{right}" top="{top}" bottom="{bottom}" '
                   f'header="{self.margin_header}" footer="{self.margin_footer}"/>')
        if self.page_setup:
            out.append("<pageSetup")
            if self.paper:
                out.append(f' paperSize="{self.paper}"')
            if self.fit and self.fit[0] != 1:
                out.append(f' fitToWidth="{self.fit[0]}"')
            if self.fit and self.fit[1] != 1:
                out.append(f' fitToHeight="{self.fit[1]}"')
            out.append(f' orientation="{"portrait" if self.portrait else "landscape"}"/>')
        if self.header or self.footer:
            out.append("<headerFooter>")
            if self.header:
                out.append(f"<oddHeader>{_data(self.header)}</oddHeader>")
            if self.footer:
                out.append(f"<oddFooter>{_data(self.footer)}</oddFooter>")
            out.append("</headerFooter>")
        if comments_rel:
            out.append('<legacyDrawing r:id="rId1"/>')
        out.append("</worksheet>")
        return "".join(out)

    def _cols_xml(self) -> str:
        out, cols = ["<cols>"], sorted(self.widths)
        first = last = cols[0]
        for col in [*cols[1:], None]:
            if col is not None and col == last + 1 and self.widths[col] == self.widths[first]:
                last = col
                continue
            px = self.widths[first]
            custom = ' customWidth="1"' if px != _DEFAULT_COL_PX else ""
            out.append(f'<col min="{first + 1}" max="{last + 1}" width="{(px * 256 // 7) / 256.0:.16g}"{custom}/>')
            if col is not None:
                first = last = col
        out.append("</cols>")
        return "".join(out)

    def _rows_xml(self, xf) -> str:
        d, rows, heights = self.dim, self.rows, self.heights
        comment_cols: dict[int, list[int]] = {}
        for r, c, _, _ in self.comments:
            comment_cols.setdefault(r, []).append(c)
        # spans: the columns used in each block of 16 rows (Worksheet._calculate_spans)
        spans: dict[int, list[int]] = {}
        for r in {*rows, *comment_cols}:
            if not d[0] <= r <= d[1]:
                continue
            used = [c for c in (*rows.get(r, ()), *comment_cols.get(r, ())) if d[2] <= c <= d[3]]
            if used:
                b = spans.setdefault(r // 16, [min(used), max(used)])
                b[0], b[1] = min(b[0], *used), max(b[1], *used)
        span_attr = {k: f' spans="{lo + 1}:{hi + 1}"' for k, (lo, hi) in spans.items()}
        out, cols = [], _COLS
        for r in sorted(x for x in {*rows, *heights, *comment_cols} if d[0] <= x <= d[1]):
            px = heights.get(r, _DEFAULT_ROW_PX)
            ht = f' ht="{px * 0.75:.16g}" customHeight="1"' if px != _DEFAULT_ROW_PX else ""
            cells = rows.get(r)
            if not cells:
                out.append(f'<row r="{r + 1}"{span_attr.get(r // 16, "")}{ht}/>')
                continue
            out.append(f'<row r="{r + 1}"{span_attr.get(r // 16, "")}{ht}>')
            ref = str(r + 1)
            for c in sorted(cells):
                kind, payload, fmt = cells[c]
                s = f' s="{xf(fmt)}"' if fmt is not None else ""
                if kind == "s":
                    out.append(f'<c r="{cols[c]}{ref}"{s} t="s"><v>{payload}</v></c>')
                elif kind == "n":
                    out.append(f'<c r="{cols[c]}{ref}"{s}><v>{payload}</v></c>')
                elif kind == "b":
                    out.append(f'<c r="{cols[c]}{ref}"{s}/>')
                else:
                    out.append(f'<c r="{cols[c]}{ref}"{s} t="b"><v>{payload}</v></c>')
            out.append("</row>")
        return "".join(out)


def _protection_xml(p: dict) -> str:
    # Worksheet._write_sheet_protection, in its attribute order
    a = []
    if p["password"]:
        a.append(f' password="{p["password"]}"')
    for key, name, when, value in (
            ("sheet", "sheet", True, 1), ("content", "content", True, 1), ("objects", "objects", False, 1),
            ("scenarios", "scenarios", False, 1), ("format_cells", "formatCells", True, 0),
            ("format_columns", "formatColumns", True, 0), ("format_rows", "formatRows", True, 0),
            ("insert_columns", "insertColumns", True, 0), ("insert_rows", "insertRows", True, 0),
            ("insert_hyperlinks", "insertHyperlinks", True, 0), ("delete_columns", "deleteColumns", True, 0),
            ("delete_rows", "deleteRows", True, 0), ("select_locked_cells", "selectLockedCells", False, 1),
            ("sort", "sort", True, 0), ("autofilter", "autoFilter", True, 0),
            ("pivot_tables", "pivotTables", True, 0), ("select_unlocked_cells", "selectUnlockedCells", False, 1)):
        if bool(p[key]) is when:
            a.append(f' {name}="{value}"')
    return f'<sheetProtection{"".join(a)}/>'


_CRITERIA = {"between": "between", "<=": "lessThanOrEqual", "less than or equal to": "lessThanOrEqual"}
_TYPES = {"decimal": "decimal", "integer": "whole", "date": "date", "length": "textLength", "list": "list"}


def _validation_xml(v: _Validation) -> str:
    """Worksheet._write_data_validation for the validations workbook._validate makes."""
    o = v.options
    kind = _TYPES[o["validate"]]
    criteria = _CRITERIA[o.get("criteria", "between")] if kind != "list" else "between"
    if kind == "list":
        first, second = o["source"], None
    elif criteria == "between":
        first, second = o["minimum"], o["maximum"]
    else:
        first, second = o["value"], None
    a = [f'<dataValidation type="{kind}"']
    if criteria != "between":
        a.append(f' operator="{criteria}"')
    error_type = o.get("error_type", "stop")
    if error_type != "stop":
        a.append(f' errorStyle="{ {"warning": "warning", "information": "information"}[error_type]}"')
    if o.get("ignore_blank", True):
        a.append(' allowBlank="1"')
    a.append(' showInputMessage="1" showErrorMessage="1"')
    for key, name in (("error_title", "errorTitle"), ("error_message", "error"),
                      ("input_title", "promptTitle"), ("input_message", "prompt")):
        if key in o:
            a.append(f' {name}="{_attr(o[key])}"')
    r1, c1, r2, c2 = v.cells
    sqref = o.get("multi_range") or (f"{_COLS[c1]}{r1 + 1}" if (r1, c1) == (r2, c2)
                                     else f"{_COLS[c1]}{r1 + 1}:{_COLS[c2]}{r2 + 1}")
    a.append(f' sqref="{sqref}"><formula1>{_formula(first, kind)}</formula1>')
    if second is not None:
        a.append(f"<formula2>{_formula(second, kind)}</formula2>")
    a.append("</dataValidation>")
    return "".join(a)


def _formula(value, kind: str) -> str:
    if isinstance(value, list):
        return _data('"' + ",".join(str(x) for x in value) + '"')
    if isinstance(value, dt.datetime):
        return f"{_datetime_to_excel_datetime(value, False, False):.16g}"
    if isinstance(value, str):
        return _data(value[1:] if value.startswith("=") else value)
    return _data(str(value))


# ----------------------------------------------------------------- the workbook

class Workbook:
    """workbook.write_workbook's calls of xlsxwriter.Workbook; `filename` is a binary file object."""

    def __init__(self, filename, options: dict | None = None):
        if not hasattr(filename, "write"):
            raise TypeError("xlsxlite writes to a file object (workbook.write_workbook's buffer)")
        # text is only ever text here: what XlsxWriter does with these options set to False
        unsupported = {k: v for k, v in (options or {}).items()
                       if not (k == "in_memory" or (k in ("strings_to_formulas", "strings_to_urls") and v is False))}
        if unsupported:
            raise ValueError(f"xlsxlite does not support the options {unsupported}")
        self.filename = filename
        self.sheets: list[Worksheet] = []
        self.properties: dict = {}
        self.custom: list[tuple[str, str]] = []
        self.names: list[tuple[str, str]] = []
        self.shared = _Shared()


    def set_properties(self, properties: dict) -> None:
        self.properties = dict(properties)

    def set_custom_property(self, name: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("xlsxlite: custom properties are text")
        self.custom.append((name, value))

    def add_format(self, properties: dict | None = None) -> Format:
        props = tuple(sorted({**_DEFAULT_FONT, **(properties or {})}.items()))
        return Format(props, _format_key(props))

    def add_worksheet(self, name: str, worksheet_class=None) -> Worksheet:
        ws = Worksheet(self.shared, name, len(self.sheets))
        self.sheets.append(ws)
        return ws

    def define_name(self, name: str, formula: str) -> int:
        self.names.append((name, formula.lstrip("=")))
        return 0

    def close(self) -> None:
        write_zip(self.filename, self._members())

    # ------------------------------------------------------------- the package

    def _members(self) -> list[tuple[str, bytes]]:
        sheets = self.sheets
        active = self.shared.active
        if active == 0:
            sheets[0].selected, sheets[0].hidden = 1, 0
        formats: list[Format] = []
        indices: dict[str, int] = {}

        def xf(fmt: Format) -> int:
            i = indices.get(fmt.key)
            if i is None:
                i = indices[fmt.key] = len(indices) + 1
                formats.append(fmt)
            return i

        commented = [ws for ws in sheets if ws.comments]
        sheet_xml = [ws._xml(xf, ws in commented[:1]) for ws in sheets]
        if len(commented) > 1:
            raise ValueError("xlsxlite: comments on one sheet only")
        defined = self._defined_names()
        members = [("[Content_Types].xml", self._content_types(bool(commented))),
                   ("_rels/.rels", _rels((("/officeDocument", "xl/workbook.xml"),
                                          ("/metadata/core-properties", "docProps/core.xml", True),
                                          ("/extended-properties", "docProps/app.xml"),
                                          *([("/custom-properties", "docProps/custom.xml")] if self.custom else [])))),
                   ("xl/_rels/workbook.xml.rels", _rels(
                       (*(("/worksheet", f"worksheets/sheet{i}.xml") for i in range(1, len(sheets) + 1)),
                        ("/theme", "theme/theme1.xml"), ("/styles", "styles.xml"),
                        *([("/sharedStrings", "sharedStrings.xml")] if self.shared.sst.strings else []))))]
        members += [(f"xl/worksheets/sheet{i}.xml", x.encode()) for i, x in enumerate(sheet_xml, start=1)]
        members.append(("xl/workbook.xml", self._workbook_xml(defined, active).encode()))
        if commented:
            vml, comments = _comment_parts(commented[0])
            members += [("xl/drawings/vmlDrawing1.vml", vml), ("xl/comments1.xml", comments)]
        if self.shared.sst.strings:
            members.append(("xl/sharedStrings.xml", self._sst_xml().encode()))
        members.append(("xl/styles.xml", _styles_xml(formats, bool(commented))))
        if self.custom:
            members.append(("docProps/custom.xml", _part(Custom(), lambda p: p._set_properties(
                [(n, v, "text") for n, v in self.custom]))))
        members.append(("xl/theme/theme1.xml", _theme()))
        if commented:
            i = sheets.index(commented[0]) + 1
            members.append((f"xl/worksheets/_rels/sheet{i}.xml.rels",
                            _rels((("/vmlDrawing", "../drawings/vmlDrawing1.vml"), ("/comments", "../comments1.xml")))))
        members.append(("docProps/core.xml", _part(Core(), lambda p: p._set_properties(self._core_properties()))))
        members.append(("docProps/app.xml", self._app_xml(defined).encode()))
        return members

    def _core_properties(self) -> dict:
        props = {**self.properties}
        props.setdefault("created", dt.datetime.now(dt.timezone.utc))
        return props

    def _defined_names(self) -> list[tuple[str, int, str]]:
        """(name, sheet index or -1, range) in Workbook._sort_defined_names order."""
        names = [(n, -1, f) for n, f in self.names]
        for ws in self.sheets:
            if ws.print_area_range:
                names.append(("_xlnm.Print_Area", ws.index, ws.print_area_range))
            if ws.repeat_row_range:
                names.append(("_xlnm.Print_Titles", ws.index, ws.repeat_row_range))
        return sorted(names, key=lambda n: n[0].replace("_xlnm.", "").lower() + "::" + n[2].lstrip("'").lower())

    def _workbook_xml(self, defined, active: int) -> str:
        active = f' activeTab="{active}"' if active else ""
        out = [_DECL, f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">',
               '<fileVersion appName="xl" lastEdited="4" lowestEdited="4" rupBuild="4505"/>'
               '<workbookPr defaultThemeVersion="124226"/><bookViews><workbookView xWindow="240" yWindow="15" '
               f'windowWidth="16095" windowHeight="9660"{active}/></bookViews><sheets>']
        for i, ws in enumerate(self.sheets, start=1):
            state = {1: ' state="hidden"', 2: ' state="veryHidden"'}.get(ws.hidden, "")
            out.append(f'<sheet name="{_attr(ws.name)}" sheetId="{i}"{state} r:id="rId{i}"/>')
        out.append("</sheets>")
        if defined:
            out.append("<definedNames>")
            for name, index, ref in defined:
                local = f' localSheetId="{index}"' if index != -1 else ""
                out.append(f'<definedName name="{_attr(name)}"{local}>{_data(ref)}</definedName>')
            out.append("</definedNames>")
        out.append('<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')
        return "".join(out)

    def _sst_xml(self) -> str:
        out = [_DECL, f'<sst xmlns="{_MAIN}" count="{self.shared.sst.count}" uniqueCount="{len(self.shared.sst.strings)}">']
        for s in self.shared.sst.strings:              # insertion order is index order
            if _CONTROL.search(s):
                s = _StockWorksheet._escape_control_characters(s)
            # (stock XlsxWriter writes a text that starts with <r> and ends with </r> unescaped, as
            # if it were its own rich-text XML: a department's "<r>…</r>" would break the file)
            space = ' xml:space="preserve"' if _preserve_whitespace(s) else ""
            out.append(f"<si><t{space}>{_data(s)}</t></si>")
        out.append("</sst>")
        return "".join(out)

    def _content_types(self, comments: bool) -> bytes:
        key = (len(self.sheets), comments, bool(self.shared.sst.strings), bool(self.custom))
        data = _CONTENT_TYPES.get(key)
        if data is None:
            def fill(ct: ContentTypes) -> None:
                for i in range(1, len(self.sheets) + 1):
                    ct._add_worksheet_name(f"sheet{i}")
                if comments:
                    ct._add_vml_name()
                    ct._add_comment_name("comments1")
                if self.shared.sst.strings:
                    ct._add_shared_strings()
                if self.custom:
                    ct._add_custom_properties()
            data = _CONTENT_TYPES[key] = _part(ContentTypes(), fill)
        return data

    def _app_xml(self, defined) -> str:
        # Packager._write_app_file: visible and hidden sheets (not very hidden), then the named ranges
        sheets = [ws.name for ws in self.sheets if ws.hidden != 2]
        ranges = []
        for name, index, ref in defined:
            if "!" in ref:
                sheet = ref.split("!", 1)[0]
                ranges.append(sheet + "!" + name.replace("_xlnm.", "") if name.startswith("_xlnm.")
                              else sheet + "!" + name if index != -1 else name)
        pairs = [("Worksheets", len(sheets))] + ([("Named Ranges", len(ranges))] if ranges else [])
        parts = sheets + ranges
        out = [_DECL, '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
               'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
               "<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>"
               f'<HeadingPairs><vt:vector size="{2 * len(pairs)}" baseType="variant">']
        for name, n in pairs:
            out.append(f"<vt:variant><vt:lpstr>{name}</vt:lpstr></vt:variant><vt:variant><vt:i4>{n}</vt:i4></vt:variant>")
        out.append(f'</vt:vector></HeadingPairs><TitlesOfParts><vt:vector size="{len(parts)}" baseType="lpstr">')
        out.extend(f"<vt:lpstr>{_data(p)}</vt:lpstr>" for p in parts)
        out.append("</vt:vector></TitlesOfParts>")
        out.append(_app_tail(self.properties))
        return "".join(out)


_CONTENT_TYPES: dict[tuple, bytes] = {}
_THEME: list[bytes] = []


def _part(writer, fill) -> bytes:
    """One of XlsxWriter's own part writers (small, rare or constant parts), rendered to bytes."""
    buf = io.StringIO()
    fill(writer)
    writer._set_xml_writer(buf)
    writer._assemble_xml_file()
    return buf.getvalue().encode("utf-8")


def _theme() -> bytes:
    if not _THEME:
        _THEME.append(THEME_XML_2007.encode("utf-8"))
    return _THEME[0]


@functools.lru_cache(maxsize=64)
def _rels(links: tuple[tuple, ...]) -> bytes:
    """A relationships part by XlsxWriter's own writer; the same few in every workbook, so each is
    rendered once per process (the writer took ~0.15 ms a workbook for three tiny parts)."""
    def fill(r: Relationships) -> None:
        for link in links:
            if len(link) == 3:
                r._add_package_relationship(link[0], link[1])
            else:
                r._add_document_relationship(link[0], link[1])
    return _part(Relationships(), fill)


def _app_tail(properties: dict) -> str:
    """What App writes after the part names: Manager, Company, ... AppVersion."""
    app = App()
    app._set_properties(properties)
    buf = io.StringIO()
    app._set_xml_writer(buf)
    app._write_manager()
    app._write_company()
    app._write_links_up_to_date()
    app._write_shared_doc()
    app._write_hyperlink_base()
    app._write_hyperlinks_changed()
    app._write_app_version()
    return buf.getvalue() + "</Properties>"


def _comment_parts(sheet: Worksheet) -> tuple[bytes, bytes]:
    """vmlDrawing1.vml and comments1.xml: the boxes placed by XlsxWriter's own geometry, from a
    stock worksheet with this sheet's column widths and row heights."""
    ws = _StockWorksheet()
    ws.name, ws.index = sheet.name, sheet.index     # the geometry needs no more of a workbook
    for col, px in sheet.widths.items():
        ws.set_column_pixels(col, col, px)
    for row, px in sheet.heights.items():
        ws.set_row_pixels(row, px)
    for row, col, text, options in sheet.comments:
        ws.write_comment(row, col, text, options)
    ws._prepare_vml_objects(1, 1024, 1, 1)
    vml = io.StringIO()
    v = Vml()
    v._set_xml_writer(vml)
    v._assemble_xml_file(ws.vml_data_id, ws.vml_shape_id, ws.comments_list, ws.buttons_list)
    xml = io.StringIO()
    c = Comments()
    c._set_xml_writer(xml)
    c._assemble_xml_file(ws.comments_list)
    return vml.getvalue().encode("utf-8"), xml.getvalue().encode("utf-8")
