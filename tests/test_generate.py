"""Generated workbooks, opened with openpyxl the way a finance bureau's Excel would see them.

Expectations are written by hand from forms.md (§1 the Yulin seed form, §2 the national form) and
from the seed text itself, not read back from the code that generates them.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import openpyxl
import pytest

import xlform.workbook
from xlform.errors import XlformError
from xlform.generate import generate
from xlform.manifest import fingerprint

SEED_CODE = "450900210340100004007"
NATIONAL_FULL_CODE = "450900220370100001001"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TIERS = ["达成预期指标", "部分达成预期指标并具有一定效果", "未完成预期指标且效果较差"]

# ---------------------------------------------------------------- the Yulin seed form, by hand

# Every label of 附件3 (forms.md §1 and seed-form-yulin-2021.txt), at the cell it starts in.
YULIN_LABELS = {
    "A1": "附件3", "A2": "2021年度预算项目绩效自评表",
    "A4": "项目名称", "F4": "项目编码", "A5": "项目实施单位", "F5": "主管部门",
    "A6": "资金总额", "C6": "资金来源", "F6": "金额（万元）", "C7": "合计",
    "C8": "其中：一般公共预算拨款", "D8": "其中：中央", "D9": "自治区", "C10": "政府性基金", "C11": "其他资金",
    "A12": "项目概况", "A13": "项目起始时间", "E13": "项目终止时间", "A14": "项目实施进度", "A15": "年度绩效目标",
    "A16": "自评得分（满分100分）", "D16": "预算执行率% (10分)",
    "A17": "项目绩效目标\n衡量指标", "B17": "一级指标", "C17": "二级指标", "D17": "指标内容", "E17": "指标值",
    "F17": "实际完成值", "G17": "未完成的原因", "H17": "指标得分",
    "B18": "产出指标(50分。其中：产出数量、质量、时效、成本分别20分、10分、10分、10分）",
    "C18": "产出数量", "C24": "产出质量", "C30": "产出时效", "C33": "产出成本",
    "B39": "效果指标\n(30分)", "C39": "经济效益", "C40": "社会效益", "C41": "生态效益", "C42": "可持续影响",
    "B43": "社会公众或服务对象满意度\n(10分)", "C43": "具体指标",
}

# The seed's 26 indicators: (二级指标, 指标内容, 指标值), verbatim from the seed text.
SEED_INDICATORS = [
    ("产出数量", "机房设备保修服务", "一项"),
    ("产出数量", "五险合一信息系统、鼎力财务软件、鼎力企业养老保险系统维护技术服务", "三项"),
    ("产出数量", "采购正版软件", "35套"),
    ("产出数量", "2021年实地稽核业务外包服务", "20家企业"),
    ("产出数量", "办公场所维修维护等", "一项"),
    ("产出数量", "原机关事业养老保险试点单位个人缴费本息清理外包尾款", "涉及参保职工23419人，涉及参保单位359个"),
    ("产出质量", "机房设备正常运转率", "≥95%"),
    ("产出质量", "五险合一信息系统、鼎力财务软件、鼎力企业养老保险系统正常运转率", "≥95%"),
    ("产出质量", "采购正版软件合格率", "100%"),
    ("产出质量", "2021年实地稽核业务外包验收合格率", "≥90%"),
    ("产出质量", "办公场所维修维护等需求验收合格率", "≥95%"),
    ("产出质量", "原机关事业养老保险试点单位个人缴费本息清理外包验收合格率", "≥95%"),
    ("产出时效", "完工及时率", "≥90%"),
    ("产出时效", "完成时间", "2021年12月"),
    ("产出时效", "资金支付率", "≥90%"),
    ("产出成本", "机房设备保修服务", "40万元"),
    ("产出成本", "五险合一信息系统、鼎力财务软件、鼎力企业养老保险系统维护技术服务", "10万元"),
    ("产出成本", "采购正版软件", "5万元"),
    ("产出成本", "2021年实地稽核业务外包", "10万元"),
    ("产出成本", "办公场所维修维护等", "30万元"),
    ("产出成本", "原机关事业养老保险试点单位个人缴费本息清理外包尾款", "20万元"),
    ("经济效益", "无", None),
    ("社会效益", "保障系统稳定运行和数据信息安全，有效保护原始数据，提高查准率和利用率",
     "确保数据安全性、准确性，为参保人提供更高效便捷的服务，维持社会稳定"),
    ("生态效益", "无", None),
    ("可持续影响", "更好地完成社会保险基金征缴、待遇计发、等社保经办管理服务工作", "稳持社会稳定"),
    ("具体指标", "参保人员对社保业务满意度", "≥90%"),
]
FIRST_INDICATOR_ROW = 18   # 16 rows above the table, one header row

# The input cells of the seed form: fund sources, dates, progress, self score, execution rate,
# the contact row, and 实际完成值 + 未完成的原因 of every indicator except the two 无 rows (39, 41).
SEED_INPUTS = ({"F8", "F9", "F10", "F11", "C13", "F13", "C14", "C16", "E16", "C45", "E45", "G45"}
               | {f"{col}{r}" for r in range(18, 44) if r not in (39, 41) for col in "FG"})

YULIN_MERGES = {
    # top of the form, as the spec's `at` ranges and `rows` say
    "A1:B1", "A2:H2", "A3:H3", "A4:B4", "C4:E4", "G4:H4", "A5:B5", "C5:E5", "G5:H5",
    "A6:B11", "C6:E6", "F6:H6", "C7:E7", "F7:H7", "C8:C9", "D8:E8", "F8:H8", "D9:E9", "F9:H9",
    "C10:E10", "F10:H10", "C11:E11", "F11:H11", "A12:B12", "C12:H12", "A13:B13", "C13:D13", "F13:H13",
    "A14:B14", "C14:H14", "A15:B15", "C15:H15", "A16:B16", "G16:H16",
    # the indicator table: side label; 一级指标 over its rows; 二级指标 and 指标得分 per group
    "A17:A43", "B18:B38", "B39:B42",
    "C18:C23", "C24:C29", "C30:C32", "C33:C38",
    "H18:H23", "H24:H29", "H30:H32", "H33:H38",
    # below it
    "A44:B44", "C44:D44", "F44:H44", "A45:B45", "G45:H45",
}

YULIN_FIELD_CELLS = {
    "project_name": "C4", "project_code": "G4", "unit": "C5", "department": "G5", "fund_total": "F7",
    "fund_central": "F8", "fund_region": "F9", "fund_gov": "F10", "fund_other": "F11", "overview": "C12",
    "start_date": "C13", "end_date": "F13", "progress": "C14", "goal": "C15", "self_score": "C16",
    "execution_rate": "E16", "execution_score": "G16", "total_score": "C44", "grade": "F44",
    "filled_by": "C45", "phone": "E45", "filled_on": "G45",
}


@pytest.fixture(scope="module")
def seed_ws(seed_wb):
    return seed_wb["自评表"]


def test_sheet_is_protected_and_metadata_sheet_very_hidden(seed_wb, seed_ws):
    assert seed_wb.sheetnames == ["自评表", "_xlform"]
    assert seed_ws.protection.sheet is True
    assert seed_ws.sheet_state == "visible"
    assert seed_wb["_xlform"].sheet_state == "veryHidden"
    assert seed_wb["_xlform"].protection.sheet is True


def test_unlocked_cells_are_exactly_the_named_input_cells(seed_wb, seed_ws, xlsx):
    unlocked = xlsx.unlocked_cells(seed_ws)
    assert unlocked == SEED_INPUTS
    assert len(unlocked) == 60
    catalogue = {r[3]: r[6] for r in seed_wb["_xlform"].iter_rows(min_row=2, values_only=True) if r[3]}
    cells = xlsx.names_to_cells(seed_wb)
    named_inputs = {cells[name].split("!")[1] for name, input_type in catalogue.items() if input_type}
    assert named_inputs == unlocked


def test_every_input_cell_has_a_validation_with_chinese_prompt_and_error(seed_ws, xlsx):
    for ref in sorted(SEED_INPUTS):
        dv = xlsx.validation_at(seed_ws, ref)
        assert dv is not None, ref
        assert xlsx.has_cjk(dv.prompt) and xlsx.has_cjk(dv.promptTitle), ref
        assert xlsx.has_cjk(dv.error) and xlsx.has_cjk(dv.errorTitle), ref
        assert dv.showInputMessage and dv.showErrorMessage, ref
    # and locked cells carry none: a validation on a label would only confuse
    assert xlsx.validation_at(seed_ws, "E18") is None and xlsx.validation_at(seed_ws, "G4") is None


def test_validation_kinds_match_the_inputs(seed_ws, xlsx):
    amount = xlsx.validation_at(seed_ws, "F8")
    assert (amount.type, amount.formula1, amount.formula2) == ("decimal", "0", "100000000")
    assert amount.operator in (None, "between")   # between is the default and may be left out
    assert amount.prompt == "请填写金额，单位万元，可保留两位小数，不得为负数。"
    date = xlsx.validation_at(seed_ws, "C13")
    assert date.type == "date" and date.formula1 == "36526"   # 2000-01-01 as an Excel serial
    reason = xlsx.validation_at(seed_ws, "G20")
    assert (reason.type, reason.operator, reason.formula1) == ("textLength", "lessThanOrEqual", "500")
    score = xlsx.validation_at(seed_ws, "C16")
    assert (score.type, score.formula1, score.formula2) == ("decimal", "0", "100")


def test_every_label_of_the_official_layout_is_present_verbatim(seed_ws):
    for ref, label in YULIN_LABELS.items():
        assert seed_ws[ref].value == label, ref


def test_merged_ranges_follow_the_spec(seed_ws):
    assert {str(r) for r in seed_ws.merged_cells.ranges} == YULIN_MERGES
    # 指标得分 is one merged cell per 二级指标: 产出数量 has the seed's 6 rows
    assert "H18:H23" in YULIN_MERGES and "B18:B38" in YULIN_MERGES


def test_seed_project_has_its_26_indicators_and_targets_exactly(seed_ws):
    got = []
    level2 = None
    for r in range(FIRST_INDICATOR_ROW, FIRST_INDICATOR_ROW + 26):
        level2 = seed_ws[f"C{r}"].value or level2   # merged: the value is in the first row
        got.append((level2, seed_ws[f"D{r}"].value, seed_ws[f"E{r}"].value))
    assert got == SEED_INDICATORS
    assert seed_ws["A44"].value == "复核得分"   # the table ends right after the 26th row


def test_identity_targets_and_labels_are_prefilled_and_locked(seed_ws):
    prefilled = {"C4": "社会保险业务改革专项业务经费", "G4": SEED_CODE, "C5": "玉林市社会保险事业管理中心",
                 "G5": "玉林市人力资源和社会保障局", "F7": 91.56,
                 "C15": "保障系统稳定运行和数据信息安全，为参保人提供更高效便捷的服务。确保数据准确性，维护参保人的合法权益"}
    for ref, value in prefilled.items():
        assert seed_ws[ref].value == value, ref
        assert seed_ws[ref].protection.locked, ref
    assert seed_ws["C12"].value.startswith("（一）社保信息化建设55万元。")
    assert seed_ws["G4"].data_type == "s"   # a 21-digit code stays text, not 4.509E+20
    for r in range(18, 44):
        assert seed_ws[f"D{r}"].protection.locked and seed_ws[f"E{r}"].protection.locked
    for ref in YULIN_LABELS:
        assert seed_ws[ref].protection.locked, ref
    # 复核 scores are the bureau's: locked and empty in the template
    for ref in ("G16", "H18", "C44", "F44"):
        assert seed_ws[ref].protection.locked and seed_ws[ref].value is None, ref


def test_fingerprint_recomputed_from_the_file_matches_manifest_metadata_and_property(
        sample_set, seed_wb, seed_ws, xlsx):
    entry = sample_set.entries[SEED_CODE]
    locked = xlsx.locked_values(seed_ws)
    recomputed = fingerprint("yulin-2021", "2021.1", SEED_CODE, 2021, locked)
    assert recomputed == entry["fingerprint"]
    assert recomputed == xlsx.meta_sheet(seed_wb)["fingerprint"]
    assert recomputed == xlsx.custom_props(seed_wb)["xlform.fingerprint"]
    assert recomputed.startswith("sha256:") and len(recomputed) == 7 + 64
    # the manifest keeps the content itself, so a changed target can be shown with what was issued
    assert entry["locked"]["E20"] == "35套" and entry["locked"]["F7"] == 91.56
    assert set(entry["locked"]) == set(locked)
    # a target changed after issue no longer matches
    tampered = dict(locked, E20="20套")
    assert fingerprint("yulin-2021", "2021.1", SEED_CODE, 2021, tampered) != entry["fingerprint"]


def _check_invariants(wb, xlsx, entry):
    """What must hold in every generated workbook, whatever the form or project."""
    ws = wb.worksheets[0]
    assert ws.protection.sheet and wb["_xlform"].sheet_state == "veryHidden"
    # unlocked cells = the cells of the fields the catalogue marks as inputs
    catalogue = {r[3]: r[6] for r in wb["_xlform"].iter_rows(min_row=2, values_only=True) if r[3]}
    cells = xlsx.names_to_cells(wb)
    assert set(catalogue) <= set(cells)                      # every catalogued field has its name
    inputs = {cells[n].split("!")[1] for n, input_type in catalogue.items() if input_type}
    unlocked = xlsx.unlocked_cells(ws)
    assert unlocked == inputs and unlocked
    for ref in unlocked:
        dv = xlsx.validation_at(ws, ref)
        assert dv is not None and xlsx.has_cjk(dv.prompt) and xlsx.has_cjk(dv.error), ref
    # the fingerprint, recomputed from the file, is the one issued
    locked = xlsx.locked_values(ws)
    fp = fingerprint(entry["form_id"], entry["form_version"], entry["project_code"], entry["year"], locked)
    assert fp == entry["fingerprint"] == xlsx.meta_sheet(wb)["fingerprint"]
    assert xlsx.custom_props(wb)["xlform.fingerprint"] == fp


def test_every_sample_workbook_keeps_the_invariants(sample_set, xlsx):
    assert len(sample_set.manifest["files"]) == 7
    for e in sample_set.manifest["files"]:
        wb = sample_set.workbook(e["project_code"])
        _check_invariants(wb, xlsx, e)
        assert xlsx.custom_props(wb)["xlform.project_code"] == e["project_code"]


def test_blank_workbooks_keep_the_invariants(blank_set, xlsx):
    for b in blank_set.values():
        _check_invariants(b.wb, xlsx, b.manifest["files"][0])
        assert "xlform.project_code" not in xlsx.custom_props(b.wb)


def test_metadata_sheet_and_custom_properties(seed_wb, xlsx):
    meta = xlsx.meta_sheet(seed_wb)
    assert {k: meta[k] for k in ("form_id", "form_version", "project_code", "year")} == {
        "form_id": "yulin-2021", "form_version": "2021.1", "project_code": SEED_CODE, "year": "2021"}
    props = xlsx.custom_props(seed_wb)
    assert {k: v for k, v in props.items() if k != "xlform.fingerprint"} == {
        "xlform.form_id": "yulin-2021", "xlform.form_version": "2021.1",
        "xlform.project_code": SEED_CODE, "xlform.year": "2021"}
    assert seed_wb.properties.title == "2021年度预算项目绩效自评表"
    # the field catalogue: name, role, label, input, indicator, group
    rows = [r[3:9] for r in seed_wb["_xlform"].iter_rows(values_only=True) if r[3]]
    assert rows[0] == ("name", "role", "label", "input", "indicator", "group")
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["xf_ind_003_actual"] == ("xf_ind_003_actual", "indicator_actual", "采购正版软件·实际完成值",
                                            "actual", "3", "1.1")
    assert by_name["xf_grp_1_4_score"][1:3] == ("group_score", "产出成本得分")


def test_defined_names_for_every_field_indicator_and_group(seed_wb, xlsx):
    cells = xlsx.names_to_cells(seed_wb)
    for name, ref in YULIN_FIELD_CELLS.items():
        assert cells[f"xf_{name}"] == f"自评表!{ref}", name
    assert cells["xf_ind_001_name"] == "自评表!D18" and cells["xf_ind_001_target"] == "自评表!E18"
    assert cells["xf_ind_003_actual"] == "自评表!F20" and cells["xf_ind_003_reason"] == "自评表!G20"
    assert cells["xf_ind_026_actual"] == "自评表!F43"
    assert cells["xf_grp_1_1_score"] == "自评表!H18" and cells["xf_grp_1_2_score"] == "自评表!H24"
    assert cells["xf_grp_1_4_score"] == "自评表!H33" and cells["xf_grp_3_1_score"] == "自评表!H43"
    assert cells["xf_grp_2_name"] == "自评表!B39" and cells["xf_grp_2_3_name"] == "自评表!C41"
    # 22 fields + 26 indicators × 4 parts + 9 二级 × (name, score) + 3 一级 names
    assert len([n for n in cells if n.startswith("xf_")]) == 22 + 26 * 4 + 9 * 2 + 3


def test_print_setup(seed_ws):
    ps = seed_ws.page_setup
    assert ps.paperSize == 9                      # A4
    assert ps.orientation == "portrait"
    assert seed_ws.sheet_properties.pageSetUpPr.fitToPage
    assert ps.fitToWidth in (None, 1) and ps.fitToHeight == 0   # 1 page wide, as many tall as needed
    assert seed_ws.print_title_rows == "$17:$17"  # the indicator header repeats on every page
    assert str(seed_ws.print_area) == "'自评表'!$A$1:$H$45"
    assert seed_ws.oddFooter.center.text == "第 &P 页，共 &N 页"


def test_cjk_font_on_every_cell(seed_ws, xlsx):
    covered = xlsx.merged_top_left(seed_ws)   # openpyxl shows those with a default style
    checked = 0
    for row in seed_ws.iter_rows(min_row=1, max_row=45, max_col=8):
        for c in row:
            if c.coordinate not in covered and (c.value is not None or not c.protection.locked):
                assert c.font.name == "宋体", c.coordinate
                checked += 1
    assert checked > 150
    assert seed_ws["A2"].font.sz == 16 and seed_ws["A2"].font.b


def test_column_widths(seed_ws, xlsx):
    widths = xlsx.column_widths(seed_ws)
    expected = {"A": 8, "B": 12, "C": 10, "D": 26, "E": 14, "F": 14, "G": 18, "H": 9}
    for col, w in expected.items():
        assert abs(widths[col] - w) < 1, (col, widths[col])   # Excel adds ~0.71 of padding


def test_long_text_rows_are_tall_enough_to_read(seed_ws):
    # 项目概况 is about 1,000 characters in C:H (91 units): Excel would show one line of it
    assert 200 < seed_ws.row_dimensions[12].height <= 409
    assert seed_ws.row_dimensions[17].height >= 30


def test_inputs_are_shaded_and_formatted(seed_ws):
    assert seed_ws["F8"].fill.fgColor.rgb == "FFFFF2CC" and seed_ws["F8"].number_format == "#,##0.00"
    assert seed_ws["E16"].number_format == "0.00%"
    assert seed_ws["C4"].fill.fgColor.rgb != "FFFFF2CC"


def test_qualitative_indicators_get_the_tier_dropdown(seed_ws, national_wb, xlsx):
    tiers = '"' + ",".join(TIERS) + '"'
    # seed: 社会效益 (row 40) and 可持续影响 (row 42) have prose targets
    for ref in ("F40", "F42"):
        dv = xlsx.validation_at(seed_ws, ref)
        assert (dv.type, dv.formula1) == ("list", tiers), ref
        assert dv.errorStyle == "warning"   # a tier is offered, prose is still accepted (and reviewed)
    for ref in ("F18", "F24", "F43"):  # 一项, ≥95%, ≥90%: quantitative
        assert xlsx.validation_at(seed_ws, ref).type == "textLength", ref
    ws = national_wb.worksheets[0]
    # national project: 不发生 (marked 定性 in the list) and 达成预期指标
    assert ws["D19"].value == "区域性重大动物疫情" and ws["D21"].value == "强制免疫长效机制"
    for ref in ("F19", "F21"):
        assert xlsx.validation_at(ws, ref).formula1 == tiers, ref
    assert xlsx.validation_at(ws, "F14").type == "textLength"


def test_not_applicable_rows_are_locked_and_keep_their_place(seed_ws, national_wb):
    # 经济效益 / 生态效益 are 无 in the seed: shown, nothing to fill
    for r in (39, 41):
        assert seed_ws[f"D{r}"].value == "无"
        assert seed_ws[f"F{r}"].protection.locked and seed_ws[f"G{r}"].protection.locked
    # a group with no indicator in the list still appears, as 无 (national project 2 has no 经济效益指标)
    ws = national_wb.worksheets[0]
    assert (ws["C18"].value, ws["D18"].value) == ("经济效益指标", "无")


# ---------------------------------------------------------------- the national form (forms.md §2)

NATIONAL_LABELS = {
    "A1": "项目支出绩效自评表", "A2": "（2025年度）",
    "A4": "项目名称", "A5": "主管部门", "E5": "实施单位",
    "A6": "项目资金（万元）", "D6": "年初预算数", "E6": "全年预算数（A）", "F6": "全年执行数（B）",
    "G6": "分值", "H6": "执行率（B/A）", "I6": "得分",
    "B7": "年度资金总额", "G7": "10", "B8": "其中：当年财政拨款", "B9": "上年结转资金", "B10": "其他资金",
    "G8": "—", "I10": "—",
    "A11": "年度总体目标", "B11": "预期目标", "F11": "实际完成情况",
    "A13": "绩效指标", "B13": "一级指标", "C13": "二级指标", "D13": "三级指标", "E13": "年度指标值（A）",
    "F13": "实际完成值（B）", "G13": "分值", "H13": "得分", "I13": "偏差原因分析及改进措施",
    "B14": "产出指标\n(50分)", "C14": "数量指标", "C15": "质量指标", "C16": "时效指标", "C17": "成本指标",
    "B18": "效益指标\n(30分)", "C18": "经济效益指标", "C19": "社会效益指标", "C20": "生态效益指标",
    "C21": "可持续影响指标", "B22": "满意度指标\n(10分)", "C22": "服务对象满意度指标",
    "A23": "总分", "G23": "100",
}


def test_national_form_labels_and_layout(national_wb, xlsx):
    ws = national_wb.worksheets[0]
    assert ws.title == "绩效自评表"
    for ref, label in NATIONAL_LABELS.items():
        assert ws[ref].value == label, ref
    merges = {str(r) for r in ws.merged_cells.ranges}
    assert {"A13:A22", "B14:B17", "B18:B21", "A6:A10", "A11:A12"} <= merges
    # 得分 per 三级指标: no merged score cells
    assert not any(r.min_col == 8 and 14 <= r.min_row <= 22 for r in ws.merged_cells.ranges)
    assert ws.print_title_rows == "$13:$13"


def test_national_points_and_budget_prefilled_and_locked(national_wb):
    ws = national_wb.worksheets[0]
    points = [ws[f"G{r}"].value for r in range(14, 23)]
    assert points == [15, 15, 10, 10, None, 15, None, 15, 10]   # 无 rows (18, 20) carry none
    assert sum(p for p in points if p) == 90
    for ref in ("D7", "E7", "G14", "E14", "D14"):
        assert ws[ref].protection.locked, ref
    assert ws["E7"].value == 186 and ws["F7"].protection.locked is False   # 全年执行数 is filled in


def test_national_unlocked_cells_are_the_named_inputs(national_wb, xlsx):
    ws = national_wb.worksheets[0]
    expected = ({"F7", "F8", "F9", "F10", "F12", "G24", "B25", "E25", "H25"}
                | {f"{c}{r}" for r in range(14, 23) if r not in (18, 20) for c in "FI"})
    assert xlsx.unlocked_cells(ws) == expected


def test_full_national_project(sample_set, xlsx):
    ws = sample_set.workbook(NATIONAL_FULL_CODE).worksheets[0]
    # 10 indicators, every group filled once, 数量指标 twice
    assert [ws[f"D{r}"].value for r in (14, 15, 23)] == ["新建高标准农田面积", "新建（改造）灌溉渠道", "项目区农户满意度"]
    assert "C14:C15" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A24"].value == "总分"


# ---------------------------------------------------------------- blank forms

def test_blank_yulin_has_spare_rows_and_open_identity(blank_set, xlsx):
    b = blank_set["yulin-2021"]
    ws = b.wb.worksheets[0]
    for ref in ("C4", "G4", "C5", "G5", "F7", "C12", "C15"):   # identity, 资金总额, 概况, 目标
        assert ws[ref].protection.locked is False, ref
        assert xlsx.validation_at(ws, ref) is not None, ref
    # 9 二级指标 × 3 spare rows, from row 18 to 44; each row fully open except the group score
    assert {"C18:C20", "C42:C44", "H18:H20", "B18:B29", "B30:B41", "B42:B44"} <= {
        str(r) for r in ws.merged_cells.ranges}
    for r in range(18, 45):
        for col in "DEFG":
            assert ws[f"{col}{r}"].protection.locked is False, f"{col}{r}"
        assert ws[f"H{r}"].protection.locked
    assert ws["A45"].value == "复核得分"
    assert b.manifest["files"][0]["project_code"] == ""
    # spare rows are named by their place in the group, as a department would say it
    labels = {r[3]: r[5] for r in b.wb["_xlform"].iter_rows(min_row=2, values_only=True) if r[3]}
    assert labels["xf_ind_001_actual"] == "产出数量第1行·实际完成值"
    assert labels["xf_ind_004_actual"] == "产出质量第1行·实际完成值"
    assert labels["xf_ind_027_reason"] == "具体指标第3行·未完成的原因"
    assert b.path.name == "2021年度预算项目绩效自评表_空白表.xlsx"


def test_blank_national_has_open_points(blank_set):
    ws = blank_set["national-2020"].wb.worksheets[0]
    # 9 二级指标 × 2 spare rows: 14..31; 分值 is entered by the department
    for r in range(14, 32):
        assert ws[f"G{r}"].protection.locked is False
        assert ws[f"H{r}"].protection.locked          # 得分 is the bureau's
    assert ws["A32"].value == "总分"


# ---------------------------------------------------------------- long dropdowns, paper, safety

def test_long_dropdown_goes_on_a_hidden_sheet_behind_a_defined_name(tmp_path, spec_dir, yulin_data, project_list):
    values = [f"玉林片区{i:02d}号" for i in range(40)]   # 40 × 7 + 39 = 319 characters > 255
    yulin_data.update(id="yulin-districts")
    yulin_data["lists"] = {"districts": {"values": values, "store": "sheet"}}
    yulin_data["input_types"] = {"district": {"validate": {"type": "list", "list": "districts"},
                                              "prompt": ["所属片区", "请从下拉列表选择所属片区。"],
                                              "error": ["请选择片区", "请从下拉列表中选择。"]}}
    yulin_data["fields"]["district"] = {"label": "所属片区", "role": "contact", "input": "district"}
    yulin_data["rows"].append({"cells": [{"at": "A:B", "text": "所属片区"}, {"at": "C:H", "field": "district"}]})
    spec_dir.write(yulin_data, "yulin-districts.yaml")
    rows = [["yulin-districts"] + r[1:] for r in project_list.rows()[:2]]
    result = generate(project_list.write(rows), tmp_path / "out", templates=[spec_dir.dir])
    wb = openpyxl.load_workbook(result.files[0])
    assert wb["_lists"].sheet_state == "hidden"
    assert [wb["_lists"].cell(i, 1).value for i in range(1, 41)] == values
    dn = wb.defined_names["xf_list_districts"]
    assert dn.attr_text == "_lists!$A$1:$A$40"
    ws = wb["自评表"]
    cell = xlsx_cell(wb, "xf_district")
    dv = next(d for d in ws.data_validations.dataValidation if cell in d.sqref)
    assert (dv.type, dv.formula1) == ("list", "xf_list_districts")
    # the short tiers list stays inline
    tier_cells = [d.formula1 for d in ws.data_validations.dataValidation if d.type == "list" and d.formula1 != "xf_list_districts"]
    assert all(f.startswith('"达成预期指标,') for f in tier_cells)


def xlsx_cell(wb, name: str) -> str:
    dest = next(iter(wb.defined_names[name].destinations))
    return dest[1].replace("$", "")


def test_paper_size_from_the_spec(tmp_path, spec_dir, yulin_data):
    yulin_data.update(id="yulin-a3")
    yulin_data["print"] = {"paper": "A3", "orientation": "landscape"}
    spec_dir.write(yulin_data, "yulin-a3.yaml")
    result = generate(None, tmp_path, form="yulin-a3", blank=True, templates=[spec_dir.dir])
    ps = openpyxl.load_workbook(result.files[0]).worksheets[0].page_setup
    assert (ps.paperSize, ps.orientation) == (8, "landscape")


def test_text_that_looks_like_a_formula_stays_text(tmp_path, project_list):
    rows = project_list.rows()[:2]
    rows[0][4] = '=HYPERLINK("http://example.com","点此")'
    rows[0][9] = "+86 维护"
    result = generate(project_list.write(rows, fmt="csv"), tmp_path / "out", templates=[TEMPLATES])
    ws = openpyxl.load_workbook(result.files[0]).worksheets[0]
    assert ws["C4"].data_type == "s" and ws["C4"].value == '=HYPERLINK("http://example.com","点此")'
    assert ws["D18"].data_type == "s" and ws["D18"].value == "+86 维护"
    # and the file name has no characters Windows refuses
    assert result.files[0].name == '玉林市教育局_450900210350200001003_=HYPERLINK(－http－example.com－,－点此－).xlsx'


# ---------------------------------------------------------------- atomic, readable output

def test_no_temp_files_left_after_a_run(sample_set):
    leftovers = [p.name for p in sample_set.out.rglob("*") if p.name.startswith(".~")]
    assert leftovers == []
    assert sorted(p.name for p in sample_set.out.iterdir() if p.suffix != ".xlsx") == ["manifest.json"]


def test_a_failed_write_leaves_neither_temp_file_nor_half_file(tmp_path, monkeypatch):
    target = tmp_path / "2021年度预算项目绩效自评表_空白表.xlsx"
    target.write_bytes(b"the previous good file")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xlform.workbook, "_write", fail)
    with pytest.raises(OSError):
        generate(None, tmp_path, form="yulin-2021", blank=True)
    assert target.read_bytes() == b"the previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_generated_files_follow_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        result = generate(None, tmp_path, form="yulin-2021", blank=True)
    finally:
        os.umask(old)
    # as any new file: readable by the department's other users unless the umask says otherwise
    # (a mkstemp temp file would be 0600 whatever the umask)
    assert stat.S_IMODE(result.files[0].stat().st_mode) == mode
    assert stat.S_IMODE(result.manifest_path.stat().st_mode) == mode


def test_file_name_clash_stops_before_anything_is_written(tmp_path, project_list):
    rows = project_list.rows()[:2]
    clash = [list(r) for r in rows]
    for r in rows:
        r[3] = "XM-2021-a1"
    for r in clash:
        r[3] = "XM-2021-A1"   # Windows and macOS see the same file name
    with pytest.raises(XlformError, match="生成了相同的文件名"):
        generate(project_list.write(rows + clash), tmp_path / "out", templates=[TEMPLATES])
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def _many_projects(project_list, n: int) -> list[list]:
    """n two-row Yulin projects with their own codes and names, then the sample's national one."""
    y1, y2, *national = project_list.rows()
    rows = []
    for i in range(n):
        code = f"4509002103502000{i:05d}"
        rows += [[*y1[:3], code, f"{y1[4]}{i}", *y1[5:]], [*y2[:3], code, *y2[4:]]]
    return rows + national


