"""Form specs: one YAML file per official layout, the single model every command works from.

A spec says what the sheet looks like (rows of labelled and data cells, column widths, styles,
print setup), what each data cell is (a *field*: its role, whether it is pre-filled from the
project list or an input, and how inputs are validated), how the indicator table is laid out and
grouped, and how the form is scored. `docs/form-spec.md` documents every key.

Loading is strict: an unknown key, a reference to something undefined, or points that do not add
up is a `SpecError` naming the file and the key path, so a bureau that writes a new provincial
variant learns what is wrong before a single workbook is generated.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError, meta as jinja_meta
from jinja2.sandbox import SandboxedEnvironment

from .errors import XlformError

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
_BUNDLED_DIR = Path(__file__).resolve().parent / "templates"

# Roles a field may have; docs/form-spec.md explains each. Indicator roles are given by the layout.
FIELD_ROLES = {
    "identity", "fund_total", "fund_source", "fund_initial", "fund_budget", "fund_source_budget",
    "fund_executed", "description", "goal", "goal_result", "period_start", "period_end", "progress",
    "self_score", "execution_rate", "execution_score", "total_score", "grade", "contact",
}
INDICATOR_ROLES = (
    "indicator_level1", "indicator_level2", "indicator_name", "indicator_target",
    "indicator_actual", "indicator_reason", "indicator_points", "indicator_score", "group_score",
)
VALUE_TYPES = {"amount", "percent", "score", "date", "text"}
VALIDATE_TYPES = {"decimal", "integer", "date", "length", "list"}
DIRECTIONS = {"positive", "reverse", "exact"}
INLINE_LIST_LIMIT = 255  # Excel's limit for an inline dropdown list (lessons.md)
PLACEHOLDERS = ("year", "title", "execution_points", "total_points")  # what FormSpec.render supplies
PAPER_SIZES = {"A4": 9, "A3": 8, "A5": 11, "B5": 13, "Letter": 1, "Legal": 5}  # Excel paperSize codes
_COL_RE = re.compile(r"^[A-Z]{1,2}$")


class SpecError(XlformError):
    """A form spec that cannot be used: names the file and the key."""

    def __init__(self, path: Path | str, key: str, message: str, via: Path | str | None = None):
        self.path, self.key = str(path), key
        where = f"{Path(path).name}（由 {Path(via).name} 引用）" if via else Path(path).name
        super().__init__(f"表单定义文件 {where} 的 {key}：{message}")


@dataclass(frozen=True)
class InputType:
    name: str
    validate: dict
    format: str | None
    prompt: tuple[str, str]
    error: tuple[str, str]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    role: str
    source: str | None = None   # project-list column that pre-fills it (locked)
    input: str | None = None    # input type name (unlocked, validated)
    type: str | None = None     # value type of a pre-filled or computed field
    required: bool = False

    @property
    def is_input(self) -> bool:
        return self.input is not None


@dataclass(frozen=True)
class CellSpec:
    first_col: int              # 0-based
    last_col: int
    rows: int = 1
    text: str | None = None
    field: str | None = None
    style: str | None = None


@dataclass(frozen=True)
class RowSpec:
    cells: tuple[CellSpec, ...] = ()
    height: float | None = None
    is_indicators: bool = False


@dataclass(frozen=True)
class Group:
    name: str
    label: str
    points: float | None
    direction: str = "positive"
    required: bool = False
    children: tuple["Group", ...] = ()


@dataclass(frozen=True)
class IndicatorSpec:
    side_label: CellSpec | None
    header: tuple[RowSpec, ...]
    columns: dict[str, int]     # part -> 0-based column
    score_per: str              # "group" (one merged score per 二级指标) or "indicator"
    weight: str                 # "equal" (rows share the group's points) or "points" (分值 per row)
    blank_rows: int
    reason_label: str
    groups: tuple[Group, ...]

    def level2(self) -> list[tuple[Group, Group]]:
        return [(g1, g2) for g1 in self.groups for g2 in g1.children]

    def find(self, level1: str, level2: str) -> tuple[Group, Group] | None:
        for g1, g2 in self.level2():
            if g1.name == level1 and g2.name == level2:
                return g1, g2
        return None


@dataclass(frozen=True)
class Scoring:
    total: float
    execution_points: float
    execution_rate_field: str | None
    execution_budget_field: str | None
    execution_executed_field: str | None
    explain_execution_below: float
    tier_ratios: tuple[float, ...]
    prose_tier: int
    not_comparable_ratio: float
    excess_ratio: float
    late_date_ratio: float
    self_score_tolerance: float
    grades: tuple[tuple[float, str], ...]   # (min score, grade), highest first

    def grade(self, score: float) -> str:
        for minimum, grade in self.grades:
            if score >= minimum - 1e-9:
                return grade
        return self.grades[-1][1]


@dataclass(frozen=True)
class FormSpec:
    id: str
    version: str
    name: str
    title: str
    default_year: int
    sheet: str
    columns: tuple[float, ...]
    font: str
    font_size: float
    input_fill: str
    print: dict
    cell_styles: dict[str, dict]
    fields: dict[str, FieldSpec]
    rows: tuple[RowSpec, ...]
    indicators: IndicatorSpec
    input_types: dict[str, InputType]
    lists: dict[str, tuple[str, ...]]
    sheet_lists: frozenset[str]          # lists stored on the hidden list sheet
    scoring: Scoring
    path: Path = field(compare=False, default=Path("."))

    def render(self, text: str, **context: Any) -> str:
        """Fill a spec text's Jinja2 placeholders ({{ year }}, {{ title }}, ...)."""
        if "{" not in text:
            return text
        ctx = {"execution_points": _fmt_points(self.scoring.execution_points),
               "total_points": _fmt_points(self.scoring.total), **context}
        if "title" not in ctx:
            ctx["title"] = _compiled(self.title).render(**ctx)
        return _compiled(text).render(**ctx)

    def source_columns(self) -> list[str]:
        return [f.source for f in self.fields.values() if f.source]

    def fields_with_role(self, role: str) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.role == role]


