"""Where a layout's cells are in a returned workbook: by defined names, by labels, after rows moved.

A returned workbook is read through its defined names, which a spreadsheet program moves with the
cells when a row or column is inserted or deleted. Cells without a name (the locked labels the
tamper check compares) are placed from the named cells around them: the offsets of the nearest
anchors above and below bound where a label can have gone, and every position in between is a
candidate. Where the names are gone too (the content pasted into a new workbook) the form is
recognised by its labels, the project by the value beside the 项目编码 label, and labels found once
in both the layout and the sheet become the anchors.
"""
from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from .layout import Layout, build_layout
from .manifest import Manifest
from .projects import Project
from .read import SheetData, WorkbookData
from .spec import FormSpec

MIN_LABEL_SHARE = 0.5      # share of a form's distinct labels a sheet must show to be that form
MIN_LABELS = 5
MAX_SPAN = 200             # rows (columns) a label is looked for between two anchors that moved apart
_SPACE = re.compile(r"\s+")


def norm(value: Any) -> str:
    return _SPACE.sub("", str(value)) if isinstance(value, str) else ""


class Axis:
    """Layout index (row or column) -> returned index, from anchors {layout index: offset}."""

    def __init__(self, anchors: dict[int, int], default: int = 0):
        keep = _increasing(sorted(anchors.items()))
        self.keys = [k for k, _ in keep]
        self.offsets = [o for _, o in keep]
        self.default = default
        self.still = default == 0 and not any(self.offsets)   # nothing moved: every index is where it was

    @classmethod
    def _unmoved(cls, keys: set[int]) -> "Axis":
        """Axis({k: 0 for k in keys}): every anchor where the layout put it."""
        axis = cls.__new__(cls)
        axis.keys = sorted(keys)
        axis.offsets = [0] * len(axis.keys)
        axis.default, axis.still = 0, True
        return axis

    def candidates(self, i: int) -> list[int]:
        """Where layout index `i` may be now, most likely first (the nearest anchor above's offset)."""
        if self.still:
            return [i]
        if not self.keys:
            return [i + self.default]
        pos = bisect.bisect_right(self.keys, i)
        above = self.offsets[pos - 1] if pos > 0 else None
        below = self.offsets[pos] if pos < len(self.keys) else None
        if pos > 0 and self.keys[pos - 1] == i:
            return [i + above]
        if above is None:
            # before the first anchor: moved with it, or not at all (nothing is above row 1)
            first, other = below, 0
        elif below is None or below == above:
            return [i + above]
        else:
            first, other = above, below
        lo, hi = sorted((first, other))
        hi = min(hi, lo + MAX_SPAN)
        return [i + first] + [i + o for o in range(lo, hi + 1) if o != first and i + o >= 0]

    def at(self, i: int) -> int:
        return self.candidates(i)[0]


def _increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of anchors whose returned positions increase with the layout's (drops cells
    cut and pasted elsewhere, which would otherwise pull their neighbours along)."""
    if not pairs:
        return []
    ends: list[int] = []          # smallest returned position ending a run of each length
    idx: list[int] = []
    prev = [-1] * len(pairs)
    for n, (k, off) in enumerate(pairs):
        v = k + off
        j = bisect.bisect_left(ends, v)
        if j == len(ends):
            ends.append(v)
            idx.append(n)
        else:
            ends[j], idx[j] = v, n
        prev[n] = idx[j - 1] if j > 0 else -1
    out, n = [], idx[-1]
    while n >= 0:
        out.append(pairs[n])
        n = prev[n]
    return out[::-1]


@dataclass
class Placement:
    """Where the form's sheet went and how its rows and columns moved."""
    sheet: str
    rows: Axis
    cols: Axis
    shifted: bool = False

    def at(self, row: int, col: int) -> tuple[int, int]:
        return self.rows.at(row), self.cols.at(col)

    def candidates(self, row: int, col: int) -> Iterable[tuple[int, int]]:
        for r in self.rows.candidates(row):
            for c in self.cols.candidates(col):
                yield r, c


def placement(layout: Layout, sheet: str, located: dict[str, tuple[str, int, int]],
              extra: Iterable[tuple[int, int, int, int]] = (), default: tuple[int, int] = (0, 0)) -> Placement:
    """`located`: field name -> (sheet, row, col) found by defined name; `extra`: more anchors
    (layout row, layout col, returned row, returned col), e.g. labels."""
    row_votes: dict[int, dict[int, int]] = {}     # layout row -> {offset: votes}, offsets in first-seen order
    col_votes: dict[int, dict[int, int]] = {}
    fields = layout.fields
    anchors = [(f.row, f.col, r, c) for name, (s, r, c) in located.items()
               if s == sheet and (f := fields.get(name)) is not None]
    if not extra and default == (0, 0) and all(lr == rr and lc == rc for lr, lc, rr, rc in anchors):
        # nothing moved (nearly every returned file): what the votes below would give, without them
        return Placement(sheet, Axis._unmoved({a[0] for a in anchors}), Axis._unmoved({a[1] for a in anchors}))
    for lr, lc, rr, rc in (*anchors, *extra):
        tally = row_votes.setdefault(lr, {})
        tally[rr - lr] = tally.get(rr - lr, 0) + 1
        tally = col_votes.setdefault(lc, {})
        tally[rc - lc] = tally.get(rc - lc, 0) + 1
    rows = {k: _winner(v) for k, v in row_votes.items()}
    cols = {k: _winner(v) for k, v in col_votes.items()}
    shifted = any(rows.values()) or any(cols.values()) or default != (0, 0)
    return Placement(sheet, Axis(rows, default[0]), Axis(cols, default[1]), shifted)


