"""The `xlform` command for the generator: forms, generate, inspect — driven through click's test
runner, as a bureau's IT person would type them."""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xlform.cli import main
from xlform.generate import safe_filename

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PROJECTS = REPO / "sample_workbooks" / "projects.xlsx"
SEED_CODE = "450900210340100004007"
NATIONAL_CODE = "450900220370200002002"

# 主管部门_项目编码_项目名称.xlsx for the 7 projects of the sample list (tools/make_sample_projects.py)
SAMPLE_FILES = {
    "玉林市人力资源和社会保障局": ["玉林市人力资源和社会保障局_450900210340100004007_社会保险业务改革专项业务经费.xlsx",
                          "玉林市人力资源和社会保障局_450900210340100005001_就业困难人员就业援助专项经费.xlsx"],
    "玉林市教育局": ["玉林市教育局_450900210350100002001_义务教育阶段家庭经济困难学生生活补助.xlsx",
                "玉林市教育局_450900210350200001003_普通高中教学设备更新改造项目.xlsx"],
    "玉林市卫生健康委员会": ["玉林市卫生健康委员会_450900210360100003002_基本公共卫生服务项目（市本级）.xlsx"],
    "玉林市农业农村局": ["玉林市农业农村局_450900220370100001001_高标准农田建设项目.xlsx",
                   "玉林市农业农村局_450900220370200002002_重大动物疫病强制免疫补助.xlsx"],
}


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_refused(result, words):
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "Traceback" not in result.output and "内部错误" not in result.output


# ---------------------------------------------------------------- forms

def test_forms_lists_id_version_and_name():
    result = run("forms")
    assert result.exit_code == 0
    lines = [re.split(r"\s+", line.strip(), maxsplit=2) for line in result.output.splitlines()]
    assert lines == [["national-2020", "2020.1", "项目支出绩效自评表（财预〔2020〕10号）"],
                     ["yulin-2021", "2021.1", "玉林市预算项目绩效自评表（附件3）"]]


def test_forms_json():
    result = run("forms", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {"id": "national-2020", "title": "项目支出绩效自评表", "version": "2020.1"},
        {"id": "yulin-2021", "title": "2021年度预算项目绩效自评表", "version": "2021.1"},
    ]


# ---------------------------------------------------------------- generate

def test_generate_names_files_by_department_code_and_name(tmp_path):
    out = tmp_path / "下发"
    result = run("generate", "--projects", SAMPLE_PROJECTS, "--out", out)
    assert result.exit_code == 0, result.output
    expected = sorted(f for files in SAMPLE_FILES.values() for f in files)
    assert sorted(p.name for p in out.glob("*.xlsx")) == expected
    assert (out / "manifest.json").is_file()
    assert f"已生成 7 个工作簿到 {out}" in result.output
    assert [p.name for p in out.iterdir() if p.name.startswith(".~")] == []


def test_generate_by_department_makes_a_folder_and_a_zip_each(tmp_path):
    out = tmp_path / "下发"
    result = run("generate", "--projects", SAMPLE_PROJECTS, "--out", out, "--by-department")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json"] + list(SAMPLE_FILES) + [f"{d}.zip" for d in SAMPLE_FILES])
    for dept, files in SAMPLE_FILES.items():
        assert sorted(p.name for p in (out / dept).iterdir()) == sorted(files)
        with zipfile.ZipFile(out / f"{dept}.zip") as zf:
            assert sorted(zf.namelist()) == sorted(f"{dept}/{f}" for f in files)
            for f in files:   # the zip holds the very workbooks in the folder
                assert zf.read(f"{dept}/{f}") == (out / dept / f).read_bytes()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {e["file"] for e in manifest["files"]} == {f"{d}/{f}" for d, fs in SAMPLE_FILES.items() for f in fs}
    assert [p for p in out.rglob(".~*")] == []