_JINJA = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=512)
def _compiled(text: str):
    return _JINJA.from_string(text)


def _fmt_points(x: float) -> str:
    return f"{x:g}"


# ---------------------------------------------------------------- loading

def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


@functools.lru_cache(maxsize=1024)
def col_letter(index: int) -> str:
    s, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


class _Reader:
    """Walks a spec mapping, remembering the key path for error messages."""

    def __init__(self, path: Path, origins: dict[str, Path] | None = None):
        self.path = path
        self.origins = origins or {}   # key path -> the included file it came from

    def fail(self, key: str, message: str) -> SpecError:
        # name the file the key was written in: an included fragment, or the spec itself
        parts = re.sub(r"\[\d+\]", "", key).split(".")
        for n in range(len(parts), 0, -1):
            origin = self.origins.get(".".join(parts[:n]))
            if origin is not None:
                return SpecError(origin, key, message, via=self.path)
            if ".".join(parts[:n]) in self.origins:
                break
        return SpecError(self.path, key, message)

    def mapping(self, value: Any, key: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, "应为键值对（mapping）")
        for k in value:
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else str(k),
                                f"未知的键 “{k}”；允许的键：{'、'.join(sorted(allowed))}")
        for k in required:
            if k not in value:
                raise self.fail(f"{key}.{k}" if key else k, "缺少必填的键")
        return value

    def text(self, value: Any, key: str, placeholders: tuple[str, ...] = PLACEHOLDERS) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{value:g}"
        if not isinstance(value, str):
            raise self.fail(key, "应为文字")
        self.template(value, key, placeholders)
        return value

    def template(self, value: str, key: str, placeholders: tuple[str, ...] = PLACEHOLDERS) -> None:
        if "{" not in value:
            return
        try:
            ast = _JINJA.parse(value)
        except TemplateError as exc:
            raise self.fail(key, f"模板语法错误：{exc}") from None
        # an unknown placeholder would only fail when a workbook is generated: refuse it now
        unknown = sorted(jinja_meta.find_undeclared_variables(ast) - set(placeholders))
        if unknown:
            raise self.fail(key, f"未知的占位符 “{{{{ {unknown[0]} }}}}”；可用的占位符："
                                 f"{'、'.join(placeholders)}")

    def number(self, value: Any, key: str, *, minimum: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"应为数字，实际为 {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"不得小于 {minimum:g}")
        return float(value)

    def columns(self, value: Any, key: str) -> tuple[int, int]:
        if not isinstance(value, str):
            raise self.fail(key, "应为列号，如 A 或 A:C")
        parts = value.split(":")
        if len(parts) > 2 or not all(_COL_RE.match(p) for p in parts):
            raise self.fail(key, f"列号 “{value}” 无效，应如 A 或 A:C")
        first, last = col_index(parts[0]), col_index(parts[-1])
        if last < first:
            raise self.fail(key, f"列范围 “{value}” 起止颠倒")
        return first, last


def load_spec(path: str | Path) -> FormSpec:
    path = Path(path)
    data, origins = _load_yaml_with_includes(path, seen=())
    return _build(_Reader(path, origins), data)


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml when present: ~10x faster


def _load_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_YAML_LOADER)
    except OSError as exc:
        raise SpecError(path, "(文件)", f"无法读取：{exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark else "(文件)"
        raise SpecError(path, where, f"YAML 格式错误：{getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(path, "(文件)", "内容应为键值对（mapping）")
    return data


def _key_paths(d: dict, prefix: str = ""):
    for k, v in d.items():
        p = f"{prefix}.{k}" if prefix else str(k)
        yield p
        if isinstance(v, dict):
            yield from _key_paths(v, p)


def _load_yaml_with_includes(path: Path, seen: tuple[Path, ...]) -> tuple[dict, dict[str, Path | None]]:
    """The merged mapping, and for each key path the included file it came from (None: this file)."""
    data = _load_yaml(path)
    inc = data.pop("include", None)
    if inc is None:
        return data, {p: None for p in _key_paths(data)}
    if not isinstance(inc, str):
        raise SpecError(path, "include", "应为同一目录下的文件名")
    inc_path = (path.parent / inc).resolve()
    if inc_path in seen or inc_path == path.resolve():
        raise SpecError(path, "include", f"循环引用 {inc}")
    if not inc_path.exists():
        raise SpecError(path, "include", f"找不到被引用的文件 {inc}")
    base, base_origins = _load_yaml_with_includes(inc_path, seen + (path.resolve(),))
    origins = {p: (o if o is not None else inc_path) for p, o in base_origins.items()}
    origins.update({p: None for p in _key_paths(data)})
    return _merge(base, data), origins


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


_TOP_KEYS = {"id", "version", "name", "title", "default_year", "sheet", "columns", "styles", "print",
             "cell_styles", "fields", "rows", "indicators", "input_types", "lists", "scoring"}
_STYLE_PROPS = {"bold", "italic", "size", "align", "valign", "text_wrap", "border", "bg_color",
                "font_color", "indent", "shrink"}


def _build(r: _Reader, d: dict) -> FormSpec:
    r.mapping(d, "", _TOP_KEYS, {"id", "version", "title", "sheet", "columns", "fields", "rows",
                                 "indicators", "input_types", "scoring"})
    form_id = r.text(d["id"], "id")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,40}", form_id):
        raise r.fail("id", "只能用小写字母、数字、- 和 _")
    version = r.text(d["version"], "version")
    title = r.text(d["title"], "title", tuple(p for p in PLACEHOLDERS if p != "title"))
    sheet = r.text(d["sheet"], "sheet")
    if len(sheet) > 31 or any(c in sheet for c in "[]:*?/\\"):
        raise r.fail("sheet", "工作表名不得超过31个字符，且不得含 [ ] : * ? / \\")
    default_year = int(r.number(d.get("default_year", dt.date.today().year - 1), "default_year"))

    cols = r.mapping(d["columns"], "columns", {col_letter(i) for i in range(52)})
    widths = [0.0] * (max(col_index(c) for c in cols) + 1)
    for c, w in cols.items():
        widths[col_index(c)] = r.number(w, f"columns.{c}", minimum=0.5)
    if 0.0 in widths:
        raise r.fail("columns", f"缺少 {col_letter(widths.index(0.0))} 列的宽度")
    ncols = len(widths)

    styles = r.mapping(d.get("styles", {}), "styles", {"font", "size", "input_fill"})
    cell_styles: dict[str, dict] = {}
    for name, props in r.mapping(d.get("cell_styles", {}), "cell_styles", set(d.get("cell_styles", {}))).items():
        cell_styles[name] = dict(r.mapping(props, f"cell_styles.{name}", _STYLE_PROPS))
    for needed in ("label", "value", "header", "title"):
        cell_styles.setdefault(needed, {"border": 1, "text_wrap": True})
    prt = r.mapping(d.get("print", {}), "print", {"paper", "orientation", "margins", "footer", "header"})
    if prt.get("orientation", "portrait") not in ("portrait", "landscape"):
        raise r.fail("print.orientation", "应为 portrait 或 landscape")
    if prt.get("paper", "A4") not in PAPER_SIZES:
        raise r.fail("print.paper", f"应为 {'、'.join(PAPER_SIZES)} 之一")
    for key in ("header", "footer"):     # Excel's limit; XlsxWriter would silently leave a longer one out
        if len(str(prt.get(key, "")).encode("utf-16-le")) // 2 > 255:
            raise r.fail(f"print.{key}", "页眉页脚不能超过 255 个字符")

    lists, sheet_lists = _lists(r, d.get("lists", {}))
    input_types = _input_types(r, d["input_types"], lists)
    fields = _fields(r, d["fields"], input_types)
    scoring = _scoring(r, d["scoring"], fields)
    indicators = _indicators(r, d["indicators"], ncols, cell_styles)

    rows: list[RowSpec] = []
    used_fields: set[str] = set()
    n_indicator_blocks = 0
    if not isinstance(d["rows"], list):
        raise r.fail("rows", "应为列表")
    for i, row in enumerate(d["rows"]):
        key = f"rows[{i}]"
        if row == "indicators":
            n_indicator_blocks += 1
            rows.append(RowSpec(is_indicators=True))
            continue
        rows.append(_row(r, row, key, ncols, fields, cell_styles, used_fields))
    if n_indicator_blocks != 1:
        raise r.fail("rows", "必须且只能有一行 “indicators”，表示指标表的位置")
    for conventional in ("project_code", "project_name", "department", "unit"):
        if conventional not in fields or fields[conventional].role != "identity":
            raise r.fail(f"fields.{conventional}", "每个表单都必须有这个 role: identity 的字段（汇总和文件命名要用）")
    unused = set(fields) - used_fields
    if unused:
        raise r.fail(f"fields.{sorted(unused)[0]}", "已定义但未放入 rows 中的任何单元格")
    _check_vertical_merges(r, rows, indicators)
    _check_points(r, indicators, scoring)

    return FormSpec(
        id=form_id, version=version, name=r.text(d.get("name", title), "name"), title=title,
        default_year=default_year, sheet=sheet, columns=tuple(widths),
        font=styles.get("font", "宋体"), font_size=float(styles.get("size", 10)),
        input_fill=styles.get("input_fill", "#FFF2CC"), print=dict(prt), cell_styles=cell_styles,
        fields=fields, rows=tuple(rows), indicators=indicators, input_types=input_types,
        lists=lists, sheet_lists=frozenset(sheet_lists), scoring=scoring, path=r.path)


def _lists(r: _Reader, raw: Any) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    lists, on_sheet = {}, set()
    for name, spec in r.mapping(raw, "lists", set(raw) if isinstance(raw, dict) else set()).items():
        key = f"lists.{name}"
        spec = r.mapping(spec, key, {"values", "store"}, {"values"})
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise r.fail(f"{key}.values", "应为非空列表")
        values = tuple(r.text(v, f"{key}.values[{i}]") for i, v in enumerate(values))
        store = spec.get("store", "inline")
        if store not in ("inline", "sheet"):
            raise r.fail(f"{key}.store", "应为 inline（写在数据验证里）或 sheet（写在隐藏工作表上）")
        length = len(",".join(values).encode("utf-16-le")) // 2
        if store == "inline" and length > INLINE_LIST_LIMIT:
            raise r.fail(f"{key}.values",
                         f"下拉列表共 {length} 个字符，超过 Excel 内联列表的 {INLINE_LIST_LIMIT} 个字符上限；"
                         f"请加上 store: sheet，把列表放到隐藏工作表")
        if store == "sheet":
            on_sheet.add(name)
        lists[name] = values
    return lists, on_sheet


def _pair(r: _Reader, v: Any, key: str, limits: tuple[int, int]) -> tuple[str, str]:
    if not (isinstance(v, list) and len(v) == 2):
        raise r.fail(key, "应为 [标题, 内容] 两项")
    title, body = r.text(v[0], f"{key}[0]"), r.text(v[1], f"{key}[1]")
    if len(title) > limits[0] or len(body) > limits[1]:
        raise r.fail(key, f"标题不得超过{limits[0]}字、内容不得超过{limits[1]}字（Excel 的限制）")
    return title, body


def _input_types(r: _Reader, raw: Any, lists: dict) -> dict[str, InputType]:
    out = {}
    for name, spec in r.mapping(raw, "input_types", set(raw) if isinstance(raw, dict) else set()).items():
        key = f"input_types.{name}"
        spec = r.mapping(spec, key, {"validate", "format", "prompt", "error"}, {"validate", "prompt", "error"})
        v = dict(r.mapping(spec["validate"], f"{key}.validate",
                           {"type", "min", "max", "list", "error_type"}, {"type"}))
        if v["type"] not in VALIDATE_TYPES:
            raise r.fail(f"{key}.validate.type", f"应为 {'、'.join(sorted(VALIDATE_TYPES))} 之一")
        if v["type"] == "list" and v.get("list") not in lists:
            raise r.fail(f"{key}.validate.list", f"引用了未定义的下拉列表 “{v.get('list')}”")
        if v.get("error_type", "stop") not in ("stop", "warning", "information"):
            raise r.fail(f"{key}.validate.error_type", "应为 stop、warning 或 information")
        _check_bounds(r, v, f"{key}.validate")
        out[name] = InputType(name, v, spec.get("format"), _pair(r, spec["prompt"], f"{key}.prompt", (32, 255)),
                              _pair(r, spec["error"], f"{key}.error", (32, 225)))
    for needed in ("actual", "reason", "tier", "name", "points"):
        if needed not in out:
            raise r.fail(f"input_types.{needed}", "缺少指标表需要的输入类型")
    return out


def _check_bounds(r: _Reader, v: dict, key: str) -> None:
    """min/max must suit the validation type: a bad bound would only show up as a broken workbook."""
    kind, bounds = v["type"], {}
    for bound in ("min", "max"):
        if bound not in v:
            continue
        x = v[bound]
        if kind == "list":
            raise r.fail(f"{key}.{bound}", "下拉列表（type: list）没有 min/max")
        if kind == "date":
            if isinstance(x, dt.datetime):
                x = x.date()
            if not isinstance(x, dt.date):
                try:
                    x = dt.date.fromisoformat(str(x))
                except ValueError:
                    raise r.fail(f"{key}.{bound}", f"应为日期，如 2021-12-31，实际为 {x!r}") from None
        elif kind in ("integer", "length"):
            if isinstance(x, bool) or not isinstance(x, int) or (kind == "length" and x < 0):
                raise r.fail(f"{key}.{bound}", f"应为{'不小于0的' if kind == 'length' else ''}整数，实际为 {x!r}")
        else:
            x = r.number(x, f"{key}.{bound}")
        bounds[bound] = x
    if len(bounds) == 2 and bounds["min"] > bounds["max"]:
        raise r.fail(key, f"min（{v['min']}）大于 max（{v['max']}）")


def _fields(r: _Reader, raw: Any, input_types: dict) -> dict[str, FieldSpec]:
    out = {}
    for name, spec in r.mapping(raw, "fields", set(raw) if isinstance(raw, dict) else set()).items():
        key = f"fields.{name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", str(name)):
            raise r.fail(key, "字段名只能用小写字母、数字和 _，且以字母开头")
        spec = r.mapping(spec, key, {"label", "role", "source", "input", "type", "required"}, {"label", "role"})
        if spec["role"] not in FIELD_ROLES:
            raise r.fail(f"{key}.role", f"未知的角色 “{spec['role']}”")
        if spec.get("input") is not None and spec["input"] not in input_types:
            raise r.fail(f"{key}.input", f"引用了未定义的输入类型 “{spec['input']}”")
        if spec.get("input") and spec.get("source"):
            raise r.fail(key, "一个字段不能既由项目清单预填（source）又由部门填报（input）")
        if spec.get("type") is not None and spec["type"] not in VALUE_TYPES:
            raise r.fail(f"{key}.type", f"应为 {'、'.join(sorted(VALUE_TYPES))} 之一")
        out[name] = FieldSpec(name=name, label=r.text(spec["label"], f"{key}.label"), role=spec["role"],
                              source=spec.get("source"), input=spec.get("input"), type=spec.get("type"),
                              required=bool(spec.get("required", False)))
    return out


