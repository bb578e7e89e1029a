"""The bureau's project list (.xlsx or .csv): one row per indicator, Chinese headers.

Project-level columns (项目编码, 项目名称, 主管部门, 项目实施单位, the fund amounts the form spec
names as `source`, 项目概况, 年度绩效目标, optionally 表单) may be repeated on every row of a
project or written only on its first row. Indicator columns: 一级指标, 二级指标, 指标内容, 指标值,
分值 (forms that score per indicator), and optionally 指标方向 (正向/反向/等于) and 指标类型
(定量/定性). README.md documents the columns.

Every problem is collected with its sheet, row and column, so a bureau fixes its list in one pass; a
list with any problem gives no workbook at all (generate --jobs starts on the projects handed out
while the list is still read, but only under temporary names, removed when the list proves bad).
"""
from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress, count
from operator import is_not
from typing import Any

from .errors import XlformError
from .inputs import NotRegularFile, open_regular
from .spec import FieldSpec, FormSpec, col_letter

CODE, FORM = "项目编码", "表单"
LEVEL1, LEVEL2, NAME, TARGET, POINTS, DIRECTION, KIND = (
    "一级指标", "二级指标", "指标内容", "指标值", "分值", "指标方向", "指标类型")
INDICATOR_COLUMNS = (LEVEL1, LEVEL2, NAME, TARGET, POINTS, DIRECTION, KIND)
DIRECTION_WORDS = {"正向": "positive", "反向": "reverse", "等于": "exact", "": None}
KIND_WORDS = {"定量": False, "定性": True, "": None}
# The bureau's own list, not a department's return: a province's (tens of thousands of projects ×
# 15–40 indicator rows × 20 columns) must fit, while a runaway sheet still cannot exhaust memory.
PROJECT_LIST_MAX_CELLS = 40_000_000
NA_WORDS = {"无", "无此项", "不适用", "/", "—", "-", "——"}


@dataclass
class Indicator:
    level1: str
    level2: str
    name: str
    target: Any
    points: float | None = None
    direction: str | None = None      # None: from the target's sign, else the group's default
    qualitative: bool | None = None   # None: decided from the target text

    @property
    def not_applicable(self) -> bool:
        return str(self.name).strip() in NA_WORDS or str(self.target).strip() in NA_WORDS


_INDICATOR_FIELDS = tuple(f.name for f in fields(Indicator))


@dataclass
class Project:
    code: str
    form_id: str
    fields: dict[str, Any]                      # spec field name -> pre-filled value
    indicators: list[Indicator] = field(default_factory=list)
    source_row: int = 0                          # first row in the list, for messages

    @property
    def name(self) -> str:
        return str(self.fields.get("project_name", ""))

    @property
    def department(self) -> str:
        return str(self.fields.get("department", ""))

    def to_dict(self) -> dict:
        # a shallow dict per indicator, as asdict() gives without its deep copy: every value is a
        # scalar read from the list, and this runs for every project of a generate
        return {"code": self.code, "form_id": self.form_id, "fields": self.fields,
                "indicators": [{k: getattr(i, k) for k in _INDICATOR_FIELDS} for i in self.indicators]}

    @classmethod
    def from_dict(cls, d: dict) -> "Project":
        return cls(code=d["code"], form_id=d["form_id"], fields=dict(d["fields"]),
                   indicators=[Indicator(**i) for i in d["indicators"]])


@dataclass(frozen=True)
class ListProblem:
    sheet: str | None
    row: int | None
    column: str | None     # "D（资金总额）"
    message: str

    def __str__(self) -> str:
        where = []
        if self.sheet:
            where.append(f"工作表“{self.sheet}”")
        if self.row:
            where.append(f"第{self.row}行")
        if self.column:
            where.append(f"{self.column}列")
        return ("".join(where) + "：" if where else "") + self.message


class ProjectListError(XlformError):
    def __init__(self, path: Path, problems: list[ListProblem]):
        self.path, self.problems = path, problems
        lines = "\n".join(f"  - {p}" for p in problems[:200])
        more = f"\n  ……另有 {len(problems) - 200} 处" if len(problems) > 200 else ""
        super().__init__(f"项目清单 {path.name} 有 {len(problems)} 处问题，未生成任何文件：\n{lines}{more}")