def test_generate_blank_for_a_year_with_a_password(tmp_path):
    result = run("generate", "--blank", "--form", "national-2020", "--out", tmp_path, "--year", 2024,
                 "--password", "yl2024")
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("*.xlsx")
    assert path.name == "项目支出绩效自评表_空白表.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    assert ws["A2"].value == "（2024年度）"                       # the year is a parameter
    assert {p.name: p.value for p in wb.custom_doc_props.props}["xlform.year"] == "2024"
    assert ws.protection.sheet and ws.protection.password          # a hash of it, not empty
    for ref in ("B4", "F4", "B5", "F5", "E7"):    # 项目名称, 编码, 主管部门, 实施单位, 全年预算数
        assert ws[ref].protection.locked is False, ref
    assert [ws[f"C{r}"].value for r in (14, 16)] == ["数量指标", "质量指标"]   # 2 spare rows each


@pytest.mark.parametrize("args,words", [
    (["generate", "--form", "guangxi-2022", "--projects", SAMPLE_PROJECTS], "找不到表单 “guangxi-2022”。可用的表单：national-2020、yulin-2021"),
    (["generate", "--projects", "不存在的清单.xlsx"], "找不到项目清单文件：不存在的清单.xlsx"),
    (["generate"], "请用 --projects 指定项目清单（.xlsx 或 .csv），或用 --blank 生成空白表"),
    (["generate", "--blank"], "生成空白表需要用 --form 指定表单"),
    (["generate", "--blank", "--form", "guangxi-2022"], "找不到表单 “guangxi-2022”"),
    (["generate", "--blank", "--form", "yulin-2021", "--templates", "没有这个目录"], "表单定义目录不存在：没有这个目录"),
])
def test_bad_arguments_exit_2_with_a_chinese_message(tmp_path, args, words):
    out = tmp_path / "下发"
    assert_refused(run(*args, "--out", out), words)
    assert not out.exists()


# ---------------------------------------------------------------- safe file names

def test_safe_filename_replaces_windows_reserved_characters():
    assert safe_filename("办公室/财务科", "A\\1", "项目:名*称?\"<版本>|") == "办公室－财务科_A－1_项目－名－称－版本－"
    assert safe_filename("部门", "001", "制度 \t 建设") == "部门_001_制度 － 建设"   # control characters too


def test_safe_filename_bounds_the_length_and_avoids_reserved_names():
    long_name = "关于" + "农村公路安全生命防护工程" * 12 + "的专项资金项目"
    name = safe_filename("玉林市交通运输局", "450900210380100001001", long_name)
    assert len(name) == 120
    assert name.startswith("玉林市交通运输局_450900210380100001001_关于农村公路")
    assert safe_filename("部门", "", "项目名称. ") == "部门_项目名称"   # Windows drops trailing dots
    assert safe_filename("CON") == "_CON" and safe_filename("nul.项目") == "_nul.项目"
    assert safe_filename("", "", "") == "未命名"


# ---------------------------------------------------------------- inspect

@pytest.fixture(scope="module")
def seed_inspection(sample_set):
    result = run("inspect", "--json", sample_set.by_code[SEED_CODE])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


FIELD_KEYS = {"name", "sheet", "cell", "role", "label", "input", "value", "indicator"}


def test_inspect_json_shape(seed_inspection):
    data = seed_inspection
    assert {"form", "project_code", "fields"} <= set(data)
    assert data["form"] == {"id": "yulin-2021", "version": "2021.1"}
    assert data["project_code"] == SEED_CODE
    assert all(set(f) == FIELD_KEYS for f in data["fields"])
    by_name = {f["name"]: f for f in data["fields"]}
    assert by_name["xf_project_code"] == {
        "name": "xf_project_code", "sheet": "自评表", "cell": "G4", "role": "identity", "label": "项目编码",
        "input": False, "value": SEED_CODE, "indicator": None}
    assert by_name["xf_ind_003_actual"] == {
        "name": "xf_ind_003_actual", "sheet": "自评表", "cell": "F20", "role": "indicator_actual",
        "label": "采购正版软件·实际完成值", "input": True, "value": None, "indicator": 3}
    assert by_name["xf_fund_total"]["value"] == 91.56


