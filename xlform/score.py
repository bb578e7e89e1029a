"""Scoring by the official rules (forms.md §3), every number a setting of the form spec.

- 预算执行率: points × min(执行数 / 预算数, 100%).
- Each indicator earns a share (0..1) of its points: positive min(actual/target, 1); reverse
  min(target/actual, 1), actual 0 earning full; exact 1 − |actual − target| / target; a date on or
  before its deadline full, later `late_date_ratio`; a qualitative tier its `tier_ratios` share.
- Points: Yulin-style forms share a 二级指标's points equally among its rows; national-style forms
  give each row its own 分值. Not-applicable (无) rows and groups pass their points to the applicable
  siblings under the same parent, in proportion (the seed: 效果指标 30 → 15 + 15).
- Full precision throughout; rounding is for display only.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from .layout import IndicatorRow, Layout
from .values import Value, comparable
from .values import parse_value as _parse_value

# The same targets and typical actuals recur across thousands of files: parse each text once.
parse_value = functools.lru_cache(maxsize=65536, typed=True)(_parse_value)

# statuses of one indicator
MET, SHORT, OVER, NA, BLANK, NOT_COMPARABLE, UNPARSEABLE, PROSE = (
    "met", "short", "over", "na", "blank", "not_comparable", "unparseable", "prose")


@dataclass
class IndicatorResult:
    number: int
    row: IndicatorRow
    name: str
    target: Value
    actual: Value
    direction: str
    status: str
    ratio: float            # share of the points earned
    completion: float | None = None   # actual / target where that means something
    points: float = 0.0     # effective points after redistribution
    score: float = 0.0
    reason: str = ""
    excess: bool = False    # far above target (positive indicators)


@dataclass
class ScoreResult:
    total: float
    grade: str
    execution_rate: float | None
    execution_score: float
    groups: dict[tuple[int, ...], float] = field(default_factory=dict)       # (i,) and (i, j) -> score
    group_points: dict[tuple[int, ...], float] = field(default_factory=dict)
    indicators: list[IndicatorResult] = field(default_factory=list)


def _text(v: Any) -> str:
    return "" if v is None else str(v).strip()


def direction_of(target: Value, declared: str | None, group_default: str) -> str:
    if declared:
        return declared
    if target.comparator in (">=", ">"):
        return "positive"
    if target.comparator in ("<=", "<"):
        return "reverse"
    if target.comparator == "=":
        return "exact"
    return group_default


def evaluate(row: IndicatorRow, actual_raw: Any, reason_raw: Any, layout: Layout) -> IndicatorResult:
    """Status and earned share of one indicator row (before points are applied)."""
    spec = layout.spec
    s = spec.scoring
    g2 = spec.indicators.groups[row.level1].children[row.level2]
    ind = row.indicator
    name = ind.name if ind else ""
    target = parse_value(ind.target if ind else None, year=layout.year)
    # Our actual cells are text; a real number there was pasted or written by another program. Against
    # a % target, a number within ±1.5 is how Excel stores a percent (0.96 is 96%): read it so.
    pct = (target.unit == "%" and isinstance(actual_raw, (int, float)) and not isinstance(actual_raw, bool)
           and abs(actual_raw) <= 1.5)
    actual = parse_value(actual_raw, year=layout.year, percent_format=pct)
    reason = _text(reason_raw)
    direction = direction_of(target, ind.direction if ind else None, g2.direction)
    res = IndicatorResult(row.number, row, name, target, actual, direction, MET, 1.0, reason=reason)
    if row.not_applicable or ind is None:
        res.status, res.ratio = NA, 0.0
        return res
    if actual.kind == "blank":
        res.status, res.ratio = BLANK, 0.0
        return res
    if row.qualitative or target.kind in ("qualitative", "tier"):
        if actual.kind == "tier":
            res.ratio = s.tier_ratios[actual.tier]
            res.status = MET if actual.tier == 0 else SHORT
        else:
            res.status, res.ratio = PROSE, s.tier_ratios[s.prose_tier]
        return res
    if target.kind == "unparseable" or actual.kind in ("unparseable", "qualitative"):
        res.status, res.ratio = (UNPARSEABLE if actual.kind == "unparseable" else NOT_COMPARABLE,
                                 s.not_comparable_ratio)
        if target.kind == "unparseable":
            res.status = NOT_COMPARABLE
        return res
    if actual.kind == "na" and target.kind == "number":
        actual = Value("number", None, 0.0, None, text=actual.text)   # "无" done is nothing done
        res.actual = actual
    if not comparable(target, actual):
        res.status, res.ratio = NOT_COMPARABLE, s.not_comparable_ratio
        return res
    if target.kind == "date":
        late = actual.date > target.date
        res.status, res.ratio = (SHORT, s.late_date_ratio) if late else (MET, 1.0)
        return res
    t, a = target.number, actual.number
    if direction == "reverse":
        res.completion = (a / t) if t else None
        if a <= t + 1e-9:
            res.status, res.ratio = MET, 1.0
        else:
            res.status, res.ratio = OVER, (t / a if a > 0 else 1.0)
    elif direction == "exact":
        res.completion = (a / t) if t else None
        if abs(a - t) <= 1e-9 * max(1.0, abs(t)):
            res.status, res.ratio = MET, 1.0
        else:
            res.status = SHORT
            res.ratio = max(0.0, 1 - abs(a - t) / abs(t)) if t else 0.0
    else:
        res.completion = (a / t) if t else None
        if t <= 0:
            res.status, res.ratio = (MET, 1.0) if a >= t else (SHORT, 0.0)
        elif a + 1e-9 >= t:
            res.status, res.ratio = MET, 1.0
            res.excess = a > s.excess_ratio * t
        else:
            res.status, res.ratio = SHORT, max(0.0, a / t)
    return res


RATE_TEXT_FRACTION_MAX = 2.0   # see execution(): a bare number in text above this is percent points


def execution(layout: Layout, values: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(rate, budget, executed); the rate as a fraction, None where it cannot be known."""
    s = layout.spec.scoring
    if s.execution_rate_field:
        raw = values.get(s.execution_rate_field)
        if raw is None or raw == "":
            return None, None, None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw), None, None
        v = parse_value(raw, year=layout.year)
        if v.kind == "number" and v.unit == "%":
            return v.number / 100, None, None
        if v.kind == "number" and v.unit is None:
            # text without a % sign: "0.95" or "1.05" is a fraction, "8" or "98" percent points —
            # an execution rate above 200 % is not credible, so the larger reading is the wrong one
            return (v.number / 100 if v.number > RATE_TEXT_FRACTION_MAX else v.number), None, None
        return None, None, None
    budget = _number(values.get(s.execution_budget_field))
    executed = _number(values.get(s.execution_executed_field))
    if budget is None or executed is None or budget <= 0:
        return None, budget, executed
    return executed / budget, budget, executed


