"""The project list: read from .xlsx and .csv (UTF-8 or GBK), and every mistake reported with its
sheet, row and column before a single workbook is written."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xlform.cli import main
from xlform.errors import XlformError
from xlform.generate import generate
from xlform.projects import ProjectListError, read_projects
from xlform.spec import available_forms

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
YULIN_CODE, NATIONAL_CODE = "450900210350200001003", "450900220370100001001"


@pytest.fixture(scope="module")
def forms():
    return available_forms([TEMPLATES])


def _summary(projects):
    return {p.code: (p.form_id, p.fields, [(i.level1, i.level2, i.name, i.target, i.points) for i in p.indicators])
            for p in projects}


EXPECTED = {
    YULIN_CODE: ("yulin-2021",
                 {"project_name": "普通高中教学设备更新改造项目", "project_code": YULIN_CODE,
                  "unit": "玉林市第一中学", "department": "玉林市教育局", "fund_total": 356.8},
                 [("产出指标", "产出数量", "更新实验室", "6间", None),
                  ("产出指标", "产出质量", "设备验收合格率", "100%", None)]),
    NATIONAL_CODE: ("national-2020",
                    {"project_name": "高标准农田建设项目", "project_code": NATIONAL_CODE,
                     "unit": "玉林市农业技术推广站", "department": "玉林市农业农村局", "budget_total": 2350.0},
                    [("产出指标", "数量指标", "新建高标准农田面积", "≥2.5万亩", 50.0),
                     ("效益指标", "社会效益指标", "受益农户", "≥8000户", 30.0),
                     ("满意度指标", "服务对象满意度指标", "项目区农户满意度", "≥90%", 10.0)]),
}


@pytest.mark.parametrize("fmt,encoding", [("xlsx", None), ("csv", "utf-8"), ("csv", "utf-8-sig"), ("csv", "gbk")])
def test_list_reads_the_same_from_xlsx_and_csv(project_list, forms, fmt, encoding):
    path = project_list.write(fmt=fmt, encoding=encoding or "utf-8")
    if encoding == "gbk":   # what Excel in China writes for "CSV (逗号分隔)"
        assert path.read_bytes().startswith("表单".encode("gbk"))
    assert _summary(read_projects(path, forms, None)) == EXPECTED


def test_project_columns_may_be_written_only_on_the_first_row(project_list, forms):
    """The sample list writes 主管部门/项目名称/资金总额 only on a project's first row."""
    projects = {p.code: p for p in read_projects(project_list.write(), forms, None)}
    assert projects[YULIN_CODE].source_row == 2 and projects[NATIONAL_CODE].source_row == 4
    assert projects[YULIN_CODE].department == "玉林市教育局"


def _repeated(rows):
    """The rows with each project's own columns (B:G) written again on every one of its rows."""
    first = {}
    for r in rows:
        first.setdefault(r[3], r[1:7])
        r[1:7] = list(first[r[3]])
    return rows


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_project_columns_may_be_repeated_on_every_row(project_list, forms, fmt):
    rows = _repeated(project_list.rows())
    rows.insert(1, [""] * len(project_list.head))      # a blank row inside a project changes nothing
    assert _summary(read_projects(project_list.write(rows, fmt=fmt), forms, None)) == EXPECTED


def test_a_repeated_project_cell_is_checked_on_every_row(project_list, forms):
    """1 on one row and TRUE on the next are equal in Python, but only the first is an amount."""
    rows = _repeated(project_list.rows())
    rows[0][5], rows[1][5] = 1, True
    with pytest.raises(ProjectListError) as exc:
        read_projects(project_list.write(rows), forms, None)
    assert [str(p) for p in exc.value.problems] == [
        "工作表“项目清单”第3行F（资金总额）列：“True”不是数字（金额，单位万元）"]


def test_list_sheet_is_found_by_name(tmp_path, project_list, forms):
    wb = openpyxl.Workbook()
    wb.active.title = "填表说明"
    wb.active["A1"] = "本表每行一个指标"
    ws = wb.create_sheet("项目清单")
    ws.append(project_list.head)
    for r in project_list.rows():
        ws.append([None if v == "" else v for v in r])
    wb.save(tmp_path / "list.xlsx")
    assert _summary(read_projects(tmp_path / "list.xlsx", forms, None)) == EXPECTED


