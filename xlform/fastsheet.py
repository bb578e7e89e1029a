"""XlsxWriter with its hottest XML writers made cheap, producing the SAME bytes as stock XlsxWriter,
and `StringRows`, xlform's own writer for a sheet of plain text (the metadata sheet).

Why: profiling `generate` showed most of its time inside XlsxWriter's generic serialisation — per
cell a list of attribute tuples, an escaping regex per attribute, a method call per tag — although
almost every cell xlform writes is a plain string, number or blank with a format. These subclasses
override only those inner loops (the rows of `<sheetData>`, the `<si>` strings of sharedStrings.xml
and the per-cell write calls) with f-strings that emit exactly what stock XlsxWriter emits; anything
unusual (formulas, booleans, rich strings, text that needs escaping) is handed back to the stock code.
Same for the defined names of workbook.xml, the part names of app.xml and merge_range.

They rely on XlsxWriter internals, so they are used only with the exact versions that
tests/test_fastsheet.py proves byte-identical against stock XlsxWriter (`SUPPORTED`); with any
other version `workbook_class()` returns the stock Workbook and nothing here runs (slower, same
workbook). After upgrading XlsxWriter: run that test, then add the version.
"""
from __future__ import annotations

import datetime as dt
import re

import xlsxwriter
from xlsxwriter.app import App
from xlsxwriter.format import Format
from xlsxwriter.packager import Packager
from xlsxwriter.sharedstrings import SharedStrings
from xlsxwriter.utility import _preserve_whitespace, xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import CellBlankTuple, CellDatetimeTuple, CellNumberTuple, CellStringTuple, Worksheet

from .xlsxzip import write_zip

# versions whose internals tests/test_fastsheet.py compares byte for byte with the stock writers
SUPPORTED = ("3.3.1",)

class _ColNames(dict):
    def __missing__(self, col: int) -> str:
        name = self[col] = xl_col_to_name(col)
        return name