def _cell(r: _Reader, raw: Any, key: str, ncols: int, styles: dict) -> CellSpec:
    c = r.mapping(raw, key, {"at", "rows", "text", "field", "style"}, {"at"})
    first, last = r.columns(c["at"], f"{key}.at")
    if last >= ncols:
        raise r.fail(f"{key}.at", f"超出了 columns 中定义的列（共 {ncols} 列）")
    if ("text" in c) == ("field" in c):
        raise r.fail(key, "每个单元格必须有且只有 text（标签）或 field（数据）之一")
    if c.get("style") is not None and c["style"] not in styles:
        raise r.fail(f"{key}.style", f"未定义的样式 “{c['style']}”")
    rows = int(r.number(c.get("rows", 1), f"{key}.rows", minimum=1))
    text = r.text(c["text"], f"{key}.text") if "text" in c else None
    return CellSpec(first, last, rows, text, c.get("field"), c.get("style"))


def _row(r: _Reader, raw: Any, key: str, ncols: int, fields: dict, styles: dict, used: set) -> RowSpec:
    row = r.mapping(raw, key, {"cells", "height"}, {"cells"})
    if not isinstance(row["cells"], list):
        raise r.fail(f"{key}.cells", "应为列表")
    cells = []
    for j, c in enumerate(row["cells"]):
        cell = _cell(r, c, f"{key}.cells[{j}]", ncols, styles)
        if cell.field is not None:
            if cell.field not in fields:
                raise r.fail(f"{key}.cells[{j}].field", f"引用了未定义的字段 “{cell.field}”")
            if cell.field in used:
                raise r.fail(f"{key}.cells[{j}].field", f"字段 “{cell.field}” 已放在另一个单元格")
            used.add(cell.field)
        cells.append(cell)
    height = r.number(row["height"], f"{key}.height", minimum=1) if "height" in row else None
    return RowSpec(tuple(cells), height)


