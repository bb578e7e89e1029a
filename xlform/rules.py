"""The checks run on a returned workbook once it is known to be ours: small functions, in order.

Each check reads the Context (the layout rebuilt from the manifest, the values read through the
workbook's defined names, the computed score) and adds findings with a code from findings.py, the
field, the cell and the values involved. The order follows FAC's lesson: integrity first, then
completeness, then content.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .findings import CATALOGUE, Finding, finding
from .layout import Layout, cell_ref
from .locate import Placement
from .manifest import ManifestEntry
from .read import WorkbookData
from .score import (BLANK, NOT_COMPARABLE, OVER, PROSE, SHORT, UNPARSEABLE, ScoreResult, execution)
from .values import TIERS


@dataclass
class Context:
    path: Path
    layout: Layout
    entry: ManifestEntry
    data: WorkbookData
    values: dict[str, Any]                       # field name -> raw value as returned
    where: dict[str, tuple[str, str]]            # field name -> (sheet, cell) it was read from
    place: Placement                             # where the unnamed cells (labels) went: locate.from_where
    score: ScoreResult | None = None
    findings: list[Finding] = field(default_factory=list)

    def add(self, code: str, message: str, field_name: str | None = None, *, sheet: str | None = None,
            cell: str | None = None) -> None:
        label = None
        if field_name is not None:
            f = self.layout.fields.get(field_name)
            label = str(f.label) if f else None
            sheet, cell = self.where.get(field_name, (self.layout.sheet, f.ref if f else None))
        self.findings.append(finding(code, message, sheet=sheet or self.layout.sheet, cell=cell,
                                     field=("xf_" + field_name) if field_name else None, label=label))


def show(v: Any) -> str:
    """A value as the department sees it, for messages."""
    if v is None or v == "":
        return "（空）"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    return str(v)


def _fmt(x: float) -> str:
    return f"{x:.2f}"


# ---------------------------------------------------------------- integrity

def _form_sheet(ctx: Context) -> str:
    """The sheet the fields were read from (the form's own, or it renamed / found by its labels)."""
    from collections import Counter
    sheets = Counter(s for s, _ in ctx.where.values())
    return sheets.most_common(1)[0][0] if sheets else ctx.layout.sheet


def check_protection(ctx: Context) -> None:
    name = _form_sheet(ctx)
    sheet = ctx.data.sheets.get(name)
    if sheet is not None and not sheet.protected:
        ctx.add("XF202", f"工作表“{name}”的保护已被取消", sheet=name)


def _same(issued: Any, returned: Any) -> bool:
    if issued == returned and type(returned) is not bool:   # nearly every locked cell: no normalising
        return True
    if isinstance(issued, (int, float)) and isinstance(returned, (int, float)) and not isinstance(returned, bool):
        return abs(float(issued) - float(returned)) <= 1e-9 * max(1.0, abs(float(issued)))
    a = "" if issued is None else str(issued).replace("\r\n", "\n").strip()
    b = "" if returned is None else str(returned).replace("\r\n", "\n").strip()
    if isinstance(returned, float) and returned.is_integer():
        b = str(int(returned))
    return a == b


def check_tamper(ctx: Context) -> None:
    """Every locked cell the bureau issued must come back unchanged (lessons.md: never trust the lock)."""
    field_at = {cell_ref(f.row, f.col): f for f in ctx.layout.fields.values()}
    # a label has no defined name: place it from the named cells around it, so rows inserted or
    # deleted (names move with them) do not turn every label below into a false XF201
    place = ctx.place
    sheet = place.sheet
    value_at = ctx.data.value_at
    still = place.rows.still and place.cols.still     # nothing moved: a label's one spot is its own
    sd = ctx.data.sheets.get(sheet)
    values, where = ctx.values, ctx.where
    for ref, issued in ctx.entry.locked.items():
        f = field_at.get(ref)
        if f is not None and f.name in where:
            returned = values.get(f.name)
            if _same(issued, returned):
                continue
            where_sheet, where_cell = where[f.name]
        else:
            col, row = _split_ref(ref)
            if still:
                returned = sd.value(row, col) if sd is not None else None
                if _same(issued, returned):
                    continue
                spots = [(row, col)]
            else:
                spots = list(place.candidates(row, col))
                returned = value_at(sheet, *spots[0])
                if _same(issued, returned) or any(_same(issued, value_at(sheet, r, c)) for r, c in spots[1:]):
                    continue
            where_sheet, where_cell = sheet, cell_ref(*spots[0])
        what = f"“{f.label}”" if f is not None else f"单元格 {ref}"
        if f is None and where_cell != ref:
            what += f"（现 {where_cell}）"
        ctx.findings.append(finding(
            "XF201", f"{what}被修改：下发值“{show(issued)}”，报送值“{show(returned)}”",
            sheet=where_sheet, cell=where_cell, field=f.defined_name if f else None,
            label=str(f.label) if f else None))


@functools.lru_cache(maxsize=65536)
def _split_ref(ref: str) -> tuple[int, int]:
    letters = "".join(ch for ch in ref if ch.isalpha())
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return col - 1, int(ref[len(letters):]) - 1


def check_formulas(ctx: Context) -> None:
    if not any(sd.formulas_without_value for sd in ctx.data.sheets.values()):
        return
    for name, (sheet, cell) in ctx.where.items():
        f = ctx.layout.fields[name]
        if f.input is None:
            continue
        sd = ctx.data.sheets.get(sheet)
        col, row = _split_ref(cell)
        if sd is not None and (row, col) in sd.formulas_without_value:
            ctx.add("XF203", f"“{f.label}”是公式，但没有保存计算结果，无法读取其值", name)


# ---------------------------------------------------------------- completeness

def check_required(ctx: Context) -> None:
    for fs in ctx.layout.spec.fields.values():
        if fs.required and fs.input and ctx.values.get(fs.name) in (None, ""):
            ctx.add("XF301", f"必填项“{fs.label}”未填写", fs.name)


_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def _as_day(v: Any) -> dt.date | None:
    """A cell value as a date the way Excel's date validation sees it (a date, or a date serial)."""
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 2958466:
        return (_EXCEL_EPOCH + dt.timedelta(days=float(v))).date()
    if isinstance(v, str):
        # an ISO date stored as text (a paste, another program) is unambiguous: accept it
        import re
        m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?\s*", v)
        if m:
            try:
                return dt.date(*map(int, m.groups()))
            except ValueError:
                return None
    return None


def _num(x: float) -> str:
    return f"{x:,.4f}".rstrip("0").rstrip(".")


def _pct(x: float) -> str:
    return f"{x * 100:.4f}".rstrip("0").rstrip(".") + "%"


def _number_in(v: Any, *, percent: bool) -> float | None:
    """A number as the cell holds it; a number stored as text ("91.56", "95%") reads the same."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    text = str(v).strip().replace(",", "").replace("，", "")
    scale = 1.0
    if percent and text.endswith(("%", "％")):
        text, scale = text[:-1], 0.01
    try:
        return float(text) * scale
    except ValueError:
        return None


def check_inputs(ctx: Context) -> None:
    """Re-check every input against its cell's data validation: a paste (or another program) skips it."""
    spec = ctx.layout.spec
    for name, f in ctx.layout.fields.items():
        if f.input is None:
            continue
        it = spec.input_types.get(f.input)
        v = ctx.values.get(name)
        if it is None or v is None or v == "":
            continue
        rule = it.validate
        kind = rule.get("type")
        show_n = _pct if f.input == "percent" else _num
        if kind in ("decimal", "integer"):
            number = _number_in(v, percent=f.input == "percent")
            if number is None or (kind == "integer" and not float(number).is_integer()):
                what = "百分比" if f.input == "percent" else ("整数" if kind == "integer" else "数字")
                ctx.add("XF305", f"“{f.label}”填写的“{show(v)}”不是{what}，该单元格只接受{what}"
                                 f"（可能是粘贴时绕过了数据验证）", name)
                continue
            lo, hi = rule.get("min"), rule.get("max")
            if (lo is not None and number < lo) or (hi is not None and number > hi):
                ctx.add("XF305", f"“{f.label}”填写的 {show_n(number)} 超出允许范围"
                                 f"（{show_n(lo) if lo is not None else '—'} 至 "
                                 f"{show_n(hi) if hi is not None else '—'}）", name)
        elif kind == "date":
            day = _as_day(v)
            if day is None:
                ctx.add("XF305", f"“{f.label}”填写的“{show(v)}”不是日期，该单元格只接受日期，"
                                 f"如 2021-12-31（可能是粘贴时绕过了数据验证）", name)
                continue
            lo, hi = _as_day(rule.get("min")), _as_day(rule.get("max"))
            if (lo and day < lo) or (hi and day > hi):
                ctx.add("XF305", f"“{f.label}”填写的日期 {day.isoformat()} 超出允许范围"
                                 f"（{lo.isoformat() if lo else '—'} 至 {hi.isoformat() if hi else '—'}）", name)
        elif kind == "length" and rule.get("max") is not None:
            text = show(v)
            if len(text) > int(rule["max"]):
                ctx.add("XF305", f"“{f.label}”填写了 {len(text)} 个字，超过上限 {int(rule['max'])} 字", name)


# ---------------------------------------------------------------- indicators

def check_indicators(ctx: Context) -> None:
    reason_label = ctx.layout.spec.indicators.reason_label
    for r in ctx.score.indicators:
        key = f"ind_{r.number:03d}"
        name = f"第{r.number}项指标“{r.name}”"
        if r.status == BLANK:
            ctx.add("XF302", f"{name}的实际完成值未填写（指标值：{show(r.target.text)}）", f"{key}_actual")
        elif r.status == UNPARSEABLE:
            ctx.add("XF303", f"{name}的实际完成值“{r.actual.text}”无法识别"
                             f"{'（' + r.actual.reason + '）' if r.actual.reason else ''}，暂按"
                             f"{ctx.layout.spec.scoring.not_comparable_ratio:.0%}计分，需人工复核", f"{key}_actual")
        elif r.status == NOT_COMPARABLE:
            why = r.target.reason or r.actual.reason or "口径或单位不同"
            ctx.add("XF304", f"{name}：指标值“{r.target.text}”与实际完成值“{r.actual.text}”不可比较（{why}），"
                             f"需人工复核", f"{key}_actual")
        elif r.status == PROSE:
            tier = TIERS[ctx.layout.spec.scoring.prose_tier]
            ctx.add("XF404", f"{name}是定性指标，实际完成值为文字说明而未选择档次，暂按“{tier}”计分，请确认",
                    f"{key}_actual")
        if r.status in (SHORT, OVER) and not r.reason:
            if r.status == OVER:
                ctx.add("XF402", f"{name}超出指标值（指标值“{r.target.text}”，实际“{r.actual.text}”），"
                                 f"但“{reason_label}”未填写", f"{key}_reason")
            else:
                missed = "偏离" if r.direction == "exact" else "未达到"
                ctx.add("XF401", f"{name}{missed}指标值（指标值“{r.target.text}”，实际“{r.actual.text}”），"
                                 f"但“{reason_label}”未填写", f"{key}_reason")
        if r.excess and not r.reason:
            ctx.add("XF405", f"{name}实际完成值“{r.actual.text}”远超指标值“{r.target.text}”"
                             f"（{r.completion:.0%}），宜说明原因", f"{key}_reason")


# ---------------------------------------------------------------- funds and execution

def _amount(v: Any) -> float | None:
    if isinstance(v, bool) or v is None or v == "":
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v).replace(",", "").replace("万元", "").strip())
    except ValueError:
        pass
    from .score import parse_value
    parsed = parse_value(str(v))       # "915600元" is 91.56 万元
    return parsed.number if parsed.kind == "number" and parsed.unit in (None, "万元") else None


