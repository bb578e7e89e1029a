"""Scoring rules (forms.md §3), each pinned with numbers worked out by hand, and the seed form (§1).

Every number here comes from a setting of the form spec (templates/*.yaml, `scoring:` and the
indicator groups' points); the tests that change a setting show that the number follows it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from xlform.annotate import score_values
from xlform.layout import build_layout
from xlform.projects import Indicator, Project
from xlform.score import BLANK, MET, NA, NOT_COMPARABLE, OVER, PROSE, SHORT, compute, evaluate
from xlform.spec import get_form
from tests.support.samples import NATIONAL_CODE, SEED_CODE, issued, layout_for, seed_values

YULIN = "yulin-2021"
NATIONAL = "national-2020"
D = dt.datetime


# ---------------------------------------------------------------- helpers

def spec_with(form: str = YULIN, **scoring):
    """The bundled spec with some `scoring` settings changed."""
    spec = get_form(form)
    if scoring:
        spec = dataclasses.replace(spec, scoring=dataclasses.replace(spec.scoring, **scoring))
    return spec


def project(indicators: list[Indicator], form: str = YULIN, **fields) -> Project:
    base = {"project_name": "测试项目", "project_code": "450900219999999999001", "unit": "测试单位",
            "department": "测试部门", "fund_total": 100.0, "budget_total": 100.0}
    return Project(base["project_code"], form, {**base, **fields}, indicators)


def layout(indicators: list[Indicator], form: str = YULIN, year: int = 2021, **scoring):
    return build_layout(spec_with(form, **scoring), project(indicators, form), year)


def one(target, actual, *, level1="产出指标", level2="产出数量", reason="", direction=None,
        qualitative=None, **scoring):
    """Evaluate a single indicator (the only row of its group)."""
    lay = layout([Indicator(level1, level2, "测试指标", target, direction=direction, qualitative=qualitative)],
                 **scoring)
    row = next(r for r in lay.indicator_rows if not r.not_applicable)
    return evaluate(row, actual, reason, lay)


def actuals(lay, by_number: dict[int, object]) -> dict[str, object]:
    return {f"ind_{n:03d}_actual": v for n, v in by_number.items()}


def full_yulin(overrides: dict | None = None, extra: list[Indicator] = ()) -> list[Indicator]:
    """One row in every Yulin 二级指标, all applicable."""
    rows = {
        ("产出指标", "产出数量"): "≥100人", ("产出指标", "产出质量"): "≥95%", ("产出指标", "产出时效"): "2021年12月",
        ("产出指标", "产出成本"): "≤30万元", ("效果指标", "经济效益"): "≥10万元", ("效果指标", "社会效益"): "≥1000人",
        ("效果指标", "生态效益"): "≥5%", ("效果指标", "可持续影响"): "达成预期指标",
        ("社会公众或服务对象满意度", "具体指标"): "≥90%",
    }
    rows.update(overrides or {})
    return [Indicator(l1, l2, f"{l2}指标", t) for (l1, l2), t in rows.items()] + list(extra)


def full_national() -> list[Indicator]:
    """One row with its own 分值 in every national 二级指标 except two 效益 ones (so: 无)."""
    return [
        Indicator("产出指标", "数量指标", "新建面积", "≥100亩", points=20),
        Indicator("产出指标", "质量指标", "验收合格率", "100%", points=10),
        Indicator("产出指标", "时效指标", "完工时间", "2025年11月底前", points=10),
        Indicator("产出指标", "成本指标", "亩均投入", "≤100万元", points=10),
        Indicator("效益指标", "经济效益指标", "无", "无", points=10),      # a 无 row that carries 分值
        Indicator("效益指标", "社会效益指标", "受益农户", "≥8000户", points=10),
        Indicator("效益指标", "可持续影响指标", "长效机制", "达成预期指标", points=10),
        Indicator("满意度指标", "服务对象满意度指标", "满意度", "≥90%", points=10),
    ]


# ---------------------------------------------------------------- 预算执行率

class TestExecution:
    def score(self, rate):
        lay = layout(full_yulin())
        return compute(lay, {"execution_rate": rate})

    def test_proportional_below_full(self):
        r = self.score(0.85)
        assert r.execution_rate == pytest.approx(0.85)
        assert r.execution_score == pytest.approx(10 * 0.85)

    def test_capped_at_100_percent(self):
        r = self.score(1.2)
        assert r.execution_rate == pytest.approx(1.2)          # the rate is reported as it is
        assert r.execution_score == pytest.approx(10.0)        # the score is capped

    def test_percent_text(self):
        assert self.score("95%").execution_score == pytest.approx(9.5)

    @pytest.mark.parametrize("text, rate", [("0.95", 0.95), ("1.05", 1.05), ("2", 2.0), ("98", 0.98), ("8", 0.08),
                                            ("100", 1.0), ("8.5", 0.085)])
    def test_bare_number_text_is_a_fraction_up_to_200_percent_else_percent_points(self, text, rate):
        # "8" typed as text means 8 %, not 800 %; "1.05" means 105 %
        assert self.score(text).execution_rate == pytest.approx(rate)

    def test_blank_rate_scores_nothing(self):
        r = self.score(None)
        assert r.execution_rate is None and r.execution_score == 0.0

    def test_points_are_a_setting(self):
        lay = layout(full_yulin(), execution_points=20.0, total=110.0)
        assert compute(lay, {"execution_rate": 0.5}).execution_score == pytest.approx(10.0)

    def test_national_executed_over_budget(self):
        lay = layout(full_national(), NATIONAL, 2025)
        half = compute(lay, {"budget_total": 2350.0, "executed_total": 1175.0})
        over = compute(lay, {"budget_total": 2350.0, "executed_total": 2380.0})
        assert half.execution_rate == pytest.approx(0.5) and half.execution_score == pytest.approx(5.0)
        assert over.execution_rate == pytest.approx(2380 / 2350) and over.execution_score == pytest.approx(10.0)


# ---------------------------------------------------------------- one indicator's share

class TestPositive:
    def test_short_is_proportional(self):
        r = one("≥100人", "80人")
        assert (r.direction, r.status) == ("positive", SHORT)
        assert r.ratio == pytest.approx(0.8) and r.completion == pytest.approx(0.8)

    def test_over_target_is_capped_at_full(self):
        r = one("≥100人", "110人")
        assert (r.status, r.ratio, r.excess) == (MET, 1.0, False)

    def test_far_over_target_is_flagged_as_excess(self):
        r = one("≥100人", "130人")
        assert (r.status, r.ratio, r.excess) == (MET, 1.0, True)
        assert r.completion == pytest.approx(1.3)

    def test_zero_done_scores_zero(self):
        r = one("20家企业", "0")                 # the seed's 实地稽核 row
        assert (r.status, r.ratio) == (SHORT, 0.0)


class TestReverse:
    def test_overrun_scores_target_over_actual(self):
        r = one("≤30万元", "39万元", level2="产出成本")
        assert (r.direction, r.status) == ("reverse", OVER)
        assert r.ratio == pytest.approx(30 / 39)

    def test_under_the_ceiling_is_full(self):
        assert one("≤30万元", "20万元").ratio == 1.0

    def test_actual_zero_is_full(self):
        r = one("≤30万元", "0", level2="产出成本")
        assert (r.status, r.ratio) == (MET, 1.0)

    def test_cost_group_defaults_to_reverse_without_a_sign(self):
        r = one("30万元", "39万元", level2="产出成本")   # 产出成本 has `direction: reverse` in the spec
        assert r.direction == "reverse" and r.ratio == pytest.approx(30 / 39)

    def test_same_target_in_a_positive_group_is_positive(self):
        r = one("30万元", "39万元", level2="产出数量")
        assert r.direction == "positive" and r.ratio == 1.0

    def test_declared_direction_wins(self):
        r = one("30万元", "39万元", level2="产出数量", direction="reverse")
        assert r.direction == "reverse" and r.ratio == pytest.approx(30 / 39)


class TestExact:
    @pytest.mark.parametrize("actual, ratio", [("100人", 1.0), ("90人", 0.9), ("110人", 0.9), ("250人", 0.0)])
    def test_one_minus_relative_deviation(self, actual, ratio):
        r = one("＝100人", actual)
        assert r.direction == "exact"
        assert r.ratio == pytest.approx(ratio)
        assert r.status == (MET if ratio == 1.0 else SHORT)


class TestDate:
    def test_on_time(self):
        r = one("2021年12月", D(2021, 11, 20), level2="产出时效")
        assert (r.status, r.ratio) == (MET, 1.0)

    def test_on_the_deadline_day(self):
        assert one("2021年12月底前", "2021年12月31日", level2="产出时效").ratio == 1.0

    def test_late_scores_late_date_ratio(self):
        r = one("2021年12月", "2022年1月15日", level2="产出时效")
        assert (r.status, r.ratio) == (SHORT, 0.0)          # late_date_ratio: 0.0 in _common.yaml

    def test_late_date_ratio_is_a_setting(self):
        assert one("2021年12月", "2022年1月15日", level2="产出时效", late_date_ratio=0.5).ratio == 0.5


class TestQualitative:
    @pytest.mark.parametrize("tier, ratio", [("达成预期指标", 1.0), ("部分达成预期指标并具有一定效果", 0.7),
                                             ("未完成预期指标且效果较差", 0.3)])
    def test_tier_ratios(self, tier, ratio):
        r = one("达成预期指标", tier, level1="效果指标", level2="可持续影响")
        assert r.ratio == pytest.approx(ratio)
        assert r.status == (MET if ratio == 1.0 else SHORT)

    def test_tier_ratios_are_a_setting(self):
        r = one("达成预期指标", "部分达成预期指标并具有一定效果", level1="效果指标", level2="可持续影响",
                tier_ratios=(1.0, 0.5, 0.0))
        assert r.ratio == 0.5

    def test_prose_scores_prose_tier(self):
        r = one("确保数据安全", "完成各项业务", level1="效果指标", level2="社会效益")
        assert (r.status, r.ratio) == (PROSE, 1.0)           # prose_tier: 0 -> tier_ratios[0]

    def test_prose_tier_is_a_setting(self):
        r = one("确保数据安全", "完成各项业务", level1="效果指标", level2="社会效益", prose_tier=1)
        assert (r.status, r.ratio) == (PROSE, 0.7)

    def test_a_tier_answer_to_a_prose_target(self):
        r = one("确保数据安全", "部分达成预期指标并具有一定效果", level1="效果指标", level2="社会效益")
        assert (r.status, r.ratio) == (SHORT, 0.7)


class TestNotComparable:
    def test_different_units(self):
        r = one("≥95%", "20套")
        assert (r.status, r.ratio) == (NOT_COMPARABLE, 1.0)   # not_comparable_ratio: 1.0

    def test_not_comparable_ratio_is_a_setting(self):
        r = one("≥95%", "20套", not_comparable_ratio=0.5)
        assert (r.status, r.ratio) == (NOT_COMPARABLE, 0.5)

    def test_the_seeds_row_6(self):
        r = one("涉及参保职工23419人，涉及参保单位359个", "支付25%款项", not_comparable_ratio=0.25)
        assert (r.status, r.ratio) == (NOT_COMPARABLE, 0.25)


def test_blank_actual_scores_zero():
    r = one("≥100人", None)
    assert (r.status, r.ratio) == (BLANK, 0.0)


# ---------------------------------------------------------------- points: 无 passes its share on

class TestNotApplicable:
    def test_na_row_passes_its_points_to_its_siblings(self):
        lay = layout(full_yulin(extra=[Indicator("产出指标", "产出数量", "无", "无")]))
        r = compute(lay, actuals(lay, {1: "80人"}))
        rows = [x for x in r.indicators if (x.row.level1, x.row.level2) == (0, 0)]
        assert [x.status for x in rows] == [SHORT, NA]
        assert [x.points for x in rows] == [pytest.approx(20.0), 0.0]
        assert r.groups[(0, 0)] == pytest.approx(20 * 0.8)

    def test_na_groups_pass_their_points_within_the_parent(self):
        # 效果指标 30 = 4 × 7.5; with 经济 and 生态 无, 社会 and 可持续 get 15 each (the seed)
        lay = layout(full_yulin({("效果指标", "经济效益"): "无", ("效果指标", "生态效益"): "无"}))
        r = compute(lay, {})
        assert r.group_points[(1, 0)] == 0.0 and r.group_points[(1, 2)] == 0.0
        assert r.group_points[(1, 1)] == pytest.approx(15.0)
        assert r.group_points[(1, 3)] == pytest.approx(15.0)
        assert r.group_points[(1,)] == pytest.approx(30.0)
        # other 一级指标 are untouched
        assert r.group_points[(0,)] == pytest.approx(50.0) and r.group_points[(0, 0)] == pytest.approx(20.0)

    def test_blank_is_not_na_and_keeps_its_points(self):
        lay = layout(full_yulin())
        r = compute(lay, {})
        assert r.group_points[(2, 0)] == pytest.approx(10.0) and r.groups[(2, 0)] == 0.0

    def test_a_whole_na_level1_group_passes_its_points_to_the_other_indicator_groups(self):
        lay = layout(full_yulin({("效果指标", g): "无" for g in ("经济效益", "社会效益", "生态效益", "可持续影响")}))
        r = compute(lay, {"execution_rate": 1.0, **actuals(lay, {1: "100人", 2: "95%", 3: "2021年12月",
                                                                  4: "30万元", 9: "90%"})})
        assert r.group_points[(1,)] == 0.0
        # 预算执行率 keeps its 10; the other 90 go over 产出 50 + 满意度 10
        assert r.execution_score == pytest.approx(10.0)
        assert r.group_points[(0,)] == pytest.approx(90 * 50 / 60)
        assert r.group_points[(2,)] == pytest.approx(90 * 10 / 60)
        assert r.total == pytest.approx(100.0)
        assert r.grade == "优"


# ---------------------------------------------------------------- national: each row its own 分值

class TestNational:
    @pytest.fixture
    def result(self):
        lay = layout(full_national(), NATIONAL, 2025)
        num = {r.indicator.name: r.number for r in lay.indicator_rows if r.indicator and not r.not_applicable}
        values = {"budget_total": 100.0, "executed_total": 95.0,
                  **actuals(lay, {num["新建面积"]: "90亩", num["验收合格率"]: "100%",
                                  num["完工时间"]: "2025年11月20日", num["亩均投入"]: "125万元",
                                  num["受益农户"]: "8000户", num["长效机制"]: "部分达成预期指标并具有一定效果",
                                  num["满意度"]: "85%"})}
        return lay, compute(lay, values), num

    def test_each_row_scores_its_own_points(self, result):
        lay, r, num = result
        by = {x.number: x for x in r.indicators}
        assert by[num["新建面积"]].score == pytest.approx(20 * 0.9)
        assert by[num["验收合格率"]].score == pytest.approx(10.0)
        assert by[num["完工时间"]].score == pytest.approx(10.0)
        assert by[num["亩均投入"]].score == pytest.approx(10 * 100 / 125)
        assert by[num["满意度"]].score == pytest.approx(10 * 85 / 90)

    def test_na_row_points_go_to_the_applicable_rows_of_the_same_parent(self, result):
        lay, r, num = result
        by = {x.number: x for x in r.indicators}
        # 效益指标 30: the 无 row's 10 goes to 社会 and 可持续 in proportion (10:10) -> 15 each
        assert by[num["受益农户"]].points == pytest.approx(15.0)
        assert by[num["长效机制"]].points == pytest.approx(15.0)
        assert by[num["受益农户"]].score == pytest.approx(15.0)
        assert by[num["长效机制"]].score == pytest.approx(15 * 0.7)
        assert r.groups[(1,)] == pytest.approx(15 + 10.5)

    def test_total(self, result):
        lay, r, num = result
        expected = 9.5 + 18 + 10 + 10 + 8 + 15 + 10.5 + 10 * 85 / 90
        assert r.execution_score == pytest.approx(9.5)
        assert r.total == pytest.approx(expected)
        assert r.grade == "优"        # 90.94…

    def test_indicator_score_cells(self, result):
        lay, r, num = result
        cells = score_values(lay, r)
        by = {x.number: x for x in r.indicators}
        for x in r.indicators:
            name = f"ind_{x.number:03d}_score"
            if x.status == NA:
                assert name not in cells           # a 无 row's 得分 stays empty
            else:
                assert cells[name] == pytest.approx(by[x.number].score)
        assert cells["total_score"] == pytest.approx(r.total)
        assert cells["execution_score"] == pytest.approx(9.5)
        assert cells["execution_rate"] == pytest.approx(0.95)
        assert cells["grade"] == "优"


# ---------------------------------------------------------------- grades and precision

@pytest.mark.parametrize("score, grade", [
    (100, "优"), (90, "优"), (89.99, "良"), (80, "良"), (79.99, "中"), (60, "中"), (59.99, "差"), (0, "差"),
    (89.996, "良"),   # shown as 90.00, but the grade comes from the unrounded score (forms.md §3)
])
def test_grade_boundaries(score, grade):
    assert get_form(YULIN).scoring.grade(score) == grade


def test_grade_boundaries_are_a_setting():
    spec = spec_with(grades=((85.0, "优"), (70.0, "良"), (0.0, "差")))
    assert [spec.scoring.grade(s) for s in (85, 84.99, 70, 69.99)] == ["优", "良", "良", "差"]


def test_full_precision_inside():
    # three 产出数量 rows of 20/3 points at 1/3 each: 20/3 × (1/3 + 1/3 + 1/3); nothing is rounded between steps
    lay = layout(full_yulin({("产出指标", "产出数量"): "≥3人"},
                            extra=[Indicator("产出指标", "产出数量", f"指标{i}", "≥3人") for i in range(2)]))
    rows = [r.number for r in lay.indicator_rows if (r.level1, r.level2) == (0, 0)]
    r = compute(lay, actuals(lay, {n: "1人" for n in rows}))
    assert len(rows) == 3
    assert r.groups[(0, 0)] == pytest.approx(20 / 3, abs=1e-12)
    assert r.groups[(0, 0)] != round(r.groups[(0, 0)], 2)
    assert r.total == pytest.approx(sum(v for k, v in r.groups.items() if len(k) == 1) + r.execution_score,
                                    abs=1e-12)


# ---------------------------------------------------------------- the seed form (forms.md §1)

class TestSeed:
    @pytest.fixture(scope="class")
    @classmethod
    def seed(cls):
        lay = layout_for(SEED_CODE)
        return lay, compute(lay, seed_values())

    @pytest.mark.parametrize("group, expected", [
        ((0, 0), 20 / 6 * (4 + 20 / 35)),      # 产出数量 15.238…: 4 rows met, 20套 of 35, 实地稽核 0; row 6 not comparable → full
        ((0, 1), 10 * 5 / 6),                  # 产出质量 8.333…: one of six rows at 0
        ((0, 2), 10.0),                        # 产出时效
        ((0, 3), 10 * (5 + 30 / 39) / 6),      # 产出成本 9.615…: 办公场所 30万元 → 39万元 overrun, reverse rule
        ((0,), 20 / 6 * (4 + 20 / 35) + 10 * 5 / 6 + 10 + 10 * (5 + 30 / 39) / 6),
        ((1, 0), 0.0),                         # 经济效益 无
        ((1, 1), 15.0),                        # 社会效益: 30 / 2 applicable groups, prose → tier 0
        ((1, 2), 0.0),                         # 生态效益 无
        ((1, 3), 15.0),                        # 可持续影响
        ((1,), 30.0),
        ((2, 0), 0.0),                         # 满意度: actual left blank
        ((2,), 0.0),
    ])
    def test_groups(self, seed, group, expected):
        lay, r = seed
        assert r.groups[group] == pytest.approx(expected, abs=1e-9)

    def test_execution(self, seed):
        lay, r = seed
        assert r.execution_rate == 1.0 and r.execution_score == 10.0

    def test_na_groups_have_no_points_and_applicable_ones_15(self, seed):
        lay, r = seed
        assert [r.group_points[(1, j)] for j in range(4)] == [0.0, pytest.approx(15.0), 0.0, pytest.approx(15.0)]
        assert r.group_points[(2, 0)] == pytest.approx(10.0)       # blank keeps its points

    def test_total_and_grade(self, seed):
        lay, r = seed
        exact = 10 + 20 / 6 * (4 + 20 / 35) + 10 * 5 / 6 + 10 + 10 * (5 + 30 / 39) / 6 + 15 + 15
        assert r.total == pytest.approx(exact, abs=1e-9)
        assert f"{r.total:.2f}" == "83.19"
        assert r.grade == "良"

    def test_statuses(self, seed):
        lay, r = seed
        by = {x.number: x for x in r.indicators}
        assert by[3].ratio == pytest.approx(20 / 35) and by[3].status == SHORT      # 35套 → 20套
        assert by[4].ratio == 0.0 and by[4].status == SHORT                          # 20家 → 0
        assert by[6].status == NOT_COMPARABLE
        assert by[20].status == OVER and by[20].ratio == pytest.approx(30 / 39)      # 30万元 → 39万元
        assert by[19].status == MET                                                  # cost 0 → full
        assert {by[22].status, by[24].status} == {NA}
        assert {by[23].status, by[25].status} == {PROSE}
        assert by[26].status == BLANK

    def test_score_cells(self, seed):
        lay, r = seed
        cells = score_values(lay, r)
        assert cells["grp_1_1_score"] == pytest.approx(20 / 6 * (4 + 20 / 35))
        assert cells["grp_2_2_score"] == pytest.approx(15.0)
        assert cells["grp_3_1_score"] == 0.0
        assert cells["execution_score"] == 10.0
        assert cells["total_score"] == pytest.approx(r.total)
        assert cells["grade"] == "良"
        assert "execution_rate" not in cells          # an input in the Yulin form: never overwritten


def test_a_percent_actual_stored_as_a_number_reads_as_excel_stores_it():
    # 实际完成值 cells are text; a pasted real number 0.96 against ≥95% is Excel's 96%, not 0.96%
    lay = layout(full_yulin())
    row = next(r for r in lay.indicator_rows if r.indicator and r.indicator.target == "≥95%")
    res = evaluate(row, 0.96, "", lay)
    assert res.status == "met" and res.ratio == 1.0
    assert evaluate(row, 96, "", lay).ratio == 1.0          # a bare 96 is 96 of the target's %
    assert evaluate(row, 0.9, "", lay).ratio == pytest.approx(90 / 95)


@pytest.mark.parametrize("code", [SEED_CODE, NATIONAL_CODE, None])
def test_a_layout_built_without_cells_has_every_field_and_row(code):
    """What a check builds (cells=False, no annotated copy): the fields and indicator rows of the
    full layout, and no cells at all rather than some."""
    e = issued().entries[code] if code else None
    spec = get_form(e.form_id if e else NATIONAL)
    p = Project.from_dict(e.project) if e else None
    full, lean = build_layout(spec, p, 2021), build_layout(spec, p, 2021, cells=False)
    assert lean.cells is None and len(full.cells) > len(full.fields)
    assert (lean.fields, lean.indicator_rows, lean.heights, lean.header_rows, lean.n_rows) == \
           (full.fields, full.indicator_rows, full.heights, full.header_rows, full.n_rows)