def _check_vertical_merges(r: _Reader, rows: list[RowSpec], ind: IndicatorSpec) -> None:
    """Cells must not overlap, counting cells merged down from earlier rows."""
    taken: dict[tuple[int, int], str] = {}
    y = 0
    for i, row in enumerate(rows):
        if row.is_indicators:
            y += 10**6  # the table's height varies; nothing merges across it
            continue
        for j, c in enumerate(row.cells):
            for dy in range(c.rows):
                for x in range(c.first_col, c.last_col + 1):
                    if (y + dy, x) in taken:
                        raise r.fail(f"rows[{i}].cells[{j}]", f"与 {taken[(y + dy, x)]} 重叠")
                    taken[(y + dy, x)] = f"rows[{i}]"
        y += 1


def _group(r: _Reader, raw: Any, key: str, level: int) -> Group:
    allowed = {"name", "label", "points", "direction", "required"} | ({"children"} if level == 1 else set())
    g = r.mapping(raw, key, allowed, {"name"} | ({"children"} if level == 1 else set()))
    direction = g.get("direction", "positive")
    if direction not in DIRECTIONS:
        raise r.fail(f"{key}.direction", "应为 positive（正向）、reverse（反向）或 exact（等于）")
    points = r.number(g["points"], f"{key}.points", minimum=0) if g.get("points") is not None else None
    children = ()
    if level == 1:
        if not isinstance(g["children"], list) or not g["children"]:
            raise r.fail(f"{key}.children", "应为非空列表")
        children = tuple(_group(r, c, f"{key}.children[{i}]", 2) for i, c in enumerate(g["children"]))
    name = r.text(g["name"], f"{key}.name")
    return Group(name, r.text(g.get("label", name), f"{key}.label"), points, direction,
                 bool(g.get("required", False)), children)