def test_default_form_applies_when_there_is_no_form_column(project_list, forms):
    rows = [r[1:] for r in project_list.rows()[:2]]
    path = project_list.write(rows, head=project_list.head[1:], fmt="csv")
    (project,) = read_projects(path, forms, "yulin-2021")
    assert project.form_id == "yulin-2021" and len(project.indicators) == 2


# ---------------------------------------------------------------- every mistake, with where it is

def _edit(*changes):
    """Set (row index, column index, value) in the base rows (row index 0 is list row 2)."""
    def apply(rows):
        for r, c, v in changes:
            rows[r][c] = v
        return rows
    return apply


GROUPS = ("产出指标：产出数量、产出质量、产出时效、产出成本；效果指标：经济效益、社会效益、生态效益、可持续影响；"
          "社会公众或服务对象满意度：具体指标")

LIST_ERRORS = [
    # (id, change to the rows, columns to drop, the one problem expected, without the sheet part)
    ("missing code", _edit((1, 3, "")), None, "第3行D（项目编码）列：项目编码为空"),
    ("duplicate code with another name", _edit((1, 4, "普通高中教学设备采购项目")), None,
     f"第3行D（项目编码）列：项目编码 {YULIN_CODE} 重复：第2行是“普通高中教学设备更新改造项目”，本行是“普通高中教学设备采购项目”"),
    ("amount not a number", _edit((0, 5, "三百五十六万")), None,
     "第2行F（资金总额）列：“三百五十六万”不是数字（金额，单位万元）"),
    ("negative amount", _edit((0, 5, -356.8)), None, "第2行F（资金总额）列：金额 -356.8 不能为负数"),
    ("amount not finite", _edit((0, 5, "nan")), None, "第2行F（资金总额）列：“nan”不是数字（金额，单位万元）"),
    ("national points do not add up per 一级指标", _edit((2, 11, 45)), None,
     f"第4行L（分值）列：项目 {NATIONAL_CODE} 的“产出指标”各指标分值合计 45 分，应为 50 分"),
    ("national points not a number", _edit((3, 11, "三十")), None, "第5行L（分值）列：分值“三十”不是数字"),
    ("national indicator without points", _edit((4, 11, "")), None, "第6行L（分值）列：指标“项目区农户满意度”没有分值"),
    ("unknown 二级指标", _edit((1, 8, "产出效率")), None,
     f"第3行I（二级指标）列：指标分组“产出指标 / 产出效率”不在表单 yulin-2021 中；可用的分组：{GROUPS}"),
    ("unknown 一级指标", _edit((1, 7, "产出")), None,
     f"第3行H（一级指标）列：指标分组“产出 / 产出质量”不在表单 yulin-2021 中；可用的分组：{GROUPS}"),
    ("indicator without a target", _edit((1, 10, "")), None, "第3行K（指标值）列：指标“设备验收合格率”没有指标值"),
    ("indicator without a name", _edit((1, 9, "")), None, "第3行J（指标内容）列：指标内容为空"),
    ("missing column 指标值", None, "指标值", "第1行：缺少必需的列“指标值”"),
    ("missing column 资金总额 (Yulin pre-fills it)", None, "资金总额", "第1行：缺少必需的列“资金总额”"),
    ("missing column 分值 (national scores per indicator)", None, "分值", "第1行：缺少必需的列“分值”"),
    ("missing column 项目编码", None, "项目编码", "第1行：缺少必需的列“项目编码”"),
]


def _list_with_error(project_list, change, drop, fmt, encoding="utf-8"):
    rows, head = project_list.rows(), list(project_list.head)
    if change:
        rows = change(rows)
    if drop:
        i = head.index(drop)
        head.pop(i)
        rows = [r[:i] + r[i + 1:] for r in rows]
    return project_list.write(rows, head=head, fmt=fmt, encoding=encoding)


