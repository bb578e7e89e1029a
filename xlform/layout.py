"""Lay a form spec out for one project: every cell, merge, field and row height, with coordinates.

This is the one place where a spec's rows become concrete cells. The generator writes a Layout,
the validator reads a returned workbook through the fields a Layout names, annotation writes a
Layout again with the returned values in it, and `inspect` prints it. Nothing else computes a
cell address.
"""
from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from .projects import Indicator, Project
from .spec import CellSpec, FormSpec, Group, IndicatorSpec, col_letter

NAME_PREFIX = "xf_"


@dataclass(slots=True)       # slots: ~300 are made per file, validation included
class Cell:
    row: int                   # 0-based
    col: int
    last_row: int
    last_col: int
    value: Any
    style: str
    field: str | None = None   # the field it holds, if a data cell
    input: str | None = None   # input type, if unlocked

    @property
    def merged(self) -> bool:
        return self.last_row > self.row or self.last_col > self.col

    @property
    def ref(self) -> str:
        return cell_ref(self.row, self.col)

    @property
    def range_ref(self) -> str:
        first = cell_ref(self.row, self.col)
        return first if not self.merged else f"{first}:{cell_ref(self.last_row, self.last_col)}"


@dataclass(slots=True)
class Field:
    name: str                  # defined name without the prefix: project_name, ind_003_actual, grp_1_2_score
    role: str
    label: str
    row: int
    col: int
    input: str | None = None   # input type name when the department fills it
    value: Any = None          # what the generator pre-fills (None for inputs and computed fields)
    indicator: int | None = None   # 1-based indicator row number
    group: tuple[int, ...] | None = None   # (level1,) or (level1, level2), 0-based
    type: str | None = None

    @property
    def defined_name(self) -> str:
        return NAME_PREFIX + self.name

    @property
    def ref(self) -> str:
        return cell_ref(self.row, self.col)


@dataclass(slots=True)
class IndicatorRow:
    number: int                # 1-based, form order
    row: int
    level1: int                # group indexes
    level2: int
    indicator: Indicator | None    # None: a spare row of a blank form
    not_applicable: bool
    qualitative: bool


@dataclass
class Layout:
    spec: FormSpec
    year: int
    blank: bool
    cells: list[Cell] | None = field(default_factory=list)   # None: not placed (build_layout, cells=False)
    fields: dict[str, Field] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    header_rows: tuple[int, int] = (0, 0)
    indicator_rows: list[IndicatorRow] = field(default_factory=list)
    n_rows: int = 0

    @property
    def sheet(self) -> str:
        return self.spec.sheet

    def locked_values(self) -> dict[str, Any]:
        """Every non-empty locked cell, by A1 reference: what the manifest fingerprints."""
        return {c.ref: c.value for c in self.cells if c.input is None and c.value not in (None, "")}

    def input_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.input is not None]


@functools.lru_cache(maxsize=65536)
def cell_ref(row: int, col: int) -> str:
    """A1 reference of a 0-based cell; cached: the same few thousand recur in every file of a form."""
    return f"{col_letter(col)}{row + 1}"


_RENDERED: dict[tuple, str] = {}


def _render(spec: FormSpec, text: str, **context: Any) -> str:
    """What spec.render gives, remembered: the same few label templates are rendered for every file
    of a form (a Jinja render is ~20 µs). Keyed by everything spec.render reads, not by the spec."""
    if "{" not in text:
        return text
    s = spec.scoring
    key = (text, spec.title, s.execution_points, s.total, *sorted(context.items()))
    out = _RENDERED.get(key)
    if out is None:
        if len(_RENDERED) >= 4096:
            _RENDERED.clear()
        out = _RENDERED[key] = spec.render(text, **context)
    return out


def build_layout(spec: FormSpec, project: Project | None, year: int | None = None, *, cells: bool = True
                 ) -> Layout:
    """Place every cell of `spec` for `project` (None: a blank form with spare indicator rows).

    cells=False: the fields and indicator rows only, `cells` None. Checking a returned form reads
    it through its fields; the cells (labels, merges, styles: half the objects made) are for
    writing a workbook and for recognising a form by its labels."""
    lay = Layout(spec=spec, year=year or spec.default_year, blank=project is None, cells=[] if cells else None)
    title = _render(spec, spec.title, year=lay.year)
    y = 0
    for row in spec.rows:
        if row.is_indicators:
            y = _indicator_table(lay, project, y, title)
            continue
        for c in row.cells:
            _place(lay, c, y, project, title)
        if row.height:
            lay.heights[y] = row.height
        y += 1
    lay.n_rows = y
    return lay


def _place(lay: Layout, c: CellSpec, y: int, project: Project | None, title: str) -> None:
    spec = lay.spec
    last_row = y + c.rows - 1
    if c.field is None:
        if lay.cells is not None:
            text = _render(spec, c.text or "", year=lay.year, title=title)
            lay.cells.append(Cell(y, c.first_col, last_row, c.last_col, text, c.style or "label"))
        return
    fs = spec.fields[c.field]
    value, input_type = None, fs.input
    if fs.source:
        if project is None:
            input_type = "amount" if fs.type == "amount" else ("long_text" if c.style == "long_text" else "name")
        else:
            value = project.fields.get(fs.name)
    if lay.cells is not None:
        style = c.style or ("value" if fs.source or not fs.input else "text")
        lay.cells.append(Cell(y, c.first_col, last_row, c.last_col, value, style, fs.name, input_type))
    lay.fields[fs.name] = Field(fs.name, fs.role, fs.label, y, c.first_col, input_type, value, type=fs.type)