def _indicators(r: _Reader, raw: Any, ncols: int, styles: dict) -> IndicatorSpec:
    key = "indicators"
    d = r.mapping(raw, key, {"side_label", "header", "columns", "score_per", "weight", "blank_rows",
                             "reason_label", "groups"}, {"header", "columns", "groups"})
    parts_needed = {"level1", "level2", "name", "target", "actual", "reason", "score"}
    cols = r.mapping(d["columns"], f"{key}.columns", parts_needed | {"points"}, parts_needed)
    columns = {}
    for part, letter in cols.items():
        first, last = r.columns(letter, f"{key}.columns.{part}")
        if first != last or first >= ncols:
            raise r.fail(f"{key}.columns.{part}", "应为 columns 中定义的单独一列")
        columns[part] = first
    if len(set(columns.values())) != len(columns):
        raise r.fail(f"{key}.columns", "两个部分不能放在同一列")
    score_per = d.get("score_per", "group")
    if score_per not in ("group", "indicator"):
        raise r.fail(f"{key}.score_per", "应为 group（每个二级指标一个得分）或 indicator（每个指标一个得分）")
    weight = d.get("weight", "equal")
    if weight not in ("equal", "points"):
        raise r.fail(f"{key}.weight", "应为 equal（组内平均）或 points（每个指标的分值）")
    if weight == "points" and "points" not in columns:
        raise r.fail(f"{key}.columns.points", "weight: points 需要一列分值")
    side = _cell(r, d["side_label"], f"{key}.side_label", ncols, styles) if d.get("side_label") else None
    header = tuple(_row(r, h, f"{key}.header[{i}]", ncols, {}, styles, set())
                   for i, h in enumerate(d["header"] if isinstance(d["header"], list) else []))
    if not header:
        raise r.fail(f"{key}.header", "应为非空列表")
    groups = d["groups"]
    if not isinstance(groups, list) or not groups:
        raise r.fail(f"{key}.groups", "应为非空列表")
    built = tuple(_group(r, g, f"{key}.groups[{i}]", 1) for i, g in enumerate(groups))
    # project-list rows are matched to groups by name: a repeated name would list them twice
    for i, g1 in enumerate(built):
        if any(g.name == g1.name for g in built[:i]):
            raise r.fail(f"{key}.groups[{i}].name", f"一级指标“{g1.name}”重复")
        for j, g2 in enumerate(g1.children):
            if any(g.name == g2.name for g in g1.children[:j]):
                raise r.fail(f"{key}.groups[{i}].children[{j}].name", f"二级指标“{g2.name}”在“{g1.name}”下重复")
    return IndicatorSpec(
        side_label=side, header=header, columns=columns, score_per=score_per, weight=weight,
        blank_rows=int(r.number(d.get("blank_rows", 3), f"{key}.blank_rows", minimum=1)),
        reason_label=r.text(d.get("reason_label", "未完成的原因"), f"{key}.reason_label"),
        groups=built)