@pytest.mark.parametrize("fmt,encoding", [("xlsx", "utf-8"), ("csv", "gbk")])
@pytest.mark.parametrize("change,drop,expected", [e[1:] for e in LIST_ERRORS], ids=[e[0] for e in LIST_ERRORS])
def test_list_mistake_is_reported_with_row_and_column(project_list, forms, change, drop, expected, fmt, encoding):
    path = _list_with_error(project_list, change, drop, fmt, encoding)
    with pytest.raises(ProjectListError) as exc:
        read_projects(path, forms, None)
    problems = [str(p) for p in exc.value.problems]
    sheet = "工作表“项目清单”" if fmt == "xlsx" else ""   # a CSV has no sheet
    assert problems == [sheet + expected]
    assert str(exc.value).startswith(f"项目清单 {path.name} 有 1 处问题，未生成任何文件：")


def test_all_problems_are_reported_in_one_pass(project_list, forms):
    rows = _edit((1, 3, ""), (0, 5, "约356万"), (4, 8, "满意度"))(project_list.rows())
    with pytest.raises(ProjectListError) as exc:
        read_projects(project_list.write(rows), forms, None)
    assert [(p.row, p.column) for p in exc.value.problems] == [
        (2, "F（资金总额）"), (3, "D（项目编码）"), (6, "I（二级指标）")]   # in list order
    assert str(exc.value).startswith("项目清单 ") and "有 3 处问题" in str(exc.value)


def test_unknown_form_in_the_form_column(project_list, forms):
    rows = _edit((0, 0, "guangxi-2022"), (1, 0, "guangxi-2022"))(project_list.rows())
    with pytest.raises(ProjectListError) as exc:
        read_projects(project_list.write(rows, fmt="csv"), forms, None)
    assert [str(p) for p in exc.value.problems] == [
        "第2行A（表单）列：未知的表单“guangxi-2022”；可用：national-2020、yulin-2021",
        "第3行A（表单）列：未知的表单“guangxi-2022”；可用：national-2020、yulin-2021"]


def test_direction_and_kind_words_are_checked(project_list, forms):
    head = project_list.head + ["指标方向", "指标类型"]
    rows = [r + ["", ""] for r in project_list.rows()]
    rows[1][12] = "越大越好"
    rows[3][13] = "定级"
    with pytest.raises(ProjectListError) as exc:
        read_projects(project_list.write(rows, head=head), forms, None)
    assert [str(p) for p in exc.value.problems] == [
        "工作表“项目清单”第3行M（指标方向）列：指标方向“越大越好”应为 正向、反向 或 等于",
        "工作表“项目清单”第5行N（指标类型）列：指标类型“定级”应为 定量 或 定性"]


def test_no_form_given_anywhere(project_list, forms):
    rows = [r[1:] for r in project_list.rows()]
    with pytest.raises(ProjectListError) as exc:
        read_projects(project_list.write(rows, head=project_list.head[1:]), forms, None)
    assert "未用 --form 指定表单，清单中也没有“表单”列" in str(exc.value)


def test_unreadable_lists(tmp_path, forms):
    (tmp_path / "list.txt").write_text("项目编码\n1\n", encoding="utf-8")
    with pytest.raises(XlformError, match="格式不支持：请使用 .xlsx 或 .csv"):
        read_projects(tmp_path / "list.txt", forms, None)
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ProjectListError, match="文件是空的，第1行应为列标题"):
        read_projects(tmp_path / "empty.csv", forms, None)
    with pytest.raises(XlformError, match="找不到项目清单文件"):
        read_projects(tmp_path / "nosuch.xlsx", forms, None)


# ---------------------------------------------------------------- nothing is written on a bad list

@pytest.mark.parametrize("change,drop,expected", [e[1:] for e in LIST_ERRORS[:6]], ids=[e[0] for e in LIST_ERRORS[:6]])
def test_bad_list_leaves_no_partial_output(tmp_path, project_list, change, drop, expected):
    path = _list_with_error(project_list, change, drop, "xlsx")
    out = tmp_path / "下发"
    with pytest.raises(ProjectListError):
        generate(path, out, templates=[TEMPLATES])
    leftovers = list(out.rglob("*")) if out.exists() else []
    assert [p for p in leftovers if p.suffix in (".xlsx", ".zip") or p.name == "manifest.json"] == []
    assert leftovers == []