def test_inspect_roles_and_indicator_numbering_yulin(seed_inspection):
    fields = seed_inspection["fields"]
    roles = {f["role"] for f in fields}
    assert {"indicator_target", "indicator_actual", "indicator_reason", "group_score"} <= roles
    assert not {"indicator_score", "indicator_points"} & roles
    targets = sorted((f for f in fields if f["role"] == "indicator_target"), key=lambda f: int(f["cell"][1:]))
    assert [f["indicator"] for f in targets] == list(range(1, 27))   # from 1, in form order
    assert [f["value"] for f in targets[:3]] == ["一项", "三项", "35套"]
    assert targets[-1]["value"] == "≥90%" and targets[-1]["cell"] == "E43"
    groups = [f for f in fields if f["role"] == "group_score"]
    assert [f["cell"] for f in groups] == ["H18", "H24", "H30", "H33", "H39", "H40", "H41", "H42", "H43"]
    assert [f["label"] for f in groups][:2] == ["产出数量得分", "产出质量得分"]
    assert all(f["indicator"] is None and f["input"] is False for f in groups)


def test_inspect_roles_national(sample_set):
    result = run("inspect", "--json", sample_set.by_code[NATIONAL_CODE])
    data = json.loads(result.output)
    assert data["form"] == {"id": "national-2020", "version": "2020.1"}
    fields = data["fields"]
    roles = {f["role"] for f in fields}
    assert {"indicator_score", "indicator_points", "indicator_target"} <= roles and "group_score" not in roles
    points = [(f["indicator"], f["value"]) for f in fields if f["role"] == "indicator_points"]
    # 7 indicators + 2 无 rows (经济效益指标, 生态效益指标 have none in this project)
    assert points == [(1, 15), (2, 15), (3, 10), (4, 10), (5, None), (6, 15), (7, None), (8, 15), (9, 10)]
    scores = [f["cell"] for f in fields if f["role"] == "indicator_score"]
    assert scores == [f"H{r}" for r in range(14, 23)]


def test_inspect_refuses_what_is_not_an_xlform_workbook(tmp_path):
    assert_refused(run("inspect", SAMPLE_PROJECTS), "projects.xlsx 不是 xlform 生成的工作簿")
    assert_refused(run("inspect", tmp_path / "没有.xlsx"), "找不到文件")
    (tmp_path / "报告.xlsx").write_text("这不是工作簿", encoding="utf-8")
    assert_refused(run("inspect", tmp_path / "报告.xlsx"), "不是 Excel 工作簿（.xlsx）")


# ---------------------------------------------------------------- a third layout: only a new spec file

def _docs_block(marker: str) -> str:
    """The fenced block between <!-- marker:start --> and <!-- marker:end --> in docs/form-spec.md."""
    text = (REPO / "docs" / "form-spec.md").read_text(encoding="utf-8")
    body = text.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    return body.strip().split("\n", 1)[1].rsplit("```", 1)[0]


@pytest.fixture
def provincial(tmp_path):
    """The worked example of docs/form-spec.md: a spec file and a CSV project list, nothing else."""
    templates = tmp_path / "templates"
    templates.mkdir()
    shutil.copy(REPO / "templates" / "_common.yaml", templates)
    (templates / "hubei-example.yaml").write_text(_docs_block("provincial-example"), encoding="utf-8")
    projects = tmp_path / "项目清单.csv"
    projects.write_text(_docs_block("provincial-list"), encoding="gbk")   # as Excel in China saves it
    return templates, projects