def _scoring(r: _Reader, raw: Any, fields: dict) -> Scoring:
    key = "scoring"
    d = r.mapping(raw, key, {"total", "execution", "explain_execution_below", "tier_ratios", "prose_tier",
                             "not_comparable_ratio", "late_date_ratio", "self_score_tolerance", "grades",
                             "excess_ratio"},
                  {"execution", "grades"})
    ex = r.mapping(d["execution"], f"{key}.execution", {"points", "rate", "budget", "executed"}, {"points"})
    for k in ("rate", "budget", "executed"):
        if k in ex and ex[k] not in fields:
            raise r.fail(f"{key}.execution.{k}", f"引用了未定义的字段 “{ex[k]}”")
    if "rate" not in ex and not ("budget" in ex and "executed" in ex):
        raise r.fail(f"{key}.execution", "需要 rate（执行率字段）或 budget 与 executed（预算数与执行数字段）")
    ratios = d.get("tier_ratios", [1.0, 0.7, 0.3])
    if not isinstance(ratios, list) or len(ratios) != 3 or not all(
            isinstance(x, (int, float)) and 0 <= x <= 1 for x in ratios):
        raise r.fail(f"{key}.tier_ratios", "应为三个 0 到 1 之间的数，对应三个完成档次")
    grades = []
    for i, g in enumerate(d["grades"] if isinstance(d["grades"], list) else []):
        g = r.mapping(g, f"{key}.grades[{i}]", {"min", "grade"}, {"min", "grade"})
        grades.append((r.number(g["min"], f"{key}.grades[{i}].min"), r.text(g["grade"], f"{key}.grades[{i}].grade")))
    if not grades:
        raise r.fail(f"{key}.grades", "应为非空列表")
    grades.sort(key=lambda t: -t[0])
    return Scoring(
        total=r.number(d.get("total", 100), f"{key}.total", minimum=1),
        execution_points=r.number(ex["points"], f"{key}.execution.points", minimum=0),
        execution_rate_field=ex.get("rate"), execution_budget_field=ex.get("budget"),
        execution_executed_field=ex.get("executed"),
        explain_execution_below=r.number(d.get("explain_execution_below", 0.9), f"{key}.explain_execution_below"),
        tier_ratios=tuple(float(x) for x in ratios),
        prose_tier=int(r.number(d.get("prose_tier", 0), f"{key}.prose_tier")),
        not_comparable_ratio=r.number(d.get("not_comparable_ratio", 1.0), f"{key}.not_comparable_ratio"),
        excess_ratio=r.number(d.get("excess_ratio", 1.2), f"{key}.excess_ratio", minimum=1),
        late_date_ratio=r.number(d.get("late_date_ratio", 0.0), f"{key}.late_date_ratio"),
        self_score_tolerance=r.number(d.get("self_score_tolerance", 0.5), f"{key}.self_score_tolerance"),
        grades=tuple(grades))