def _indicator_table(lay: Layout, project: Project | None, y: int, title: str) -> int:
    spec, ind = lay.spec, lay.spec.indicators
    first_header = y
    for h in ind.header:
        for c in h.cells if lay.cells is not None else ():
            lay.cells.append(Cell(y, c.first_col, y + c.rows - 1, c.last_col,
                                  _render(spec, c.text or "", year=lay.year, title=title), c.style or "header"))
        if h.height:
            lay.heights[y] = h.height
        y += 1
    lay.header_rows = (first_header, y - 1)
    cols = ind.columns
    parts = _RowParts.of(ind)
    by_group = _by_group(project)
    number = 0
    for i, g1 in enumerate(ind.groups):
        g1_start = y
        for j, g2 in enumerate(g1.children):
            g2_start = y
            rows = _rows_for(by_group, g1, g2, ind.blank_rows)
            for k, indicator in enumerate(rows, start=1):
                number += 1
                y = _indicator_row(lay, parts, number, y, (i, j), g2, indicator, k)
            _group_cell(lay, g2_start, y - 1, cols["level2"], g2.name, f"grp_{i + 1}_{j + 1}_name",
                        "indicator_level2", (i, j))
            if ind.score_per == "group":
                _group_cell(lay, g2_start, y - 1, cols["score"], None, f"grp_{i + 1}_{j + 1}_score",
                            "group_score", (i, j), label=f"{g2.name}得分", type_="score")
        _group_cell(lay, g1_start, y - 1, cols["level1"], _render(spec, g1.label, year=lay.year),
                    f"grp_{i + 1}_name", "indicator_level1", (i,))
    if ind.side_label is not None and lay.cells is not None:
        s = ind.side_label
        lay.cells.append(Cell(first_header, s.first_col, y - 1, s.last_col,
                              _render(spec, s.text or "", year=lay.year), s.style or "label"))
    return y


def _by_group(project: Project | None) -> dict[tuple[str, str], list[Indicator]] | None:
    """The project's indicators by (一级指标, 二级指标), in list order (one pass, not one per
    group); None for a blank form."""
    if project is None:
        return None
    out: dict[tuple[str, str], list[Indicator]] = {}
    for i in project.indicators:
        out.setdefault((i.level1, i.level2), []).append(i)
    return out


def _rows_for(by_group: dict[tuple[str, str], list[Indicator]] | None, g1: Group, g2: Group,
              blank_rows: int) -> list[Indicator | None]:
    if by_group is None:
        return [None] * blank_rows
    # every group of the official layout appears; one with no indicators says 无
    return by_group.get((g1.name, g2.name)) or [Indicator(g1.name, g2.name, "无", "")]


_PARSE = None   # score.parse_value (cached), imported on first use: score imports this module


@dataclass(frozen=True)
class _RowParts:
    """The columns of an indicator row and the label of each part, the same for every row of a form."""
    name: int
    target: int
    points: int | None         # only where each row has its own 分值
    actual: int
    reason: int
    score: int | None          # only where each row is scored apart
    reason_label: str

    @classmethod
    def of(cls, ind: IndicatorSpec) -> "_RowParts":
        c = ind.columns
        return cls(c["name"], c["target"], c.get("points"), c["actual"], c["reason"],
                   c["score"] if ind.score_per == "indicator" else None, "·" + ind.reason_label)


# the style of an indicator row's cells, by their field's role
_ROW_STYLES = {"indicator_name": "text", "indicator_target": "value", "indicator_points": "value",
               "indicator_actual": "value", "indicator_reason": "text", "indicator_score": "value"}


@functools.lru_cache(maxsize=1024)
def _row_names(number: int) -> tuple[str, str, str, str, str, str]:
    """The field names of indicator row `number`: the same in every file of a form."""
    key = f"ind_{number:03d}_"
    return key + "name", key + "target", key + "points", key + "actual", key + "reason", key + "score"


