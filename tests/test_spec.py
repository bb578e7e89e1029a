"""Form specs: the bundled ones load as the forms in forms.md say, and every mistake a bureau can
make in a spec is refused with a Chinese message naming the file and the key path."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from pathlib import Path

from xlform.cli import main
from xlform.errors import XlformError
from xlform.spec import SpecError, available_forms, get_form, load_spec

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


# ---------------------------------------------------------------- the bundled specs

def test_yulin_spec_has_the_groups_and_points_of_the_seed_form():
    spec = load_spec(TEMPLATES / "yulin-2021.yaml")
    assert (spec.id, spec.version, spec.sheet, spec.default_year) == ("yulin-2021", "2021.1", "自评表", 2021)
    assert spec.render(spec.title, year=2021) == "2021年度预算项目绩效自评表"
    groups = [(g1.name, g1.points, [(g2.name, g2.points) for g2 in g1.children]) for g1 in spec.indicators.groups]
    assert groups == [
        ("产出指标", 50, [("产出数量", 20), ("产出质量", 10), ("产出时效", 10), ("产出成本", 10)]),
        ("效果指标", 30, [("经济效益", 7.5), ("社会效益", 7.5), ("生态效益", 7.5), ("可持续影响", 7.5)]),
        ("社会公众或服务对象满意度", 10, [("具体指标", 10)]),
    ]
    assert spec.scoring.execution_points == 10 and spec.scoring.total == 100
    assert spec.indicators.score_per == "group" and spec.indicators.weight == "equal"
    # 产出成本 is a cost: the reverse rule applies (forms.md §3)
    assert spec.indicators.find("产出指标", "产出成本")[1].direction == "reverse"


def test_national_spec_scores_per_indicator_with_points_from_the_list():
    spec = load_spec(TEMPLATES / "national-2020.yaml")
    assert spec.indicators.score_per == "indicator" and spec.indicators.weight == "points"
    assert [(g.name, g.points) for g in spec.indicators.groups] == [("产出指标", 50), ("效益指标", 30), ("满意度指标", 10)]
    assert [g.name for g in spec.indicators.groups[1].children] == [
        "经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"]
    assert spec.scoring.execution_budget_field == "budget_total"
    assert spec.scoring.execution_executed_field == "executed_total"


def test_fragments_starting_with_underscore_are_not_forms():
    forms = available_forms([TEMPLATES])
    assert sorted(forms) == ["national-2020", "yulin-2021"]


def test_unknown_form_lists_the_known_ones():
    with pytest.raises(XlformError) as exc:
        get_form("guangxi-2022", [TEMPLATES])
    assert "找不到表单 “guangxi-2022”" in str(exc.value)
    assert "national-2020、yulin-2021" in str(exc.value)


# ---------------------------------------------------------------- every mistake, refused by name

def _long_list(n: int) -> list[str]:
    return [f"玉林片区{i:02d}号" for i in range(n)]   # 7 characters each


def _add_list_field(d: dict, values: list[str], store: str | None = None) -> None:
    """A contact field whose input is a dropdown over `values`, placed in a new last row."""
    spec = {"values": values}
    if store:
        spec["store"] = store
    d["lists"] = {"districts": spec}
    d["input_types"] = {"district": {"validate": {"type": "list", "list": "districts"},
                                     "prompt": ["所属片区", "请从下拉列表选择所属片区。"],
                                     "error": ["请选择片区", "请从下拉列表中选择。"]}}
    d["fields"]["district"] = {"label": "所属片区", "role": "contact", "input": "district"}
    d["rows"].append({"cells": [{"at": "A:B", "text": "所属片区"}, {"at": "C:H", "field": "district"}]})


def _set(path: list, value):
    def mutate(d):
        target = d
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
    return mutate


SPEC_ERRORS = [
    # (id, mutation, key path, words the message must contain)
    ("unknown top-level key", _set(["colour"], "red"), "colour", "未知的键 “colour”"),
    ("unknown field key", _set(["fields", "goal", "colour"], "red"), "fields.goal.colour", "未知的键 “colour”"),
    ("unknown cell key", _set(["rows", 3, "cells", 0, "merge"], True), "rows[3].cells[0].merge", "未知的键 “merge”"),
    ("unknown indicator key", _set(["indicators", "weights"], "equal"), "indicators.weights", "未知的键 “weights”"),
    ("二级 points do not add up to 一级", _set(["indicators", "groups", 0, "children", 0, "points"], 25),
     "indicators.groups[0].children", "二级指标分值合计 55 分，与一级指标“产出指标”的 50 分不符"),
    ("groups + execution do not add up to total", _set(["scoring", "execution", "points"], 20),
     "indicators.groups", "一级指标合计 90 分加预算执行率 20 分，不等于总分 100 分"),
    ("一级 without points", _set(["indicators", "groups", 2, "points"], None),
     "indicators.groups[2].points", "一级指标必须有分值"),
    ("equal weight needs 二级 points", _set(["indicators", "groups", 2, "children", 0, "points"], None),
     "indicators.groups[2].children[0].points", "每个二级指标都必须有分值"),
    ("undefined field in a cell", _set(["rows", 3, "cells", 1, "field"], "project_title"),
     "rows[3].cells[1].field", "引用了未定义的字段 “project_title”"),
    ("undefined input type", _set(["fields", "progress", "input"], "percentage"),
     "fields.progress.input", "引用了未定义的输入类型 “percentage”"),
    ("undefined field for the execution rate", _set(["scoring", "execution", "rate"], "exec_rate"),
     "scoring.execution.rate", "引用了未定义的字段 “exec_rate”"),
    ("unknown role", _set(["fields", "goal", "role"], "objective"), "fields.goal.role", "未知的角色 “objective”"),
    # 资金总额 (rows[5], A:B) is merged down 6 rows; a cell in column B of rows[6] lands inside it
    ("overlapping cells", lambda d: d["rows"][6]["cells"].insert(0, {"at": "B", "text": "小计"}),
     "rows[6].cells[0]", "与 rows[5] 重叠"),
    ("bad column", _set(["rows", 3, "cells", 0, "at"], "A1"), "rows[3].cells[0].at", "列号 “A1” 无效"),
    ("reversed column range", _set(["rows", 3, "cells", 0, "at"], "B:A"), "rows[3].cells[0].at", "起止颠倒"),
    ("column beyond the defined ones", _set(["rows", 3, "cells", 0, "at"], "A:J"),
     "rows[3].cells[0].at", "超出了 columns 中定义的列（共 8 列）"),
    ("indicator part in an undefined column", _set(["indicators", "columns", "score"], "K"),
     "indicators.columns.score", "应为 columns 中定义的单独一列"),
    ("two indicator parts in one column", _set(["indicators", "columns", "score"], "G"),
     "indicators.columns", "两个部分不能放在同一列"),
    ("a column without a width", lambda d: d["columns"].pop("C"), "columns", "缺少 C 列的宽度"),
    ("label and field in one cell", _set(["rows", 0, "cells", 0, "field"], "goal"),
     "rows[0].cells[0]", "有且只有 text（标签）或 field（数据）之一"),
    ("field placed twice", lambda d: d["rows"][0]["cells"].append({"at": "C:H", "field": "goal"}),
     "rows[14].cells[1].field", "字段 “goal” 已放在另一个单元格"),
    ("field never placed", _set(["fields", "auditor"], {"label": "审核人", "role": "contact", "input": "text"}),
     "fields.auditor", "已定义但未放入 rows"),
    ("identity field missing", lambda d: (d["fields"].pop("unit"), d["rows"][4]["cells"].pop(1)),
     "fields.unit", "role: identity"),
    ("undefined style", _set(["rows", 0, "cells", 0, "style"], "fancy"), "rows[0].cells[0].style", "未定义的样式 “fancy”"),
    ("rows not a list", _set(["rows"], "indicators"), "rows", "应为列表"),
    ("no indicator table", lambda d: d["rows"].remove("indicators"), "rows", "必须且只能有一行 “indicators”"),
    ("sheet name too long", _set(["sheet"], "玉林市二〇二一年度预算项目绩效自评表（附件三）正式版本第二稿（草案）"),
     "sheet", "不得超过31个字符"),
    ("bad id", _set(["id"], "Yulin 2021"), "id", "只能用小写字母、数字、- 和 _"),
    ("unknown placeholder", _set(["title"], "{{ yaer }}年度预算项目绩效自评表"), "title", "未知的占位符 “{{ yaer }}”"),
    ("unknown placeholder in a label", _set(["rows", 0, "cells", 0, "text"], "附件{{ annex }}"),
     "rows[0].cells[0].text", "未知的占位符 “{{ annex }}”"),
    ("template syntax", _set(["title"], "{{ year }年度"), "title", "模板语法错误"),
    ("unknown paper", _set(["print", "paper"], "A2"), "print.paper", "应为 A4、A3、A5、B5、Letter、Legal 之一"),
    ("footer too long", _set(["print", "footer"], "第 &P 页" * 60), "print.footer", "页眉页脚不能超过 255 个字符"),
    ("duplicate 二级 name", lambda d: d["indicators"]["groups"][0]["children"].append({"name": "产出数量", "points": 0}),
     "indicators.groups[0].children[4].name", "二级指标“产出数量”在“产出指标”下重复"),
    ("points not a number", _set(["indicators", "groups", 0, "points"], "五十"),
     "indicators.groups[0].points", "应为数字，实际为 '五十'"),
    ("undefined dropdown list",
     _set(["input_types"], {"pick": {"validate": {"type": "list", "list": "units"},
                                     "prompt": ["选择", "请选择。"], "error": ["有误", "请选择。"]}}),
     "input_types.pick.validate.list", "引用了未定义的下拉列表 “units”"),
    ("date bound that is not a date",
     _set(["input_types"], {"date": {"validate": {"type": "date", "min": "去年"},
                                     "prompt": ["日期", "请填写日期。"], "error": ["有误", "日期有误。"]}}),
     "input_types.date.validate.min", "应为日期，如 2021-12-31"),
    ("number bound that is not a number",
     _set(["input_types"], {"amount": {"validate": {"type": "decimal", "min": "零"},
                                       "prompt": ["金额", "请填写金额。"], "error": ["有误", "金额有误。"]}}),
     "input_types.amount.validate.min", "应为数字"),
    ("prompt title over Excel's 32 characters",
     _set(["input_types"], {"text": {"validate": {"type": "length", "max": 200},
                                     "prompt": ["请填写" * 11, "请填写。"], "error": ["有误", "内容过长。"]}}),
     "input_types.text.prompt", "标题不得超过32字"),
    ("inline dropdown over 255 characters", lambda d: _add_list_field(d, _long_list(40)),
     "lists.districts.values", "下拉列表共 319 个字符，超过 Excel 内联列表的 255 个字符上限；请加上 store: sheet"),
]


@pytest.mark.parametrize("mutate,key,words", [e[1:] for e in SPEC_ERRORS], ids=[e[0] for e in SPEC_ERRORS])
def test_spec_mistake_is_refused_naming_file_and_key(spec_dir, yulin_data, mutate, key, words):
    mutate(yulin_data)
    path = spec_dir.write(yulin_data, "yulin-variant.yaml")
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    message = str(exc.value)
    assert message.startswith(f"表单定义文件 yulin-variant.yaml 的 {key}："), message
    assert words in message
    assert exc.value.key == key


def test_the_unmodified_copy_loads(spec_dir, yulin_data):
    """The mutations above are what breaks each spec, not the copying."""
    spec = load_spec(spec_dir.write(yulin_data, "yulin-variant.yaml"))
    assert spec.id == "yulin-2021" and len(spec.fields) == 22


def test_dropdown_of_exactly_255_characters_stays_inline(spec_dir, yulin_data):
    _add_list_field(yulin_data, _long_list(32))   # 32 × 7 + 31 commas = 255
    spec = load_spec(spec_dir.write(yulin_data))
    assert "districts" not in spec.sheet_lists


def test_dropdown_length_counts_utf16_units_as_excel_does(spec_dir, yulin_data):
    # 𠀾 (U+2003E, a CJK Extension B character found in place names) is one Python character
    # but two UTF-16 units: 31 × 7 + 7 + 31 commas = 255 characters, 256 units
    values = _long_list(31) + ["玉林片区𠀾1号"]
    assert len(",".join(values)) == 255
    _add_list_field(yulin_data, values)
    with pytest.raises(SpecError) as exc:
        load_spec(spec_dir.write(yulin_data))
    assert "共 256 个字符" in str(exc.value)


def test_long_dropdown_is_accepted_on_the_hidden_sheet(spec_dir, yulin_data):
    _add_list_field(yulin_data, _long_list(40), store="sheet")
    spec = load_spec(spec_dir.write(yulin_data))
    assert spec.sheet_lists == {"districts"}
    assert spec.lists["districts"][0] == "玉林片区00号" and len(spec.lists["districts"]) == 40


def test_mistake_in_an_included_fragment_names_that_fragment(spec_dir, yulin_data):
    common = (spec_dir.dir / "_common.yaml").read_text(encoding="utf-8")
    (spec_dir.dir / "_common.yaml").write_text(
        common.replace("validate: {type: decimal, min: 0, max: 100000000}",
                       "validate: {type: decimal, min: 0, max: 100000000, step: 0.01}"), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_spec(spec_dir.write(yulin_data, "yulin-variant.yaml"))
    assert str(exc.value).startswith(
        "表单定义文件 _common.yaml（由 yulin-variant.yaml 引用） 的 input_types.amount.validate.step：未知的键 “step”")


def test_own_key_overrides_the_fragment(spec_dir, yulin_data):
    yulin_data["scoring"]["tier_ratios"] = [1.0, 0.8, 0.5]   # Hubei's 80/50 (forms.md §3)
    spec = load_spec(spec_dir.write(yulin_data))
    assert spec.scoring.tier_ratios == (1.0, 0.8, 0.5)
    assert spec.scoring.grades[0] == (90, "优")   # still from _common.yaml


def test_missing_include_is_refused(spec_dir, yulin_data):
    yulin_data["include"] = "_provincial.yaml"
    with pytest.raises(SpecError) as exc:
        load_spec(spec_dir.write(yulin_data, "yulin-variant.yaml"))
    assert str(exc.value) == "表单定义文件 yulin-variant.yaml 的 include：找不到被引用的文件 _provincial.yaml"


def test_include_cycle_is_refused(spec_dir):
    (spec_dir.dir / "_a.yaml").write_text("include: _b.yaml\n", encoding="utf-8")
    (spec_dir.dir / "_b.yaml").write_text("include: _a.yaml\n", encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_spec(spec_dir.dir / "_a.yaml")
    assert "include" in str(exc.value) and "循环引用" in str(exc.value)


def test_yaml_syntax_error_gives_the_line(spec_dir):
    path = spec_dir.dir / "broken.yaml"
    path.write_text("id: broken\nversion: '1'\ntitle: [unclosed\nsheet: x\n", encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert str(exc.value).startswith("表单定义文件 broken.yaml 的 第 4 行：YAML 格式错误")


def test_cli_refuses_a_broken_spec_directory_without_traceback(spec_dir, yulin_data):
    yulin_data["id"] = "yulin-variant"
    yulin_data["indicators"]["groups"][1]["points"] = 35
    spec_dir.write(yulin_data, "yulin-variant.yaml")
    result = CliRunner().invoke(main, ["forms", "--templates", str(spec_dir.dir)])
    assert result.exit_code == 2
    assert "表单定义文件 yulin-variant.yaml 的 indicators.groups[1].children：二级指标分值合计 30 分" in result.output
    assert "Traceback" not in result.output