def _winner(tally: dict[int, int]) -> int:
    """The offset with the most votes; of equals, the first seen (as Counter.most_common(1) picks)."""
    return max(tally, key=tally.__getitem__) if len(tally) > 1 else next(iter(tally))


def from_where(layout: Layout, where: dict[str, tuple[str, str]]) -> Placement:
    """A Placement rebuilt from where each field was read (rules.check_tamper)."""
    located = {}
    for name, (sheet, ref) in where.items():
        rc = _split(ref)
        if rc is not None:
            located[name] = (sheet, *rc)
    sheets = Counter(s for s, _, _ in located.values())
    sheet = sheets.most_common(1)[0][0] if sheets else layout.sheet
    return placement(layout, sheet, located)


def _split(ref: str | None) -> tuple[int, int] | None:
    m = re.fullmatch(r"([A-Z]{1,3})(\d+)", ref or "")
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


# ---------------------------------------------------------------- recognising a form by its labels

def _labels(layout: Layout) -> list[tuple[str, int, int]]:
    return [(t, c.row, c.col) for c in layout.cells if c.field is None and (t := norm(c.value))]


def _texts(sheet: SheetData) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    r0, c0 = sheet.start
    for i, row in enumerate(sheet.rows):
        for j, v in enumerate(row):
            t = norm(v)
            if t:
                out.setdefault(t, []).append((r0 + i, c0 + j))
    return out


@dataclass
class Recognised:
    form_id: str
    sheet: str
    code: str | None               # the 项目编码 found beside its label (None: not found)
    code_cell: tuple[int, int] | None
    matched: int
    total: int
    texts: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)


def recognise(data: WorkbookData, manifest: Manifest, forms: dict[str, FormSpec]) -> Recognised | None:
    """The issued form a sheet of `data` shows by its labels, and its project code; None if none does."""
    from .workbook import LISTS_SHEET, META_SHEET
    refs: dict[str, Layout] = {}
    for e in manifest.entries:
        if e.form_id in forms and e.form_id not in refs:
            refs[e.form_id] = build_layout(forms[e.form_id], Project.from_dict(e.project) if e.project else None,
                                           e.year)
    if not refs:
        return None
    best: tuple[float, int, str, str, dict] | None = None
    for name, sheet in data.sheets.items():
        if name in (META_SHEET, LISTS_SHEET):
            continue
        texts = _texts(sheet)
        for form_id, lay in refs.items():
            labels = {t for t, _, _ in _labels(lay)}
            if not labels:
                continue
            hit = sum(1 for t in labels if t in texts)
            share = hit / len(labels)
            if hit >= MIN_LABELS and share >= MIN_LABEL_SHARE and (best is None or (share, hit) > best[:2]):
                best = (share, hit, form_id, name, texts)
    if best is None:
        return None
    share, hit, form_id, sheet_name, texts = best
    lay = refs[form_id]
    code, cell = _find_code(lay, data.sheets[sheet_name], texts, manifest)
    return Recognised(form_id, sheet_name, code, cell, hit, len({t for t, _, _ in _labels(lay)}), texts)


def _find_code(lay: Layout, sheet: SheetData, texts: dict[str, list[tuple[int, int]]], manifest: Manifest
               ) -> tuple[str | None, tuple[int, int] | None]:
    """The value right of the 项目编码 label (within a few columns), matched against the manifest."""
    f = lay.fields.get("project_code")
    if f is None:
        return None, None
    beside = [c for c in lay.cells if c.field is None and c.row == f.row and c.col < f.col and norm(c.value)]
    if not beside:
        return None, None
    label = max(beside, key=lambda c: c.col)
    codes = {e.project_code for e in manifest.entries}
    by_number = {}
    for c in codes:
        try:
            by_number[float(c)] = c
        except ValueError:
            pass
    first = None
    for r, c in texts.get(norm(label.value), []):
        for dc in range(1, 7):
            v = sheet.value(r, c + dc)
            if v is None or (isinstance(v, str) and not v.strip()):
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                text = str(int(v)) if float(v).is_integer() and abs(v) < 1e30 else str(v)
                if text in codes or float(v) in by_number:
                    return codes.intersection([text]).pop() if text in codes else by_number[float(v)], (r, c + dc)
            else:
                text = _SPACE.sub("", str(v))
                if text in codes:
                    return text, (r, c + dc)
            if first is None:
                first = (text, (r, c + dc))
            break
    return first if first is not None else (None, None)


def label_anchors(layout: Layout, texts: dict[str, list[tuple[int, int]]]) -> list[tuple[int, int, int, int]]:
    """(layout row, layout col, returned row, returned col) for each label found exactly once in both."""
    counts = Counter(t for t, _, _ in _labels(layout))
    return [(r, c, *texts[t][0]) for t, r, c in _labels(layout)
            if counts[t] == 1 and len(texts.get(t, ())) == 1]