def _number(raw: Any) -> float | None:
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    v = parse_value(raw)
    if v.kind == "number" and v.unit in (None, "万元"):
        return v.number
    return None


def compute(layout: Layout, values: dict[str, Any]) -> ScoreResult:
    """Score a returned form; `values` maps field names to the raw returned values."""
    spec = layout.spec
    ind_spec = spec.indicators
    s = spec.scoring
    results = [evaluate(r, values.get(f"ind_{r.number:03d}_actual"), values.get(f"ind_{r.number:03d}_reason"),
                        layout) for r in layout.indicator_rows]

    # base points of each leaf and group
    by_group: dict[tuple[int, int], list[IndicatorResult]] = {}
    for res in results:
        by_group.setdefault((res.row.level1, res.row.level2), []).append(res)
    leaf_base: dict[int, float] = {}
    l2_base: dict[tuple[int, int], float] = {}
    for (i, j), rows in by_group.items():
        g2 = ind_spec.groups[i].children[j]
        if ind_spec.weight == "equal":
            l2_base[(i, j)] = g2.points or 0.0
            for res in rows:
                leaf_base[res.number] = (g2.points or 0.0) / len(rows)
        else:
            for res in rows:
                pts = res.row.indicator.points if res.row.indicator and res.row.indicator.points else 0.0
                leaf_base[res.number] = float(pts)
            l2_base[(i, j)] = sum(leaf_base[r.number] for r in rows)

    def applicable_leaf(res: IndicatorResult) -> bool:
        return res.status != NA

    l2_applicable = {k: any(applicable_leaf(r) for r in rows) for k, rows in by_group.items()}
    l1_applicable = {i: any(l2_applicable.get((i, j), False) for j in range(len(g.children)))
                     for i, g in enumerate(ind_spec.groups)}

    # top level: execution + level-1 groups; an entirely 无 level-1 group passes its points on
    # 预算执行率 keeps its fixed points (forms.md §3); an entirely 无 level-1 group's points go to
    # the other indicator groups only
    top_base = {(i,): g.points or 0.0 for i, g in enumerate(ind_spec.groups)}
    top_app = {(i,): l1_applicable[i] for i in range(len(ind_spec.groups))}
    top_eff = {("exec",): s.execution_points,
               **_share(s.total - s.execution_points, top_base, top_app)}

    result = ScoreResult(0.0, "", None, 0.0)
    for i, g1 in enumerate(ind_spec.groups):
        keys = {(i, j): l2_base.get((i, j), 0.0) for j in range(len(g1.children))}
        l2_eff = _share(top_eff[(i,)], keys, {k: l2_applicable.get(k, False) for k in keys})
        g1_score = 0.0
        for (ii, j), eff in l2_eff.items():
            rows = by_group.get((ii, j), [])
            leaves = {(r.number,): leaf_base[r.number] for r in rows}
            leaf_eff = _share(eff, leaves, {(r.number,): applicable_leaf(r) for r in rows})
            g2_score = 0.0
            for r in rows:
                r.points = leaf_eff[(r.number,)]
                r.score = r.points * r.ratio
                g2_score += r.score
            result.groups[(ii, j)] = g2_score
            result.group_points[(ii, j)] = eff
            g1_score += g2_score
        result.groups[(i,)] = g1_score
        result.group_points[(i,)] = top_eff[(i,)]

    rate, _, _ = execution(layout, values)
    result.execution_rate = rate
    result.execution_score = top_eff[("exec",)] * min(max(rate, 0.0), 1.0) if rate is not None else 0.0
    result.indicators = results
    result.total = result.execution_score + sum(v for k, v in result.groups.items() if len(k) == 1)
    result.grade = s.grade(result.total)
    return result


def _share(total: float, base: dict, applicable: dict) -> dict:
    """Split `total` over `base` in proportion, giving nothing to the not applicable."""
    live = sum(b for k, b in base.items() if applicable.get(k))
    if live <= 0:
        # nothing applicable carries weight: split equally among the applicable, if any
        n = sum(1 for k in base if applicable.get(k))
        return {k: (total / n if applicable.get(k) and n else 0.0) for k in base}
    return {k: (total * b / live if applicable.get(k) else 0.0) for k, b in base.items()}


def self_score(values: dict[str, Any], layout: Layout) -> float | None:
    fields = layout.spec.fields_with_role("self_score")
    if not fields:
        return None
    raw = values.get(fields[0].name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    v = parse_value(str(raw).replace("分", ""))
    return v.number if v.kind == "number" else None