def check_funds(ctx: Context) -> None:
    """Sources must add up to their total (the issued 合计, or the reported 全年执行数)."""
    spec = ctx.layout.spec
    sources = spec.fields_with_role("fund_source")
    totals = spec.fields_with_role("fund_total") or spec.fields_with_role("fund_executed")
    if not sources or not totals:
        return
    total_field = totals[0]
    total = _amount(ctx.values.get(total_field.name))
    if total is None:
        return
    amounts = [_amount(ctx.values.get(f.name)) for f in sources]
    filled = [a for a in amounts if a is not None]
    first = sources[0].name
    if not filled and total > 0:
        ctx.add("XF501", f"资金来源均未填写，而{total_field.label}为 {total:g} 万元", first)
    elif filled and abs(sum(filled) - total) > 0.005:
        ctx.add("XF501", f"资金来源合计 {sum(filled):g} 万元，与{total_field.label} {total:g} 万元不符"
                         f"（相差 {sum(filled) - total:+.2f} 万元）", first)


def check_execution(ctx: Context) -> None:
    spec = ctx.layout.spec
    s = spec.scoring
    rate, budget, executed = execution(ctx.layout, ctx.values)
    field_name = s.execution_rate_field or s.execution_executed_field
    if rate is None:
        return
    if rate > 1 + 1e-9:
        if budget is not None:
            ctx.add("XF403", f"全年执行数 {executed:g} 万元超过全年预算数 {budget:g} 万元（执行率 {rate:.2%}）",
                    field_name)
        else:
            ctx.add("XF403", f"预算执行率 {rate:.2%} 超过 100%", field_name)
    if rate < s.explain_execution_below:
        explained = any(r.reason for r in ctx.score.indicators if r.direction == "reverse")
        if not explained:
            ctx.add("XF502", f"预算执行率 {rate:.2%}，低于 {s.explain_execution_below:.0%}，"
                             f"成本指标的原因栏中未见说明", field_name)


def check_self_score(ctx: Context) -> None:
    from .score import self_score
    own = self_score(ctx.values, ctx.layout)
    fields = ctx.layout.spec.fields_with_role("self_score")
    if own is None or not fields:
        return
    computed = ctx.score.total
    if abs(own - computed) > ctx.layout.spec.scoring.self_score_tolerance:
        ctx.add("XF601", f"部门自评得分 {own:.2f} 分，按评分规则复核为 {computed:.2f} 分"
                         f"（复核 − 自评 = {computed - own:+.2f} 分）", fields[0].name)


CONTENT_CHECKS: list[Callable[[Context], None]] = [
    check_protection, check_tamper, check_formulas, check_required, check_inputs, check_indicators,
    check_funds, check_execution, check_self_score,
]


def catalogue_rows() -> list[tuple[str, str, str, str]]:
    from .findings import SEVERITY_ZH
    return [(r.code, SEVERITY_ZH[r.severity], r.title, r.hint) for r in CATALOGUE.values()]