def _indicator_row(lay: Layout, parts: _RowParts, number: int, y: int, group: tuple[int, int], g2: Group,
                   indicator: Indicator | None, position: int = 1) -> int:
    # ~6 fields (and their cells) per indicator row, 27 rows a form: written out, without a helper per part
    global _PARSE
    blank = indicator is None
    na = not blank and indicator.not_applicable
    qualitative = False
    if not blank and not na:
        if indicator.qualitative is not None:
            qualitative = indicator.qualitative
        else:   # the (cached) parser decides whether a target is qualitative
            if _PARSE is None:
                from .score import parse_value as _PARSE
            qualitative = _PARSE(indicator.target, year=lay.year).kind in ("qualitative", "tier")
    lay.indicator_rows.append(IndicatorRow(number, y, *group, indicator, na, qualitative))
    if blank:
        name = target = points = None
        label = f"{g2.name}第{position}行"   # a spare row: its place within the 二级指标
        fixed = "name"
    else:
        name, target, points = indicator.name, indicator.target, indicator.points
        label = name or f"{g2.name}第{position}行"
        fixed = None
    n_name, n_target, n_points, n_actual, n_reason, n_score = _row_names(number)
    row = [Field(n_name, "indicator_name", f"{label}·指标内容", y, parts.name, fixed, name, number, group, None),
           Field(n_target, "indicator_target", f"{label}·指标值", y, parts.target, fixed, target, number, group,
                 None)]
    if parts.points is not None:
        it = "points" if blank else None
        row.append(Field(n_points, "indicator_points", f"{label}·分值", y, parts.points, it, points, number, group,
                         None))
    it = None if na else ("tier" if qualitative else "actual")
    row.append(Field(n_actual, "indicator_actual", f"{label}·实际完成值", y, parts.actual, it, None, number, group,
                     None))
    row.append(Field(n_reason, "indicator_reason", f"{label}{parts.reason_label}", y, parts.reason,
                     None if na else "reason", None, number, group, None))
    if parts.score is not None:
        row.append(Field(n_score, "indicator_score", f"{label}·得分", y, parts.score, None, None, number, group,
                         "score"))
    fields = lay.fields
    for f in row:
        fields[f.name] = f
    if lay.cells is not None:   # each part's cell holds its field's value and input
        lay.cells += [Cell(y, f.col, y, f.col, f.value, _ROW_STYLES[f.role], f.name, f.input) for f in row]
    return y + 1


def _group_cell(lay: Layout, first: int, last: int, col: int, value: Any, name: str, role: str,
                group: tuple[int, ...], label: str | None = None, type_: str | None = None) -> None:
    if lay.cells is not None:
        lay.cells.append(Cell(first, col, last, col, value, "value" if role.endswith("score") else "label", name))
    lay.fields[name] = Field(name, role, label or (value if isinstance(value, str) else name), first, col,
                             None, value, None, group, type_)


# ---------------------------------------------------------------- row heights

LINE_HEIGHT = 13.5      # points per line of 10-point text
MAX_HEIGHT = 409.0      # Excel's limit


# Runs of characters whose width is known without asking unicodedata: ASCII (narrow), and the CJK
# ideographs, CJK punctuation and full-width forms (all East Asian Wide or Fullwidth). Only what is
# left, rare in a form, goes through east_asian_width one character at a time.
_ASCII_RUN = re.compile(r"[\x00-\x7f]+")
_WIDE_RUN = re.compile("[\u3000-\u303e\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60\uffe0-\uffe6]+")


@functools.lru_cache(maxsize=8192)   # the labels of a form recur in every file
def text_width(text: str) -> float:
    """Width in Excel column units: a CJK character is about two digits wide."""
    if text.isascii():
        return float(len(text))
    rest = _WIDE_RUN.sub("", text)
    wide = len(text) - len(rest)
    other = _ASCII_RUN.sub("", rest)
    narrow = len(rest) - len(other)
    return narrow + 1.8 * wide + sum(1.8 if unicodedata.east_asian_width(ch) in "WF" else 1.0 for ch in other)


def fit_heights(lay: Layout, values: dict[str, Any] | None = None) -> dict[int, float]:
    """Row heights that show the text (Excel does not grow rows for wrapped text in merged cells).

    Only the writer needs them, so validation never pays for this."""
    spec = lay.spec
    values = values or {}
    base = {style: spec.cell_styles.get(style, {}).get("size", spec.font_size) for style in
            {c.style for c in lay.cells}}
    capacity: dict[tuple[int, int, str], float] = {}   # a handful of (columns, style) per form
    need: dict[int, float] = {}
    for c in lay.cells:
        if c.last_row != c.row:
            continue  # a cell merged down spreads over rows that are sized by their own cells
        text = _display(values.get(c.field, c.value) if c.field else c.value)
        style_size = base[c.style]
        if text:
            key = (c.col, c.last_col, c.style)
            cap = capacity.get(key)
            if cap is None:
                cap = capacity[key] = max(sum(spec.columns[c.col:c.last_col + 1]) * (spec.font_size / style_size)
                                          - 1.5, 2.0)
            lines = _lines(text, cap)
        else:
            lines = 4 if c.input == "long_text" else 2 if c.input == "reason" else 1  # room to write
        height = lines * LINE_HEIGHT * style_size / 10 + 4
        if height > need.get(c.row, 0):
            need[c.row] = height
    heights = dict(lay.heights)
    for row, h in need.items():
        heights[row] = min(MAX_HEIGHT, max(h, lay.heights.get(row, 0), 18.0))
    return heights


@functools.lru_cache(maxsize=8192)   # labels again
def _lines(text: str, capacity: float) -> int:
    """Lines `text` wraps to in a cell `capacity` units wide."""
    return sum(max(1, math.ceil(text_width(p) / capacity)) for p in text.split("\n"))


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