def _as_it_was(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_workers_write_what_one_process_writes_and_leave_no_staging(tmp_path, project_list):
    """With --jobs 2 the workbooks are written while the list is still read, under temporary names
    in a staging folder: the result is the same files, byte for byte, and no trace of the staging."""
    listing = project_list.write(_many_projects(project_list, 9))
    one = generate(listing, tmp_path / "j1", templates=[TEMPLATES], jobs=1, by_department=True)
    two = generate(listing, tmp_path / "j2", templates=[TEMPLATES], jobs=2, by_department=True)
    assert [p.relative_to(two.out_dir) for p in two.files] == [p.relative_to(one.out_dir) for p in one.files]
    assert len(two.files) == 10
    assert _as_it_was(tmp_path / "j2") == _as_it_was(tmp_path / "j1")     # no .xlform-staging-… left
    for a, b in zip(one.files, two.files):
        assert _members(a) == _members(b), b.name
    manifests = [json.loads(r.manifest_path.read_text(encoding="utf-8")) for r in (one, two)]
    assert [{k: v for k, v in m.items() if k != "created"} for m in manifests][0] == \
        {k: v for k, v in manifests[1].items() if k != "created"}


def test_on_windows_the_staging_folder_is_hidden_while_the_run_lasts(tmp_path, project_list, monkeypatch):
    """Explorer does not hide a dot name: the staging folder is given the hidden attribute as soon as
    it is made (the Windows call itself is stood in for here: this machine has no Explorer)."""
    import xlform.generate as gen
    hidden: list[Path] = []
    monkeypatch.setattr(gen, "_WINDOWS", True)
    monkeypatch.setattr(gen, "_mark_hidden", lambda folder: hidden.append(folder) if folder.is_dir() else None)
    listing = project_list.write(_many_projects(project_list, 2))
    result = generate(listing, tmp_path / "out", templates=[TEMPLATES], jobs=1)
    assert len(hidden) == 1 and hidden[0].parent == tmp_path / "out"
    assert hidden[0].name.startswith(".xlform-staging-") and not hidden[0].exists()   # and gone after
    assert len(result.files) == 3


def test_marking_a_folder_hidden_never_fails_a_run(tmp_path):
    from xlform.generate import _mark_hidden
    _mark_hidden(tmp_path)            # here ctypes has no windll: nothing happens, nothing is raised
    assert tmp_path.is_dir()


def _members(path: Path) -> dict[str, bytes]:
    import zipfile
    with zipfile.ZipFile(path) as z:   # core.xml carries the time of writing
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _staged(out: Path) -> list[Path]:
    return list(out.glob(".xlform-staging-*/.~*.xlsx"))


def test_a_bad_row_after_workers_started_leaves_the_folder_as_it_was(tmp_path, project_list, monkeypatch):
    """The list's last row is wrong, and the workers have already written the first projects: they
    are removed with their staging folder, and the folder holds only what it held before."""
    import time
    from xlform.projects import ProjectList, ProjectListError

    rows = _many_projects(project_list, 8)
    rows[-1][9] = ""      # the last row's 指标内容
    out = tmp_path / "out"
    out.mkdir()
    (out / "上次的文件.xlsx").write_bytes(b"kept")
    watched = [out]
    stream = ProjectList.stream

    def slow_to_fail(self):
        # holds the list's error back until a worker has written a workbook into the staging folder,
        # so that the clean-up is tested with files to clean up
        it = stream(self)
        while True:
            try:
                project = next(it)
            except StopIteration:
                return
            except ProjectListError:
                deadline = time.monotonic() + 60
                while not _staged(watched[0]) and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert _staged(watched[0])
                raise
            yield project

    monkeypatch.setattr(ProjectList, "stream", slow_to_fail)
    with pytest.raises(ProjectListError, match="指标内容为空"):
        generate(project_list.write(rows), out, templates=[TEMPLATES], jobs=2)
    assert _as_it_was(out) == ["上次的文件.xlsx"]
    assert (out / "上次的文件.xlsx").read_bytes() == b"kept"
    # a folder that did not exist is not left behind, empty
    watched[0] = tmp_path / "new"
    with pytest.raises(ProjectListError):
        generate(project_list.write(rows), tmp_path / "new", templates=[TEMPLATES], jobs=2)
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(__import__("multiprocessing").get_start_method() != "fork",
                    reason="the patched writer reaches the workers only by fork")
def test_a_worker_that_fails_leaves_the_folder_as_it_was(tmp_path, project_list, monkeypatch):
    write = xlform.workbook.write_workbook

    def disk_full_on_the_fifth(layout, path, meta, **kw):
        if meta["project_code"].endswith("00004"):
            raise OSError(28, "No space left on device")
        return write(layout, path, meta, **kw)

    # set before generate forks its workers, which inherit it
    monkeypatch.setattr("xlform.generate.write_workbook", disk_full_on_the_fifth)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space"):
        generate(project_list.write(_many_projects(project_list, 12)), out, templates=[TEMPLATES], jobs=2)
    assert not out.exists()


def test_a_bad_list_leaves_no_folder_it_created(tmp_path, project_list):
    rows = _many_projects(project_list, 4)
    rows[-1][9] = ""
    with pytest.raises(XlformError, match="指标内容为空"):
        generate(project_list.write(rows), tmp_path / "a" / "b" / "out", templates=[TEMPLATES], jobs=2)
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("failing", ["the fourth workbook", "the manifest", "a full disk"])
def test_a_file_that_cannot_be_replaced_leaves_the_last_run_whole(tmp_path, project_list, monkeypatch, jobs,
                                                                   failing):
    """Generating again into last run's folder while one of its workbooks is open in Excel (Windows
    refuses to replace it): the workbooks already moved are put back, and the folder is last run's,
    all of it, manifest included."""
    import re

    listing = project_list.write(_many_projects(project_list, 6))
    out = tmp_path / "out"
    generate(listing, out, templates=[TEMPLATES], jobs=jobs, year=2021, by_department=True)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real, moved = os.replace, []

    def locked(src, dst, *a, **kw):
        # only moves out of the staging folder (its files are .~<n>.<suffix>; the writers' own temp
        # files are .~<pid>-<n>-<hex>)
        if re.search(r"\.~\d+\.(xlsx|json)$", str(src)):
            moved.append(str(dst))
            if failing == "a full disk" and len(moved) == 4:
                raise OSError(28, "No space left on device", str(dst))
            if (failing == "the manifest" and str(dst).endswith("manifest.json")) or \
                    (failing == "the fourth workbook" and len(moved) == 4):
                raise PermissionError(13, "另一个程序正在使用此文件，进程无法访问", str(dst))
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", locked)
    hint = "磁盘空间" if failing == "a full disk" else "正在被 Excel 或 WPS 打开，请关闭后重新生成"
    with pytest.raises(XlformError, match=f"无法写入 .*{hint}.*；输出文件夹未作改动"):
        generate(listing, out, templates=[TEMPLATES], jobs=jobs, year=2022, by_department=True)
    monkeypatch.setattr(os, "replace", real)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert len(moved) == (8 if failing == "the manifest" else 4)   # 7 workbooks, then the manifest


def test_file_name_clash_found_with_workers_leaves_nothing(tmp_path, project_list):
    rows = _many_projects(project_list, 6)
    clash = [list(r) for r in rows[:2]]
    for r in clash:
        r[3] = r[3].replace("450900", "450900A")
    for r in rows[:2]:
        r[3] = r[3].replace("450900", "450900a")
    with pytest.raises(XlformError, match="生成了相同的文件名"):
        generate(project_list.write(rows + clash), tmp_path / "out", templates=[TEMPLATES], jobs=2)
    assert not (tmp_path / "out").exists()


def test_manifest_lists_every_file_with_its_project(sample_set):
    m = sample_set.manifest
    assert m["manifest_version"] == 1
    seed = sample_set.entries[SEED_CODE]
    assert seed["file"] == "玉林市人力资源和社会保障局_450900210340100004007_社会保险业务改革专项业务经费.xlsx"
    assert (seed["department"], seed["form_id"], seed["form_version"], seed["year"]) == (
        "玉林市人力资源和社会保障局", "yulin-2021", "2021.1", 2021)
    assert len(seed["project"]["indicators"]) == 26
    assert json.dumps(m, ensure_ascii=False)   # plain JSON all the way down


def test_manifest_is_one_entry_per_line_and_the_same_with_workers(sample_set, tmp_path):
    """Compact JSON, one entry per line (greppable, streamed as entries arrive); worker processes
    write the same manifest, and both readers (whole file, streaming index) read it alike."""
    from xlform.manifest import Manifest
    from xlform.manifest_index import ManifestIndex

    result = generate(TEMPLATES.parent / "sample_workbooks" / "projects.xlsx", tmp_path / "j2", jobs=2)
    lines = result.manifest_path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith('{"manifest_version":1,') and lines[0].endswith('"files":[')
    assert lines[-1] == "]}" and len(lines) == len(sample_set.manifest["files"]) + 2
    two = json.loads(result.manifest_path.read_text(encoding="utf-8"))
    assert {k: v for k, v in two.items() if k != "created"} == {
        k: v for k, v in sample_set.manifest.items() if k != "created"}
    whole = [e.__dict__ for e in Manifest.load(result.manifest_path).entries]
    index = ManifestIndex.build(result.manifest_path, tmp_path / "m.manifest.sqlite", chunk=97)
    assert [e.__dict__ for e in index.entries] == whole
    index.close()


def test_manifest_line_separators_in_text_stay_inside_their_entry(tmp_path):
    """U+2028/U+2029 are valid raw in JSON, but splitlines() and line-based tools break lines there:
    a project name holding one must not split its manifest entry over two lines."""
    from xlform.manifest import Manifest, ManifestEntry, entry_json, write_manifest

    name = "水利\u2028工程\u2029项目"
    e = ManifestEntry("a.xlsx", "450900000000000000001", "水利局", name, "yulin-2021", "1", 2021, "f" * 64,
                      {"B4": name}, {"项目名称": name})
    path = write_manifest(tmp_path / "manifest.json", 2021, "2021-01-01T00:00:00", [entry_json(e)])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and "\u2028" not in lines[1] and "\\u2028" in lines[1]
    assert Manifest.load(path).entries[0].project_name == name


def _linked_department_run(tmp_path, project_list, linked_to: Path | None, monkeypatch=None):
    """Generate twice (the second run replaces the first's files) into an output folder whose first
    department folder lives elsewhere; return (that folder's files, a reference run's files)."""
    listing = project_list.write(_many_projects(project_list, 6))
    ref = generate(listing, tmp_path / "ref", templates=[TEMPLATES], jobs=1, year=2022, by_department=True)
    dept = ref.files[0].parent.name
    out = tmp_path / "out"
    if linked_to is not None:                       # a real link to another volume
        (linked_to / dept).mkdir(parents=True)
        out.mkdir()
        (out / dept).symlink_to(linked_to / dept, target_is_directory=True)
    if monkeypatch is not None:                     # a rename into or out of that folder cannot cross
        import errno
        import re
        real, refused = os.replace, []

        def across(src, dst, *a, **kw):
            src, dst = Path(src), Path(dst)
            staged = [p for p in (src, dst) if re.search(r"\.~\d+\.(xlsx|json|old)$", p.name)]
            if staged and any(p.parent == out / dept for p in (src, dst)):
                refused.append((src.suffix, dst.suffix))
                raise OSError(errno.EXDEV, "Invalid cross-device link", str(dst))
            return real(src, dst, *a, **kw)
        monkeypatch.setattr(os, "replace", across)
    generate(listing, out, templates=[TEMPLATES], jobs=1, year=2021, by_department=True)
    generate(listing, out, templates=[TEMPLATES], jobs=1, year=2022, by_department=True)
    if monkeypatch is not None:   # both kinds were refused: a staged file moved in, an old one set aside
        assert (".xlsx", ".xlsx") in refused and (".xlsx", ".old") in refused
    every = [Path(d, n) for d, dirs, names in os.walk(out, followlinks=True) for n in dirs + names]
    files = {p.relative_to(out): _members(p) for p in every if p.suffix == ".xlsx"}
    expected = {p.relative_to(ref.out_dir): _members(p) for p in ref.files}
    assert not [p for p in every if p.name.startswith(".")], "no staging folder, temp file or backup left behind"
    return out / dept, files, expected


def test_a_department_folder_on_another_volume_is_written_all_the_same(tmp_path, project_list, monkeypatch):
    """A department folder that is a link or junction to another drive: a staged workbook cannot be
    renamed into it (EXDEV), nor last run's set aside out of it. They are copied beside the target and
    renamed there instead, and the result is the same as anywhere else."""
    dept, files, expected = _linked_department_run(tmp_path, project_list, None, monkeypatch)
    assert files == expected and any(p.parts[0] == dept.name for p in files)


def test_a_real_link_to_another_file_system(tmp_path, project_list):
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system here to link a department folder to")
    import tempfile
    try:
        elsewhere_dir = tempfile.TemporaryDirectory(dir=other)
    except OSError:
        pytest.skip("the second file system cannot be written to")
    with elsewhere_dir as elsewhere:
        dept, files, expected = _linked_department_run(tmp_path, project_list, Path(elsewhere))
        assert files == expected
        assert sorted(p.name for p in (Path(elsewhere) / dept.name).iterdir()) == \
            sorted(p.name for p in files if p.parts[0] == dept.name)


def test_ctrl_c_during_the_moves_puts_last_runs_files_back(tmp_path, project_list, monkeypatch):
    """Interrupted half-way through moving the new workbooks into place, the run stops, and the folder
    is last run's again: the old workbooks set aside are put back before the staging folder goes."""
    import re

    listing = project_list.write(_many_projects(project_list, 6))
    out = tmp_path / "out"
    generate(listing, out, templates=[TEMPLATES], jobs=1, year=2021)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real, moved = os.replace, []

    def interrupted(src, dst, *a, **kw):
        if re.search(r"\.~\d+\.xlsx$", str(src)):
            moved.append(dst)
            if len(moved) == 4:
                raise KeyboardInterrupt
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate(listing, out, templates=[TEMPLATES], jobs=1, year=2022)
    monkeypatch.setattr(os, "replace", real)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_move_that_cannot_be_undone_is_named_and_its_backup_kept(tmp_path, project_list, monkeypatch):
    import re

    listing = project_list.write(_many_projects(project_list, 6))
    out = tmp_path / "out"
    generate(listing, out, templates=[TEMPLATES], jobs=1, year=2021)
    real, moved = os.replace, []

    def stuck(src, dst, *a, **kw):
        if re.search(r"\.~\d+\.xlsx$", str(src)):
            moved.append(dst)
            if len(moved) == 4:
                raise PermissionError(13, "locked", str(dst))
        if str(src).endswith(".old") and Path(dst) == moved[0]:
            raise PermissionError(13, "locked", str(dst))    # the first workbook cannot be put back
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", stuck)
    with pytest.raises(XlformError, match="以下文件未能还原") as caught:
        generate(listing, out, templates=[TEMPLATES], jobs=1, year=2022)
    monkeypatch.setattr(os, "replace", real)
    assert str(moved[0]) in str(caught.value) and "输出文件夹未作改动" not in str(caught.value)
    (staging,) = out.glob(".xlform-staging-*")           # kept: it holds the old workbook's backup
    assert len(list(staging.glob(".~*.old"))) == 1
