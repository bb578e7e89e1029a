"""Write a Layout as an .xlsx with XlsxWriter: the form sheet, its protection, validations, names.

Used by `generate` (an empty template) and by `annotate` (the same template with the returned
values, computed scores and finding comments in it), so an annotated workbook is protected and
open exactly where the template was, and validates again like any returned workbook.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import xlsxwriter
from xlsxwriter.utility import xl_range

from . import __version__, gcpause, xlsxlite
from .atomic import atomic_open
from .layout import Cell, Layout, fit_heights
from .read import META_SHEET  # noqa: F401 - the hidden metadata sheet, named where it is read
from .spec import PAPER_SIZES, col_letter

LISTS_SHEET = "_lists"      # hidden: dropdown lists too long for an inline validation
PROP_PREFIX = "xlform."
MARK_COLORS = {"error": "#F4B6B6", "warning": "#FCE4A8", "info": "#DDEBF7"}
_TYPE_FORMATS = {"amount": "#,##0.00", "percent": "0.00%", "score": "0.00"}


@dataclass
class Extras:
    """What annotation adds to a template: values, marks and comments, extra sheets."""
    values: dict[str, Any] = field(default_factory=dict)        # field name -> value
    marks: dict[str, str] = field(default_factory=dict)         # field name -> severity
    comments: dict[str, str] = field(default_factory=dict)      # field name -> comment text
    add_sheets: Callable[[xlsxwriter.Workbook], None] | None = None


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook, layout: Layout):
        self.wb, self.spec, self.cache = wb, layout.spec, {}

    def get(self, style: str, input_type: str | None, value_type: str | None, mark: str | None) -> Any:
        key = (style, input_type, value_type, mark)
        fmt = self.cache.get(key)
        if fmt is None:
            spec = self.spec
            props: dict[str, Any] = {"font_name": spec.font, "font_size": spec.font_size, "valign": "vcenter"}
            props.update(spec.cell_styles.get(style, {}))
            if "size" in props:
                props["font_size"] = props.pop("size")
            if input_type is not None:
                it = spec.input_types[input_type]
                props.update(locked=False, bg_color=spec.input_fill)
                if it.format:
                    props["num_format"] = it.format
            elif value_type in _TYPE_FORMATS:
                props["num_format"] = _TYPE_FORMATS[value_type]
            if mark:
                props["bg_color"] = MARK_COLORS[mark]
            fmt = self.cache[key] = self.wb.add_format(props)
        return fmt


def write_workbook(layout: Layout, path: Path, meta: dict[str, str], *, password: str | None = None,
                   extras: Extras | None = None) -> None:
    """Write `layout` to `path` atomically: built in memory, then written once into the temp file."""
    buf = io.BytesIO()
    with gcpause.paused():
        _write(layout, buf, meta, password, extras or Extras())
    with atomic_open(Path(path)) as fh:
        fh.write(buf.getbuffer())


def workbook_class() -> type:
    """xlsxlite's writer where it is proven byte-identical to the installed XlsxWriter, else
    XlsxWriter itself (the same workbook, slower)."""
    return xlsxlite.Workbook if xlsxlite.supported() else xlsxwriter.Workbook


def _write(layout: Layout, path, meta: dict[str, str], password: str | None, extras: Extras) -> None:
    spec = layout.spec
    wb = workbook_class()(path, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True})
    wb.set_properties({"title": meta.get("title", ""), "subject": spec.name, "author": "xlform",
                       "comments": f"xlform {__version__} · {spec.id} {spec.version}"})
    for key in ("form_id", "form_version", "project_code", "fingerprint", "year"):
        if meta.get(key):
            wb.set_custom_property(PROP_PREFIX + key, str(meta[key]))
    ws = wb.add_worksheet(spec.sheet)
    fmts = _Formats(wb, layout)

    for i, w in enumerate(spec.columns):
        ws.set_column(i, i, w)
    for row, h in fit_heights(layout, extras.values).items():
        ws.set_row(row, h)

    list_refs = _write_lists(wb, spec)
    by_field = layout.fields
    inputs: dict[str, list[Cell]] = {}
    values, marks, get = extras.values, extras.marks, fmts.get
    cells = []
    for c in layout.cells:
        name = c.field
        if name:
            f = by_field.get(name)
            cells.append((c.row, c.col, c.last_row, c.last_col, values.get(name, c.value),
                          get(c.style, c.input, f.type if f else None, marks.get(name))))
        else:
            cells.append((c.row, c.col, c.last_row, c.last_col, c.value, get(c.style, c.input, None, None)))
        if c.input is not None:
            inputs.setdefault(c.input, []).append(c)
        if name and name in extras.comments:
            ws.write_comment(c.row, c.col, extras.comments[name],
                             {"author": "xlform", "x_scale": 2.2, "y_scale": 1.6, "font_size": 9})
    _put_cells(ws, cells)
    for kind, cells in inputs.items():
        _validate(ws, cells, spec.input_types[kind], list_refs)
    sheet = _quote(spec.sheet)
    for f in by_field.values():
        wb.define_name(f.defined_name, f"={sheet}!${_col(f.col)}${f.row + 1}")

    _print_setup(ws, layout)
    ws.protect(password or "", {"select_locked_cells": True, "select_unlocked_cells": True,
                                "format_rows": True, "format_columns": False})
    _write_meta(wb, meta, password, layout)
    if extras.add_sheets:
        extras.add_sheets(wb)
    ws.activate()
    wb.close()


def _col(i: int) -> str:
    return col_letter(i)


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def _put_cells(ws, cells: list[tuple]) -> None:
    """(row, col, last_row, last_col, value, format) each: merged where the range is more than one cell."""
    if hasattr(ws, "put_cells"):
        ws.put_cells(cells)             # xlsxlite: the same cells in one call
        return
    for r, c, lr, lc, v, fmt in cells:
        if lr != r or lc != c:
            ws.merge_range(r, c, lr, lc, None, fmt)
        _put_value(ws, r, c, v, fmt)


def _put_value(ws, row: int, col: int, value, fmt=None) -> None:
    """One value written with the write_* method for its type. Text always with write_string: a
    department's text starting with "=" must never become a formula."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt)
    elif isinstance(value, (dt.date, dt.datetime)):
        # a date as it is: XlsxWriter numbers datetime(1900, 1, 1) 0 but date(1900, 1, 1) 1, Excel's 1
        ws.write_datetime(row, col, value, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _validate(ws, cells: list[Cell], it, list_refs: dict[str, str]) -> None:
    """One <dataValidation> for every input cell of a type: the same rule and prompt on each, and
    ~50 identical elements per workbook were a tenth of generate's time."""
    v = it.validate
    opts: dict[str, Any] = {
        "input_title": it.prompt[0], "input_message": it.prompt[1],
        "error_title": it.error[0], "error_message": it.error[1],
        "error_type": v.get("error_type", "stop"), "ignore_blank": True,
    }
    kind = v["type"]
    if kind in ("decimal", "integer"):
        opts.update(validate=kind, criteria="between", minimum=v.get("min", 0), maximum=v.get("max", 1e12))
    elif kind == "date":
        opts.update(validate="date", criteria="between",
                    minimum=_as_datetime(v.get("min", dt.date(1900, 1, 1))),
                    maximum=_as_datetime(v.get("max", dt.date(9999, 12, 31))))
    elif kind == "length":
        opts.update(validate="length", criteria="<=", value=int(v.get("max", 255)))
    elif kind == "list":
        opts.update(validate="list", source=list_refs[v["list"]])
    if len(cells) > 1:
        opts["multi_range"] = " ".join(xl_range(c.row, c.col, c.last_row, c.last_col) for c in cells)
    c = cells[0]
    ws.data_validation(c.row, c.col, c.last_row, c.last_col, opts)


def _as_datetime(d: Any) -> dt.datetime:
    if isinstance(d, dt.datetime):
        return d
    if isinstance(d, dt.date):
        return dt.datetime(d.year, d.month, d.day)
    return dt.datetime.fromisoformat(str(d))


def _write_lists(wb, spec) -> dict[str, Any]:
    """Inline lists as Python lists; long ones on a hidden sheet behind a defined name."""
    refs: dict[str, Any] = {}
    sheet = None
    for col, (name, values) in enumerate(sorted(spec.lists.items())):
        if name not in spec.sheet_lists:
            refs[name] = list(values)
            continue
        if sheet is None:
            sheet = wb.add_worksheet(LISTS_SHEET)
            sheet.hide()
            sheet.protect()
        for i, v in enumerate(values):
            sheet.write_string(i, col, v)
        defined = f"xf_list_{name}"
        wb.define_name(defined, f"={LISTS_SHEET}!${_col(col)}$1:${_col(col)}${len(values)}")
        refs[name] = f"={defined}"
    return refs


def _print_setup(ws, layout: Layout) -> None:
    p = layout.spec.print
    ws.set_paper(PAPER_SIZES.get(p.get("paper", "A4"), 9))
    if p.get("orientation") == "landscape":
        ws.set_landscape()
    else:
        ws.set_portrait()
    m = p.get("margins", {})
    ws.set_margins(left=m.get("left", 0.5), right=m.get("right", 0.5), top=m.get("top", 0.6),
                   bottom=m.get("bottom", 0.6))
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.repeat_rows(*layout.header_rows)
    ws.print_area(0, 0, layout.n_rows - 1, len(layout.spec.columns) - 1)
    if p.get("footer"):
        ws.set_footer(p["footer"])
    if p.get("header"):
        ws.set_header(p["header"])
    ws.hide_gridlines(2)


FIELD_COLUMNS = ("name", "role", "label", "input", "indicator", "group")


@functools.lru_cache(maxsize=256)
def _group_text(group: tuple[int, ...]) -> str:
    """(0, 1) -> "1.2": the 一级.二级 indicator group, numbered from 1."""
    return ".".join(str(g + 1) for g in group)


def _write_meta(wb, meta: dict[str, str], password: str | None, layout: Layout) -> None:
    """Columns A:B hold key/value metadata; D:I the field catalogue (the contract for other tools)."""
    # one row per field; None where a field has no value (no cell)
    catalogue = [[f.defined_name, f.role, str(f.label) or None, f.input or None,
                  None if f.indicator is None else str(f.indicator),
                  None if f.group is None else _group_text(f.group)]
                 for f in layout.fields.values()]
    pairs = [["key", "value"], *[[k, str(v)] for k, v in meta.items()]]
    ms = wb.add_worksheet(META_SHEET)
    if hasattr(ms, "put_string_rows"):
        # written straight from the rows (xlsxlite.string_rows_xml): the same cells, 40 % less time
        header = [*FIELD_COLUMNS]
        rows = [[None, None, None, *fields] for fields in [header, *catalogue]]
        for i, kv in enumerate(pairs):
            if i < len(rows):
                rows[i][0:2] = kv
            else:
                rows.append(kv)
        ms.put_string_rows(rows, inline_from=3)   # A:B shared strings, as the cell API writes them
    else:
        for i, (k, v) in enumerate(pairs):
            ms.write_string(i, 0, k)
            ms.write_string(i, 1, v)
        for i, row in enumerate([list(FIELD_COLUMNS), *catalogue]):
            ms.write_row(i, 3, row)
    ms.protect(password or "")
    ms.very_hidden()