def _check_points(r: _Reader, ind: IndicatorSpec, scoring: Scoring) -> None:
    """Points must add up: groups + execution = total; 二级 = 一级 where the form gives 二级 points."""
    level1 = 0.0
    for i, g1 in enumerate(ind.groups):
        if g1.points is None:
            raise r.fail(f"indicators.groups[{i}].points", "一级指标必须有分值")
        level1 += g1.points
        child_points = [c.points for c in g1.children]
        if ind.weight == "equal":
            if any(p is None for p in child_points):
                j = child_points.index(None)
                raise r.fail(f"indicators.groups[{i}].children[{j}].points",
                             "weight: equal 的表单，每个二级指标都必须有分值")
        if all(p is not None for p in child_points) and abs(sum(child_points) - g1.points) > 1e-6:
            raise r.fail(f"indicators.groups[{i}].children",
                         f"二级指标分值合计 {sum(child_points):g} 分，与一级指标“{g1.name}”的 {g1.points:g} 分不符")
    if abs(level1 + scoring.execution_points - scoring.total) > 1e-6:
        raise r.fail("indicators.groups",
                     f"一级指标合计 {level1:g} 分加预算执行率 {scoring.execution_points:g} 分，"
                     f"不等于总分 {scoring.total:g} 分")


# ---------------------------------------------------------------- the catalogue

def spec_dirs() -> list[Path]:
    return [d for d in (TEMPLATES_DIR, _BUNDLED_DIR) if d.is_dir()]


def available_forms(dirs: list[Path] | None = None) -> dict[str, FormSpec]:
    """Every form spec found, by id (files starting with _ are shared fragments, not forms)."""
    forms: dict[str, FormSpec] = {}
    for d in dirs or spec_dirs():
        for p in sorted(d.glob("*.yaml")):
            if p.name.startswith("_"):
                continue
            spec = load_spec(p)
            forms.setdefault(spec.id, spec)
    return forms


def get_form(form: str | Path, dirs: list[Path] | None = None) -> FormSpec:
    """A form by id, or by the path of a spec file."""
    p = Path(form)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return load_spec(p)
    forms = available_forms(dirs)
    if str(form) not in forms:
        known = "、".join(sorted(forms)) or "（无）"
        raise XlformError(f"找不到表单 “{form}”。可用的表单：{known}（xlform forms 可列出）")
    return forms[str(form)]