def test_a_third_layout_needs_only_a_new_spec_file(tmp_path, provincial):
    templates, projects = provincial
    listed = json.loads(run("forms", "--json", "--templates", templates).output)
    assert {"id": "hubei-example", "title": "2023年度项目支出绩效自评表", "version": "2023.1"} in listed

    out = tmp_path / "下发"
    result = run("generate", "--templates", templates, "--form", "hubei-example", "--projects", projects, "--out", out)
    assert result.exit_code == 0, result.output
    path = out / "某市交通运输局_420100230410100001001_农村公路养护工程.xlsx"
    assert path.is_file()

    wb = openpyxl.load_workbook(path)
    ws = wb["自评表"]
    assert ws.protection.sheet
    assert ws["A1"].value == "2023年度项目支出绩效自评表"
    assert ws["A4"].value == "预算执行（20分）" and ws["B5"].value == 120.5
    assert [ws.cell(8, c).value for c in range(2, 9)] == [
        "一级指标", "二级指标", "三级指标", "指标值", "实际完成值", "得分", "偏差原因分析及改进措施"]
    # 数量 2 rows, 质量 1, 时效/成本/社会效益/可持续影响 无, 满意度 1: rows 9..16
    assert [ws[f"D{r}"].value for r in range(9, 17)] == [
        "养护农村公路里程", "修复危桥", "路况优良率", "无", "无", "无", "无", "沿线群众满意度"]
    assert [ws[f"E{r}"].value for r in (9, 10, 11, 16)] == ["≥120公里", "3座", "≥85%", "≥90%"]
    merges = {str(r) for r in ws.merged_cells.ranges}
    assert {"A8:A16", "B9:B13", "B14:B15", "C9:C10", "A4:A5"} <= merges
    assert ws["B9"].value == "产出指标\n(40分)" and ws["A17"].value == "自评得分（满分100分）"
    assert ws.print_title_rows == "$8:$8"

    unlocked = {c.coordinate for row in ws.iter_rows() for c in row if not c.protection.locked}
    covered = {f"{col}7" for col in "FGH"}   # E7:H7 is one merged input
    assert unlocked - covered == {"D5", "E7", "E17"} | {f"{c}{r}" for r in (9, 10, 11, 16) for c in "FH"}

    info = json.loads(run("inspect", "--json", path).output)
    assert info["form"] == {"id": "hubei-example", "version": "2023.1"}
    by_name = {f["name"]: f for f in info["fields"]}
    assert by_name["xf_ind_002_score"]["cell"] == "G10" and by_name["xf_ind_002_score"]["role"] == "indicator_score"
    assert by_name["xf_executed_total"]["input"] is True and by_name["xf_budget_total"]["input"] is False
    assert not [f for f in info["fields"] if f["role"] == "group_score"]


def test_a_mistake_in_the_new_spec_is_refused_by_name(tmp_path, provincial):
    templates, projects = provincial
    spec = templates / "hubei-example.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("{name: 时效指标, points: 5}",
                                                             "{name: 时效指标, points: 10}"), encoding="utf-8")
    result = run("generate", "--templates", templates, "--form", "hubei-example", "--projects", projects,
                 "--out", tmp_path / "下发")
    assert_refused(result, "表单定义文件 hubei-example.yaml 的 indicators.groups[0].children："
                           "二级指标分值合计 45 分，与一级指标“产出指标”的 40 分不符")
    assert not (tmp_path / "下发").exists()


@pytest.mark.parametrize("argv, words", [
    (["validate"], ["用法错误", "缺少参数"]),
    (["generate", "--projects", "x.csv"], ["用法错误", "缺少选项 --out"]),
    (["generate", "--out", "d", "--year", "abc"], ["用法错误", "--year 的值无效"]),
    (["frobnicate"], ["用法错误", "没有这个命令"]),
])
def test_usage_errors_are_chinese_with_exit_2(argv, words, monkeypatch, capsys):
    from xlform.cli import run
    monkeypatch.setattr("sys.argv", ["xlform", *argv])
    with pytest.raises(SystemExit) as exc:
        run()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err
    assert "Traceback" not in err


def test_a_project_code_typed_as_a_number_is_refused(tmp_path):
    import xlsxwriter
    path = tmp_path / "清单.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("项目清单")
    ws.write_row(0, 0, ["项目编码", "项目名称", "主管部门", "项目实施单位", "资金总额", "一级指标", "二级指标", "指标内容", "指标值"])
    ws.write_row(1, 0, [450900210340100004007, "项目", "部门", "单位", 1, "产出指标", "产出数量", "设备", "1项"])
    wb.close()
    result = CliRunner().invoke(main, ["generate", "--form", "yulin-2021", "--projects", str(path),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "第2行A（项目编码）列" in result.output and "15 位有效数字" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