_COLS = _ColNames()
_FORMAT_TEMPLATES: dict[tuple, Format] = {}     # FastWorkbook.add_format: properties -> a pristine Format
_STYLES: dict[tuple, str] = {}      # FastWorkbook: its formats' properties in xf order -> styles.xml
# a shared string the stock writer would change (escape, _xHHHH_ control codes, xml:space, rich text)
_SST_SLOW = re.compile("[\x00-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
# an inline string that needs more than <t>text</t>: what _SST_SLOW finds, or white space at an end
_INLINE_SLOW = re.compile("[\x00-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\\s|\\s$")
# _INLINE_SLOW over a row's texts joined by "|": white space next to a "|" may be inside a text,
# so this finds every row that has a slow text (and a few more, which take the per-text path)
_ROW_SLOW = re.compile("[\x00-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_|(?:^|\\|)\\s|\\s(?:\\||$)")
# a defined name stock define_name() accepts without a warning and writes without escaping:
# ASCII, not starting with a digit or ".", and an "_" so that it can look like no cell reference
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*_[A-Za-z0-9_.]*")


# what XlsxWriter itself sets on a Format while numbering it: not a change of its look
_BOOKKEEPING = frozenset({"xf_index", "dxf_index", "_format_key", "font_index", "has_font", "has_dxf_font",
                          "num_format_index", "border_index", "has_border", "has_dxf_border", "fill_index",
                          "has_fill", "has_dxf_fill", "xf_format_indices", "dxf_format_indices"})


class KeyedFormat(Format):
    """A Format that remembers the properties it was made from (`_xlform_key`, what styles.xml
    depends on) for as long as nothing changes it: any set_...() afterwards forgets them."""
    _xlform_key: tuple | None = None

    def __setattr__(self, name, value) -> None:
        if name not in _BOOKKEEPING:
            self.__dict__["_xlform_key"] = None
        object.__setattr__(self, name, value)


def supported(version: str = xlsxwriter.__version__) -> bool:
    return version in SUPPORTED


def workbook_class() -> type[Workbook]:
    return FastWorkbook if supported() else Workbook


class FastWorksheet(Worksheet):
    """Per-cell writes without the A1-notation wrapper; `<sheetData>` rows written with f-strings."""

    def write_string(self, row, col, string, cell_format=None):
        if row.__class__ is not int or col.__class__ is not int:
            return super().write_string(row, col, string, cell_format)
        return self._write_string(row, col, string, cell_format)

    def write_number(self, row, col, number, cell_format=None):
        if row.__class__ is not int or col.__class__ is not int:
            return super().write_number(row, col, number, cell_format)
        return self._write_number(row, col, number, cell_format)

    def write_blank(self, row, col, blank, cell_format=None):
        if row.__class__ is not int or col.__class__ is not int:
            return super().write_blank(row, col, blank, cell_format)
        return self._write_blank(row, col, blank, cell_format)

    def merge_range(self, first_row, first_col, last_row, last_col, data, cell_format=None):
        # stock without the A1 wrapper and with the padding blanks stored directly; a single cell,
        # a reversed range, an overlap or constant_memory take the stock path (warning, swap, error)
        if (first_row.__class__ is not int or first_col.__class__ is not int or self.constant_memory
                or not (first_row <= last_row and first_col <= last_col)
                or (first_row == last_row and first_col == last_col)):
            return super().merge_range(first_row, first_col, last_row, last_col, data, cell_format)
        if self._check_dimensions(first_row, first_col) or self._check_dimensions(last_row, last_col):
            return -1
        if not self._merge(first_row, first_col, last_row, last_col, cell_format):
            return super().merge_range(first_row, first_col, last_row, last_col, data, cell_format)
        self._write(first_row, first_col, data, cell_format)
        return 0

    def _merge(self, first_row, first_col, last_row, last_col, cell_format) -> bool:
        # merge_range but for its first cell, dimensions checked by the caller; False on an overlap
        cells = [(r, c) for r in range(first_row, last_row + 1) for c in range(first_col, last_col + 1)]
        merged = self.merged_cells
        if not (merged.keys().isdisjoint(cells) and self.table_cells.keys().isdisjoint(cells)):
            return False
        merged.update(dict.fromkeys(cells, f"{_COLS[first_col]}{first_row + 1}:{_COLS[last_col]}{last_row + 1}"))
        self.merge.append([first_row, first_col, last_row, last_col])
        if cell_format is not None:          # stock writes no blank without a format
            table, blank = self.table, CellBlankTuple(cell_format)     # immutable: one for all
            for r, c in cells[1:]:
                table[r][c] = blank
        return True

    def put_cells(self, cells) -> None:
        """Many cells in one call, each (row, col, last_row, last_col, value, format): a range of more
        than one cell is merged as merge_range(..., None, format) does, then the value is written to
        its first cell as write_string / write_number / write_blank would. The same table entries,
        shared-string order and dimensions as those calls, without a method call and a dimension
        check per cell; anything else (booleans, dates, long text, NaN, out of bounds, constant
        memory) takes the per-cell calls."""
        cells = list(cells)
        # every corner in bounds (a reversed range has its first corner last)
        if (self.constant_memory or not cells or min(min(c[0], c[2]) for c in cells) < 0
                or min(min(c[1], c[3]) for c in cells) < 0 or max(max(c[0], c[2]) for c in cells) >= self.xls_rowmax
                or max(max(c[1], c[3]) for c in cells) >= self.xls_colmax):
            return put_cells_each(self, cells)
        table, sst = self.table, self.str_table._get_shared_string_index
        for r, c, lr, lc, v, fmt in cells:
            if (lr != r or lc != c) and (lr < r or lc < c or not self._merge(r, c, lr, lc, fmt)):
                self.merge_range(r, c, lr, lc, None, fmt)   # reversed or overlapping: stock's warning or error
            kind = v.__class__
            if kind is str and 0 < len(v) <= 16383:     # longer: stock's UTF-16 length check
                table[r][c] = CellStringTuple(sst(v), fmt)
            elif v is None or (kind is str and not v):
                if fmt is not None:
                    table[r][c] = CellBlankTuple(fmt)
            elif kind is int or (kind is float and v - v == 0):     # not NaN or ±inf
                table[r][c] = CellNumberTuple(v, fmt)
            else:
                put_cells_each(self, [(r, c, r, c, v, fmt)])
        # the dimensions as stock sets them: both corners of a merged range; a blank without a
        # format is no cell and leaves them alone
        merged = [x for x in cells if x[2] != x[0] or x[3] != x[1]]
        written = [x for x in cells if x[5] is not None or not (x[4] is None or x[4] == "")]
        rows = [x[0] for x in written] + [x[0] for x in merged] + [x[2] for x in merged]
        cols = [x[1] for x in written] + [x[1] for x in merged] + [x[3] for x in merged]
        if rows:
            self._check_dimensions(min(rows), min(cols))
            self._check_dimensions(max(rows), max(cols))

    def _calculate_spans(self) -> None:
        # stock: every column of every row in the dimension, for each block of 16 rows
        lo_c, hi_c = self.dim_colmin, self.dim_colmax
        blocks: dict[int, list[int]] = {}
        for source in (self.table, self.comments):
            for row_num, cols in source.items():
                if not cols or not self.dim_rowmin <= row_num <= self.dim_rowmax:
                    continue
                inside = [c for c in cols if lo_c <= c <= hi_c]
                if not inside:
                    continue
                b = blocks.setdefault(row_num // 16, [min(inside), max(inside)])
                b[0], b[1] = min(b[0], *inside), max(b[1], *inside)
        self.row_spans = {k: f"{lo + 1}:{hi + 1}" for k, (lo, hi) in blocks.items()}

    def _write_rows(self) -> None:
        if self.constant_memory:
            return super()._write_rows()
        self._calculate_spans()
        table, row_info, comments, spans = self.table, self.row_info, self.comments, self.row_spans
        lo, hi = self.dim_rowmin, self.dim_rowmax
        rows = {r for r in table if table[r]} | set(row_info) | set(comments)
        write = self.fh.write
        xf: dict = {}             # Format -> ' s="N"'; None -> this row's attribute for unformatted cells
        col_formats = any(info.column_format is not None for info in self.col_info.values())
        for row_num in sorted(r for r in rows if lo <= r <= hi):
            span = spans.get(row_num // 16)
            cells = table.get(row_num)
            info = row_info.get(row_num)
            if not cells:
                self._write_empty_row(row_num, span, info)
                continue
            self._write_row(row_num, span, info)
            ref = str(row_num + 1)
            # unformatted cells take their row's or column's format: "" when neither has one
            xf[None] = None if col_formats or (info is not None and info.row_format) else ""
            out = []
            for col_num, cell in sorted(cells.items()):
                kind = cell.__class__
                s = xf.get(cell.format)
                if s is None:
                    s = self._s(row_num, col_num, cell.format, xf)
                if kind is CellStringTuple:
                    out.append(f'<c r="{_COLS[col_num]}{ref}"{s} t="s"><v>{cell.string}</v></c>')
                elif kind is CellNumberTuple or kind is CellDatetimeTuple:
                    out.append(f'<c r="{_COLS[col_num]}{ref}"{s}><v>{cell.number:.16G}</v></c>')
                elif kind is CellBlankTuple:
                    out.append(f'<c r="{_COLS[col_num]}{ref}"{s}/>')
                else:
                    write("".join(out))
                    out = []
                    self._write_cell(row_num, col_num, cell)
            out.append("</row>")
            write("".join(out))

    def _write_row(self, row, spans, row_info=None, empty_row=False) -> None:
        # stock's <row> element, attribute for attribute, without the attribute list
        if row_info:
            height, row_format = row_info.height, row_info.row_format
            hidden, level, collapsed = row_info.hidden, row_info.level, row_info.collapsed
        else:
            height, row_format, hidden, level, collapsed = None, None, 0, 0, 0
        if height is None:
            height = self.default_row_height
        xf_index = row_format._get_xf_index() if row_format else 0
        custom = height != self.original_row_height or height != self.default_row_height
        self.fh.write("".join((
            f'<row r="{row + 1}"', f' spans="{spans}"' if spans else "", f' s="{xf_index}"' if xf_index else "",
            ' customFormat="1"' if row_format else "", f' ht="{height * 0.75:.16g}"' if custom else "",
            ' hidden="1"' if hidden else "", ' customHeight="1"' if custom else "",
            f' outlineLevel="{level}"' if level else "", ' collapsed="1"' if collapsed else "",
            ' x14ac:dyDescent="0.25"' if self.excel_version == 2010 else "", "/>" if empty_row else ">")))

    def _write_merge_cells(self) -> None:
        merged = self.merge
        if merged:
            self.fh.write(f'<mergeCells count="{len(merged)}">' + "".join(
                f'<mergeCell ref="{_COLS[c1]}{r1 + 1}:{_COLS[c2]}{r2 + 1}"/>' for r1, c1, r2, c2 in merged)
                + "</mergeCells>")

    def _s(self, row: int, col: int, fmt, cache: dict) -> str:
        # the cell's style attribute: its format, else its row's, else its column's (stock order)
        if not fmt:
            info = self.row_info.get(row)
            if info is not None and info.row_format:
                fmt = info.row_format
            else:
                info = self.col_info.get(col)
                fmt = info.column_format if info is not None else None
                if fmt is None:
                    return ""
        s = cache.get(fmt)
        if s is None:
            s = cache[fmt] = f' s="{fmt._get_xf_index()}"'
        return s


class FastSharedStrings(SharedStrings):
    def _write_sst_strings(self) -> None:
        out = []
        for string in self.string_table.string_array:
            if _SST_SLOW.search(string) or _preserve_whitespace(string):
                self.fh.write("".join(out))
                out = []
                self._write_si(string)
            else:
                out.append(f"<si><t>{string}</t></si>")
        self.fh.write("".join(out))


class StringRows:
    """A sheet of plain text only, given as rows of strings and written straight from them: no
    per-cell table entry, no style; columns from `inline_from` on as inline strings.

    For the hidden metadata sheet (~125 rows × 6 strings: the field catalogue), which through the
    cell API cost a third of writing a whole workbook. Inline strings are what XlsxWriter itself
    writes in constant_memory mode, and what Excel, LibreOffice, calamine and openpyxl read like
    shared ones; the columns before `inline_from` (the key/value metadata) stay shared strings,
    where a tool that edits the metadata finds them as before. In a row, None is no cell and "" an
    empty text cell."""

    _string_rows: str | None = None         # the <row> elements, rendered by put_string_rows

    def put_string_rows(self, rows: list[list[str | None]], inline_from: int = 0) -> None:
        if self._string_rows is not None or self.table:
            raise ValueError("put_string_rows: once, on an empty sheet")
        add = self.str_table._get_shared_string_index     # in row order, as write_string would
        row_slow, slow, cols = _ROW_SLOW.search, _INLINE_SLOW.search, _COLS
        out = []
        used_rows, col_lo, col_hi = [], [], []
        for r, row in enumerate(rows, start=1):
            # the usual row has no text that needs escaping: one search over all its inline texts
            plain = not row_slow("|".join([v for v in row[inline_from:] if v is not None]))
            cells, first = [], None
            for c, v in enumerate(row):
                if v is None:
                    continue
                if first is None:
                    first = c
                last = c
                if c < inline_from:
                    cells.append(f'<c r="{cols[c]}{r}" t="s"><v>{add(v)}</v></c>')
                elif plain or not slow(v):
                    cells.append(f'<c r="{cols[c]}{r}" t="inlineStr"><is><t>{v}</t></is></c>')
                else:
                    cells.append(f'<c r="{cols[c]}{r}" t="inlineStr"><is>{inline_text(v)}</is></c>')
            if cells:
                out.append(f'<row r="{r}">{"".join(cells)}</row>')
                used_rows.append(r - 1)
                col_lo.append(first)
                col_hi.append(last)
        if not out:
            raise ValueError("put_string_rows: at least one cell")
        self._string_rows = "".join(out)
        self._check_dimensions(used_rows[0], min(col_lo))
        self._check_dimensions(used_rows[-1], max(col_hi))

    def _write_sheet_data(self) -> None:
        if self._string_rows is None:
            return super()._write_sheet_data()
        if self.table or self.row_info or self.comments:
            raise ValueError("a sheet written with put_string_rows cannot have other cells or row settings")
        self.fh.write(f"<sheetData>{self._string_rows}</sheetData>")


def put_cells_each(ws: Worksheet, cells) -> None:
    """What FastWorksheet.put_cells does, cell by cell through the stock calls (any Worksheet)."""
    for r, c, lr, lc, v, fmt in cells:
        if lr != r or lc != c:
            ws.merge_range(r, c, lr, lc, None, fmt)
        put_value(ws, r, c, v, fmt)


def put_value(ws: Worksheet, row: int, col: int, value, fmt=None) -> None:
    """One value written with the write_* method for its type. Text always with write_string: a
    department's text starting with "=" must never become a formula."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt)
    elif isinstance(value, (dt.date, dt.datetime)):
        ws.write_datetime(row, col, value if isinstance(value, dt.datetime)
                          else dt.datetime(value.year, value.month, value.day), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def inline_text(text: str) -> str:
    """The <t> element of an inline string exactly as XlsxWriter writes it: _xHHHH_ control codes,
    &, < and > escaped, xml:space where white space stands at an end (also used by consolidate)."""
    if _SST_SLOW.search(text):
        text = Worksheet._escape_control_characters(text)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    return f"<t{space}>{text}</t>"


class StringRowsSheet(StringRows, Worksheet):
    pass


class FastStringRowsSheet(StringRows, FastWorksheet):
    pass


class FastApp(App):
    def _write_vt_data(self, vt_data) -> None:
        # the part names of app.xml: every sheet and every one of ~125 defined names
        kind, data = vt_data
        if data.__class__ is not str or _SST_SLOW.search(data):
            return super()._write_vt_data(vt_data)
        self.fh.write(f"<vt:{kind}>{data}</vt:{kind}>")


class FastPackager(Packager):
    def _write_shared_strings_file(self) -> None:
        # stock, with FastSharedStrings
        if not self.workbook.str_table.count:
            return
        sst = FastSharedStrings()
        sst.string_table = self.workbook.str_table
        sst._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        sst._assemble_xml_file()

    def _write_styles_file(self) -> None:
        # styles.xml is a function of the formats in xf order: every workbook of a form uses the
        # same ones, so it is written once per process and copied (FastWorkbook.styles_key)
        wb = self.workbook
        key = wb.styles_key if self.in_memory else None
        cached = _STYLES.get(key) if key is not None else None
        if cached is not None:
            self._filename("xl/styles.xml").write(cached)
            return
        if not wb.formats_numbered:     # the cache lost the key meanwhile (another thread cleared it)
            Workbook._prepare_format_properties(wb)
            wb.formats_numbered = True
        super()._write_styles_file()
        if key is not None:
            if len(_STYLES) > 256:
                _STYLES.clear()
            _STYLES[key] = self.filenames[-1][0].getvalue()

    def _write_app_file(self) -> None:
        # stock (XlsxWriter 3.3.1), with FastApp
        properties = self.workbook.doc_properties
        app = FastApp()
        worksheet_count = 0
        for worksheet in self.workbook.worksheets():
            if worksheet.is_chartsheet:
                continue
            if worksheet.hidden != 2:       # veryHidden sheets are not listed
                app._add_part_name(worksheet.name)
                worksheet_count += 1
        app._add_heading_pair(["Worksheets", worksheet_count])
        for worksheet in self.workbook.worksheets():
            if worksheet.is_chartsheet:
                app._add_part_name(worksheet.name)
        app._add_heading_pair(["Charts", self.chartsheet_count])
        if self.named_ranges:
            app._add_heading_pair(["Named Ranges", len(self.named_ranges)])
        for named_range in self.named_ranges:
            app._add_part_name(named_range)
        app._set_properties(properties)
        app.doc_security = self.workbook.read_only
        app._set_xml_writer(self._filename("docProps/app.xml"))
        app._assemble_xml_file()


class FastWorkbook(Workbook):
    worksheet_class = FastWorksheet
    string_rows_class = FastStringRowsSheet
    styles_key: tuple | None = None
    formats_numbered = False

    def _prepare_format_properties(self) -> None:
        # the fonts, fills, borders and number formats are numbered only for styles.xml: when
        # FastPackager has that file for these formats already, only their xf order is needed
        self._prepare_formats()
        keys = [f._xlform_key if f.__class__ is KeyedFormat else None for f in self.xf_formats]
        if self.dxf_formats or None in keys or not self.in_memory:
            self.styles_key = None
        else:
            self.styles_key = (tuple(keys), self.has_comments, tuple(self.custom_colors), self.excel2003_style)
            if self.styles_key in _STYLES:
                return
        super()._prepare_format_properties()
        self.formats_numbered = True

    def add_format(self, properties=None):
        # a Format sets ~60 attributes through its setters; every workbook of a form asks for the
        # same ~20, so each is built once per process and copied (a copy joins this workbook only)
        props = self.default_format_properties.copy()
        if properties:
            props.update(properties)
        try:
            key = tuple(sorted(props.items()))
            template = _FORMAT_TEMPLATES.get(key)
        except TypeError:                      # an unhashable property value
            return super().add_format(properties)
        if template is None:
            if len(_FORMAT_TEMPLATES) > 4096:
                _FORMAT_TEMPLATES.clear()
            template = _FORMAT_TEMPLATES[key] = KeyedFormat(props)
            template.__dict__["_xlform_key"] = key      # KeyedFormat: set last, Format() sets ~60
        fmt = KeyedFormat.__new__(KeyedFormat)      # copy.copy, without its generic machinery
        fmt.__dict__.update(template.__dict__)
        fmt.xf_format_indices, fmt.dxf_format_indices = self.xf_format_indices, self.dxf_format_indices
        self.formats.append(fmt)
        return fmt

    def define_name(self, name, formula):
        # stock checks every name with five regular expressions; a plain global name passes them all
        if len(name) > 255 or not _PLAIN_NAME.fullmatch(name):
            return super().define_name(name, formula)
        self.defined_names.append([name, -1, formula.lstrip("="), False])
        return 0

    def _write_defined_name(self, defined_name) -> None:
        name, sheet_id, sheet_range, hidden = defined_name
        if sheet_id != -1 or hidden or not _PLAIN_NAME.fullmatch(name) or _SST_SLOW.search(sheet_range):
            return super()._write_defined_name(defined_name)
        self.fh.write(f'<definedName name="{name}">{sheet_range}</definedName>')

    def _get_packager(self):
        return FastPackager()

    def _store_workbook(self) -> None:
        # stock (XlsxWriter 3.3.1) for an in-memory workbook, the container written by xlsxzip
        if not self.in_memory:
            return super()._store_workbook()
        packager = self._get_packager()
        if not self.worksheets():
            self.add_worksheet()
        if self.worksheet_meta.activesheet == 0:
            self.worksheets_objs[0].selected = 1
            self.worksheets_objs[0].hidden = 0
        for sheet in self.worksheets():
            if sheet.index == self.worksheet_meta.activesheet:
                sheet.active = 1
        if self.vba_project:
            for sheet in self.worksheets():
                if sheet.vba_codename is None:
                    sheet.set_vba_name()
        self._prepare_sst_string_data()
        self._prepare_vml()
        self._prepare_defined_names()
        self._prepare_drawings()
        self._add_chart_data()
        self._prepare_tables()
        self._prepare_metadata()
        packager._add_workbook(self)
        packager._set_tmpdir(self.tmpdir)
        packager._set_in_memory(self.in_memory)
        members = [(name, data.getvalue() if is_binary else data.getvalue().encode("utf-8"))
                   for data, name, is_binary in packager._create_package()]
        if hasattr(self.filename, "write"):
            write_zip(self.filename, members)
        else:
            with open(self.filename, "wb") as fh:
                write_zip(fh, members)