def _read_rows(path: Path) -> tuple[str | None, list[list[Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            with open_regular(path) as fh:
                raw = fh.read()
        except NotRegularFile as exc:
            raise XlformError(f"项目清单 {path.name} {exc}，无法读取") from None
        for enc in ("utf-8-sig", "gb18030"):   # Excel in China saves CSV as GBK by default
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise XlformError(f"项目清单 {path.name} 不是 UTF-8 或 GBK 编码的 CSV 文件")
        del raw
        return None, _shared(csv.reader(io.StringIO(text)))
    if suffix in (".xlsx", ".xlsm"):
        from .read import ReadError, open_calamine
        try:
            wb = open_calamine(path, max_cells=PROJECT_LIST_MAX_CELLS)
            names = wb.sheet_names
            sheet = "项目清单" if "项目清单" in names else names[0]
            # to_python, not iter_rows: iter_rows drops empty leading columns (not rows), which would
            # shift the column letters of every message
            rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except ReadError as exc:      # its message does not name the file: a batch's reports do
            raise XlformError(f"项目清单 {path.name}：{exc}") from None
        return sheet, _shared(rows)
    raise XlformError(f"项目清单 {path.name} 的格式不支持：请使用 .xlsx 或 .csv")


def _shared(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """The rows as lists, a cell equal to the one above it sharing that object.

    A project's own columns (code, name, a 240-character 项目概况…) repeat on each of its ~27
    indicator rows; at a province's 10,000 projects the copies were most of a 370 MB peak."""
    out: list[list[Any]] = []
    above: list[Any] = []
    for r in rows:
        row = r if type(r) is list else list(r)
        for i in compress(count(), map(is_not, row, above)):   # cells not already the same object
            if row[i] == above[i] and type(row[i]) is type(above[i]):
                row[i] = above[i]
        out.append(row)
        above = row
    return out


def _clean(v: Any) -> Any:
    cls = type(v)     # exact types first: this runs for every cell of a province's list
    if cls is str:
        return v.strip()
    if cls is float or isinstance(v, float):
        return int(v) if v.is_integer() and abs(v) < 1e15 else v
    if isinstance(v, str):
        return v.strip()
    return v


def _number(v: Any) -> float | None:
    if v in ("", None):
        return None
    if isinstance(v, bool):
        raise ValueError
    x = float(v) if isinstance(v, (int, float)) else float(str(v).replace(",", "").replace("，", "").strip())
    if not math.isfinite(x):   # "nan", "inf", "1e400": not an amount (and XlsxWriter refuses to write it)
        raise ValueError
    return x


def read_projects(path: str | Path, forms: dict[str, FormSpec], default_form: str | None) -> list[Project]:
    """Read and check a project list; raises ProjectListError listing every problem."""
    return ProjectList(path, forms, default_form).all()


class ProjectList:
    """A project list, read and checked project by project so that work can start before the end.

    Opening it reads the rows and checks the header (ProjectListError at once if that fails).
    stream() then checks the rows and hands out each project as soon as its last row has been read,
    for as long as nothing in the list has been found wrong; at the end it raises ProjectListError
    listing every problem, in the order read_projects always gave them. A caller that started work
    on a project it was given must undo that work when the error comes (generate writes such
    workbooks under temporary names until the end)."""

    def __init__(self, path: str | Path, forms: dict[str, FormSpec], default_form: str | None):
        path = self.path = Path(path)
        if not path.exists():
            raise XlformError(f"找不到项目清单文件：{path}")
        self.sheet, rows = _read_rows(path)
        self.problems: list[ListProblem] = []
        while rows and not any(str(c).strip() for c in rows[-1]):
            rows.pop()
        if not rows:
            raise ProjectListError(path, [ListProblem(self.sheet, None, None, "文件是空的，第1行应为列标题")])
        header = [str(_clean(h)) for h in rows[0]]
        index = self.index = {}
        for i, h in enumerate(header):
            if not h:
                continue
            if h in index:
                self.problem(1, f"{col_letter(i)}（{h}）", f"列标题“{h}”重复出现")
            index.setdefault(h, i)
        needed = {CODE, LEVEL1, LEVEL2, NAME, TARGET}
        if default_form is None and FORM not in index:
            self.problem(1, None, "未用 --form 指定表单，清单中也没有“表单”列")
        for fid in sorted(x for x in _used_forms(rows, index.get(FORM, _ABSENT), default_form) if x):
            if fid not in forms:
                continue
            spec = forms[fid]
            needed |= {fs.source for fs in spec.fields.values() if fs.source and fs.required}
            if spec.indicators.weight == "points":
                needed.add(POINTS)
        for col in sorted(needed - set(index)):
            self.problem(1, None, f"缺少必需的列“{col}”")
        if self.problems:
            raise ProjectListError(path, self.problems)
        self._rows: list[list[Any]] | None = rows
        self._reader = _RowReader(index, forms, default_form, self.where, self.problem)
        # row number -> the code whose last row it is: a project is complete once that row is read
        last: dict[str, int] = {}
        code_at = index[CODE]
        for r_no, row in enumerate(rows[1:], start=2):
            last[str(_cell(row, code_at))] = r_no
        last.pop("", None)
        self._ends = {r_no: code for code, r_no in last.items()}
        self.count = len(last)        # at most this many projects

    def problem(self, row: int | None, col: str | None, msg: str) -> None:
        self.problems.append(ListProblem(self.sheet, row, col, msg))

    def where(self, col_name: str) -> str:
        return f"{col_letter(self.index[col_name])}（{col_name}）" if col_name in self.index else col_name

    def stream(self) -> Iterator[Project]:
        """Each project once its rows are all read and checked, while the list has no problem so far;
        ProjectListError at the end if it has any. Runs once."""
        rows, self._rows = self._rows, None
        if rows is None:
            raise RuntimeError("ProjectList.stream() runs once")
        reader, ends = self._reader, self._ends
        late: dict[str, list[ListProblem]] = {}     # each project's own checks, made once it is complete
        clean = True
        for code in reader.read(rows, ends):
            proj = reader.projects[code]
            found = late[code] = []
            reader.finish(proj, lambda row, col, msg: found.append(ListProblem(self.sheet, row, col, msg)))
            clean = clean and not found and not self.problems
            if clean:
                yield proj
        del rows
        # the rows' problems in row order, then each project's own in the order projects first appear
        problems = self.problems + [p for code in reader.projects for p in late.get(code, ())]
        if problems:
            raise ProjectListError(self.path, problems)

    def all(self) -> list[Project]:
        """Every project, once the whole list is checked (stream() run to its end)."""
        for _ in self.stream():
            pass
        return self.projects()

    def projects(self) -> list[Project]:
        """Every project, in the order they first appear (once stream() has run to its end)."""
        return list(self._reader.projects.values())


# a column the list lacks: past the end of every row, so it reads as empty, as a short row's cell does
_ABSENT = sys.maxsize


def _cell(row: list, i: int) -> Any:
    return _clean(row[i]) if i < len(row) else ""


def _blank(row: list) -> bool:
    """Text that is only spaces, or nothing (what str(c).strip() finds, without str())."""
    return not any(c.strip() if c.__class__ is str else c is not None and str(c).strip() for c in row)


def _used_forms(rows: list[list[Any]], form_at: int, default_form: str | None) -> set[str | None]:
    """The form of every row after the header, blank rows included."""
    if form_at == _ABSENT:
        return {default_form} if len(rows) > 1 else set()
    # each distinct cell cleaned once; but 1, 1.0 and True are one member of a set and three forms
    # ("1", "1", "True"), so a column that is not all text is read cell by cell
    cells = {row[form_at] if form_at < len(row) else "" for row in rows[1:]}
    if any(type(c) is not str for c in cells):
        return {str(_cell(row, form_at)) or default_form for row in rows[1:]}
    return {str(_clean(c)) or default_form for c in cells}


def _cleaned(row: list, columns: tuple[int, ...]) -> list:
    """The row's cells in `columns`, cleaned ("" past its end); _clean inlined for text."""
    n = len(row)
    return [(c.strip() if type(c := row[i]) is str else _clean(c)) if i < n else "" for i in columns]


@dataclass(frozen=True)
class _Form:
    """What the row loop needs of one form, worked out once per list rather than once per row."""
    spec: FormSpec
    sourced: tuple[tuple[FieldSpec, int], ...]   # the fields the list pre-fills, with their column
    groups: frozenset[tuple[str, str]]           # its (一级指标, 二级指标) pairs
    points: bool                                 # every indicator carries its own 分值
    own: tuple[int, ...]                         # the project's columns: code, form, pre-filled fields
    own_width: int                               # the cells a row needs to have all of them

    @classmethod
    def of(cls, spec: FormSpec, index: dict[str, int]) -> "_Form":
        sourced = tuple((fs, index[fs.source]) for fs in spec.fields.values() if fs.source in index)
        form_column = [index[FORM]] if FORM in index else []
        # each column once: 项目编码 is also the column of a pre-filled field
        own = tuple(dict.fromkeys([index[CODE], *form_column, *(i for _, i in sourced)]))
        return cls(spec, sourced, frozenset((g1.name, g2.name) for g1, g2 in spec.indicators.level2()),
                   spec.indicators.weight == "points", own, max(own) + 1)

    def repeats(self, row: list, above: list) -> bool:
        """Whether `row` holds the very objects `above` holds in every one of the project's columns."""
        if len(row) < self.own_width or len(above) < self.own_width:
            return False
        for i in self.own:
            if row[i] is not above[i]:
                return False
        return True


class _RowReader:
    """Reads the rows after the header into projects, reporting each problem through `problem`."""

    def __init__(self, index: dict[str, int], forms: dict[str, FormSpec], default_form: str | None,
                 where: Callable[[str], str], problem: Callable[[int | None, str | None, str], None]):
        self.forms = {fid: _Form.of(spec, index) for fid, spec in forms.items()}
        self.code_at, self.form_at = index[CODE], index.get(FORM, _ABSENT)
        self.indicator_at = tuple(index.get(c, _ABSENT) for c in INDICATOR_COLUMNS)
        self.default_form, self.where, self.problem = default_form, where, problem
        self.projects: dict[str, Project] = {}
        self.first_values: dict[tuple[str, str], tuple[Any, int]] = {}
        self.bad_values: set[tuple[str, str]] = set()   # (code, field) already reported as not a number

    def read(self, rows: list[list[Any]], ends: dict[int, str]) -> Iterator[str]:
        """Read the rows after the header into self.projects; after each row that is the last of a
        project's code (`ends`), yields that code if a project has it."""
        # A project's own cells repeat on each of its indicator rows as the very same objects
        # (_shared). A row holding in all of them the very objects of the last row taken, which were
        # all fine, is that project again with nothing new to check: only its indicator is read.
        last: list[Any] = []
        last_form: _Form | None = None      # None: the next row is read in full
        indicator, indicator_at = self._indicator, self.indicator_at    # looked up once
        for r_no, row in enumerate(rows[1:], start=2):
            if last_form is not None and last_form.repeats(row, last):
                form = last_form            # and proj is still the last row's
                taken = True
            else:
                read = self._project(row, r_no)
                taken = read is not None    # not for a blank row or a wrong code or form
                if taken:
                    form, proj = read
                    # a text code: the row is not blank, so a row repeating it is not blank either
                    fine = self._fields(form, proj, row, r_no) and type(row[self.code_at]) is str
                    last_form = form if fine else None
            if taken:
                last = row
                ind = indicator(form, _cleaned(row, indicator_at), r_no)
                if ind is not None:
                    proj.indicators.append(ind)
            code = ends.get(r_no)
            if code is not None and code in self.projects:
                yield code

    def finish(self, proj: Project, problem: Callable[[int | None, str | None, str], None]) -> None:
        """The checks of a complete project as a whole: its required fields and its points."""
        form = self.forms[proj.form_id]
        for fs in form.spec.fields.values():
            if fs.source and fs.required and proj.fields.get(fs.name) in (None, "") \
                    and (proj.code, fs.name) not in self.bad_values:
                problem(proj.source_row, self.where(fs.source), f"项目 {proj.code} 缺少“{fs.source}”")
        _check_project_points(form.spec, proj, problem, self.where(POINTS))

    def _project(self, row: list, r_no: int) -> tuple[_Form, Project] | None:
        """The row's form and project; None for a blank row or a wrong code or form (reported)."""
        where, problem = self.where, self.problem
        raw_code = _cell(row, self.code_at)
        if not (type(raw_code) is str and raw_code) and _blank(row):   # a row with a code is not blank
            return None
        if isinstance(raw_code, float) and abs(raw_code) >= 1e15:
            # Excel keeps 15 significant digits: a 21-digit code typed as a number is already wrong
            problem(r_no, where(CODE), f"项目编码是数字 {raw_code:.15g}，Excel 只保留 15 位有效数字，编码已失真；"
                                       f"请把该列设为“文本”格式后重新输入编码")
            return None
        code = str(raw_code)
        if not code:
            problem(r_no, where(CODE), "项目编码为空")
            return None
        form_id = str(_cell(row, self.form_at)) or self.default_form or ""
        form = self.forms.get(form_id)
        if form is None:
            problem(r_no, where(FORM) if self.form_at != _ABSENT else None,
                    f"未知的表单“{form_id}”；可用：{'、'.join(sorted(self.forms))}")
            return None
        proj = self.projects.get(code)
        if proj is None:
            proj = self.projects[code] = Project(code=code, form_id=form_id, fields={}, source_row=r_no)
        elif proj.form_id != form_id:
            problem(r_no, where(FORM), f"项目 {code} 前后使用了不同的表单（{proj.form_id} / {form_id}）")
            return None
        return form, proj

    def _fields(self, form: _Form, proj: Project, row: list, r_no: int) -> bool:
        """Take the row's pre-filling cells into `proj`; whether all were fine (nothing reported)."""
        code, where, problem = proj.code, self.where, self.problem
        fine = True
        for fs, i in form.sourced:
            if i >= len(row):
                continue
            raw = _clean(row[i])
            if raw == "":
                continue
            value: Any = raw
            if fs.type == "amount":
                try:
                    value = _number(raw)
                except ValueError:
                    problem(r_no, where(fs.source), f"“{raw}”不是数字（金额，单位万元）")
                    self.bad_values.add((code, fs.name))
                    fine = False
                    continue
                if value is not None and value < 0:
                    problem(r_no, where(fs.source), f"金额 {raw} 不能为负数")
                    self.bad_values.add((code, fs.name))
                    fine = False
                    continue
            else:
                value = str(raw)
            seen = self.first_values.get((code, fs.name))
            if seen is None:
                self.first_values[(code, fs.name)] = (value, r_no)
                proj.fields[fs.name] = value
            elif seen[0] != value:
                fine = False
                if fs.name == "project_name":
                    problem(r_no, where(CODE),
                            f"项目编码 {code} 重复：第{seen[1]}行是“{seen[0]}”，本行是“{value}”")
                else:
                    problem(r_no, where(fs.source),
                            f"项目 {code} 的“{fs.source}”与第{seen[1]}行不一致（“{seen[0]}” / “{value}”）")
        return fine

    def _indicator(self, form: _Form, cells: list, r_no: int) -> Indicator | None:
        """The indicator of a row whose INDICATOR_COLUMNS cells are `cells`; None if it has none,
        or it is wrong (reported)."""
        level1, level2, name, target, raw_points, direction_word, kind_word = cells
        if level1 == level2 == name == target == "":
            return None  # a project-only row
        where, problem = self.where, self.problem
        if (str(level1), str(level2)) not in form.groups:
            spec = form.spec
            groups = "；".join(f"{g1.name}：{'、'.join(g2.name for g2 in g1.children)}"
                              for g1 in spec.indicators.groups)
            problem(r_no, where(LEVEL2 if spec.indicators.find(str(level1), "") is None and any(
                g.name == level1 for g in spec.indicators.groups) else LEVEL1),
                f"指标分组“{level1} / {level2}”不在表单 {spec.id} 中；可用的分组：{groups}")
            return None
        if name == "":
            problem(r_no, where(NAME), "指标内容为空")
            return None
        if target == "" and str(name) not in NA_WORDS:
            problem(r_no, where(TARGET), f"指标“{name}”没有指标值")
            return None
        points = None
        if form.points and raw_points != "":
            try:
                points = _number(raw_points)
            except ValueError:
                problem(r_no, where(POINTS), f"分值“{raw_points}”不是数字")
                return None
        direction_word = str(direction_word)
        if direction_word not in DIRECTION_WORDS:
            problem(r_no, where(DIRECTION), f"指标方向“{direction_word}”应为 正向、反向 或 等于")
            return None
        kind_word = str(kind_word)
        if kind_word not in KIND_WORDS:
            problem(r_no, where(KIND), f"指标类型“{kind_word}”应为 定量 或 定性")
            return None
        ind = Indicator(str(level1), str(level2), str(name), target, points,
                        DIRECTION_WORDS[direction_word], KIND_WORDS[kind_word])
        if form.points and points is None and not ind.not_applicable:
            problem(r_no, where(POINTS), f"指标“{name}”没有分值")
            return None
        return ind


def _check_project_points(spec: FormSpec, proj: Project, problem, column: str) -> None:
    if spec.indicators.weight != "points":
        return
    for g1 in spec.indicators.groups:
        rows = [i for i in proj.indicators if i.level1 == g1.name and not i.not_applicable]
        total = sum(i.points or 0 for i in rows)
        if rows and abs(total - (g1.points or 0)) > 1e-6:
            problem(proj.source_row, column,
                    f"项目 {proj.code} 的“{g1.name}”各指标分值合计 {total:g} 分，应为 {g1.points:g} 分")