def test_bad_list_via_cli_exits_2_with_the_problem(tmp_path, project_list):
    path = _list_with_error(project_list, _edit((2, 11, 45)), None, "csv", "gbk")
    out = tmp_path / "下发"
    result = CliRunner().invoke(main, ["generate", "--projects", str(path), "--out", str(out), "--by-department"])
    assert result.exit_code == 2
    assert f"第4行L（分值）列：项目 {NATIONAL_CODE} 的“产出指标”各指标分值合计 45 分，应为 50 分" in result.output
    assert "未生成任何文件" in result.output and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("name", ["清单.csv", "清单.xlsx"])
def test_a_pipe_given_as_the_list_is_refused_by_name_not_waited_on(tmp_path, forms, name):
    import os
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    pipe = tmp_path / name
    os.mkfifo(pipe)                 # reading it would wait for a writer forever
    with pytest.raises(XlformError, match=f"项目清单 {name}.*不是普通文件"):
        read_projects(pipe, forms, None)


def test_a_list_that_is_not_a_workbook_is_refused_by_name(tmp_path, forms):
    fake = tmp_path / "清单.xlsx"
    fake.write_bytes(b"%PDF-1.4 ...")
    with pytest.raises(XlformError, match="项目清单 清单.xlsx：不是 Excel 工作簿"):
        read_projects(fake, forms, None)


# ------------------------------------------------------------ handed out project by project (ProjectList)

def test_a_project_is_handed_out_once_its_last_row_is_read(project_list, forms):
    """generate --jobs starts a project's workbook while the rest of the list is still being read: a
    project comes out complete (its rows may be spread over the list) and before the list ends."""
    from xlform.projects import ProjectList

    y1, y2, n1, n2, n3 = project_list.rows()
    listing = ProjectList(project_list.write([y1, n1, y2, n2, n3]), forms, None)
    seen = []
    for project in listing.stream():
        others = {p.code: len(p.indicators) for p in listing.projects() if p.code != project.code}
        seen.append((project.code, len(project.indicators), others))
    # Yulin's last row is row 4: it comes out whole while the national project has one indicator so far
    assert seen == [(YULIN_CODE, 2, {NATIONAL_CODE: 1}), (NATIONAL_CODE, 3, {YULIN_CODE: 2})]
    assert listing.count == 2
    assert _summary(listing.projects()) == EXPECTED


def test_nothing_is_handed_out_after_a_problem_and_the_error_lists_every_problem(project_list, forms):
    from xlform.projects import ProjectList

    y1, y2, n1, n2, n3 = project_list.rows()
    bad_group = list(n2)
    bad_group[8] = "不存在的分组"
    no_name = list(y2)
    no_name[9] = ""
    rows = [y1, y2, n1, bad_group, n3]
    listing = ProjectList(project_list.write(rows), forms, None)
    handed = []
    with pytest.raises(ProjectListError) as caught:
        for project in listing.stream():
            handed.append(project.code)
    assert handed == [YULIN_CODE]      # complete at row 3, before the national project's bad row 5
    with pytest.raises(ProjectListError) as whole:
        read_projects(project_list.write(rows), forms, None)
    assert caught.value.problems == whole.value.problems

    # a problem first: nothing at all is handed out, though Yulin's rows are fine
    listing = ProjectList(project_list.write([n1, bad_group, n3, y1, y2]), forms, None)
    handed = []
    with pytest.raises(ProjectListError):
        for project in listing.stream():
            handed.append(project.code)
    assert handed == []
    # a project's own checks (here its points) are made when it is complete, and reported in the
    # order the projects first appear, after the rows' problems, as before
    short = list(n3)
    short[11] = 5
    with pytest.raises(ProjectListError) as caught:
        read_projects(project_list.write([n1, n2, short, y1, no_name]), forms, None)
    lines = str(caught.value).splitlines()[1:]
    assert "第6行" in lines[0] and "指标内容为空" in lines[0]
    assert "第2行" in lines[1] and "满意度指标" in lines[1] and "合计 5 分" in lines[1]
    assert len(lines) == 2
