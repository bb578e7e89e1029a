"""Shared fixtures for the generator tests: the sample set generated once, spec and list builders,
and small readers that look at a generated .xlsx the way Excel would (through openpyxl)."""
from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
import yaml
from openpyxl.utils import get_column_letter, range_boundaries

from xlform.generate import generate

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
SAMPLE_PROJECTS = REPO / "sample_workbooks" / "projects.xlsx"

SEED_CODE = "450900210340100004007"          # the Yulin seed project (forms.md §1)
NATIONAL_CODE = "450900220370200002002"      # national form, with 定性 rows and empty groups
NATIONAL_FULL_CODE = "450900220370100001001"  # national form, every group filled

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
CJK = re.compile(r"[\u4e00-\u9fff]")


# ---------------------------------------------------------------- reading a generated workbook

def merged_top_left(ws) -> dict[str, str]:
    """Every cell inside a merged range that is not its top-left cell -> the range."""
    hidden = {}
    for rng in ws.merged_cells.ranges:
        min_col, min_row, max_col, max_row = range_boundaries(str(rng))
        for r in range(min_row, max_row + 1):
            for c in range(min_col, max_col + 1):
                if (r, c) != (min_row, min_col):
                    hidden[f"{get_column_letter(c)}{r}"] = str(rng)
    return hidden


def unlocked_cells(ws) -> set[str]:
    """Unlocked cells, a merged range counted once at its top-left cell."""
    covered = merged_top_left(ws)
    return {c.coordinate for row in ws.iter_rows() for c in row
            if not c.protection.locked and c.coordinate not in covered}


def locked_values(ws) -> dict[str, object]:
    """Every non-empty locked cell by A1 reference: what the manifest fingerprints."""
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row
            if c.protection.locked and c.value not in (None, "")}


def texts(ws) -> list[str]:
    return [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def validation_at(ws, ref: str):
    """The data validation covering `ref`, or None."""
    for dv in ws.data_validations.dataValidation:
        if ref in dv.sqref:
            return dv
    return None


def names_to_cells(wb) -> dict[str, str]:
    """Workbook defined name -> 'Sheet!A1' (first cell of the destination)."""
    out = {}
    for name, dn in wb.defined_names.items():
        dest = next(iter(dn.destinations), None)
        if dest:
            out[name] = f"{dest[0]}!{dest[1].replace('$', '').split(':')[0]}"
    return out


def column_widths(ws) -> dict[str, float]:
    """Width per column letter (openpyxl groups equal neighbouring columns into one entry)."""
    out = {}
    for dim in ws.column_dimensions.values():
        if dim.width and dim.min and dim.max:
            for c in range(dim.min, dim.max + 1):
                out[get_column_letter(c)] = dim.width
    return out


def meta_sheet(wb) -> dict[str, str]:
    ws = wb["_xlform"]
    return {str(r[0]): str(r[1]) for r in ws.iter_rows(min_row=2, max_col=2, values_only=True) if r[0]}


def custom_props(wb) -> dict[str, str]:
    return {p.name: str(p.value) for p in wb.custom_doc_props.props}


@pytest.fixture(scope="session")
def xlsx():
    """The readers above, for tests (fixtures keep them out of test-module imports)."""
    return SimpleNamespace(unlocked_cells=unlocked_cells, locked_values=locked_values, texts=texts,
                           validation_at=validation_at, names_to_cells=names_to_cells,
                           column_widths=column_widths, meta_sheet=meta_sheet, custom_props=custom_props,
                           merged_top_left=merged_top_left, has_cjk=lambda s: bool(s and CJK.search(s)))


# ---------------------------------------------------------------- the sample set, generated once

@pytest.fixture(scope="session")
def sample_set(tmp_path_factory):
    """sample_workbooks/projects.xlsx generated with the bundled specs, once per test session."""
    out = tmp_path_factory.mktemp("sample_set")
    result = generate(SAMPLE_PROJECTS, out)
    manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
    by_code = {e["project_code"]: out / e["file"] for e in manifest["files"]}
    cache: dict[str, openpyxl.Workbook] = {}

    def workbook(code: str) -> openpyxl.Workbook:
        """The generated workbook of a project, opened once (read-only: do not modify in tests)."""
        if code not in cache:
            cache[code] = openpyxl.load_workbook(by_code[code])
        return cache[code]

    return SimpleNamespace(out=out, result=result, manifest=manifest, by_code=by_code, workbook=workbook,
                           entries={e["project_code"]: e for e in manifest["files"]})


@pytest.fixture(scope="session")
def seed_wb(sample_set):
    """The seed project's workbook (read-only: do not modify in tests)."""
    return sample_set.workbook(SEED_CODE)


@pytest.fixture(scope="session")
def national_wb(sample_set):
    return sample_set.workbook(NATIONAL_CODE)


@pytest.fixture(scope="session")
def blank_set(tmp_path_factory):
    """A blank Yulin and a blank national form."""
    out = {}
    for form in ("yulin-2021", "national-2020"):
        d = tmp_path_factory.mktemp(f"blank_{form}")
        result = generate(None, d, form=form, blank=True)
        out[form] = SimpleNamespace(dir=d, path=result.files[0], wb=openpyxl.load_workbook(result.files[0]),
                                    manifest=json.loads(result.manifest_path.read_text(encoding="utf-8")))
    return out


# ---------------------------------------------------------------- specs in a temp directory

@pytest.fixture
def spec_dir(tmp_path):
    """A templates directory holding a copy of _common.yaml, plus a writer for variant specs."""
    d = tmp_path / "templates"
    d.mkdir()
    shutil.copy(TEMPLATES / "_common.yaml", d / "_common.yaml")

    def write(data: dict, name: str = "variant.yaml") -> Path:
        p = d / name
        p.write_text(yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return p

    return SimpleNamespace(dir=d, write=write)


@pytest.fixture
def yulin_data():
    """The Yulin spec as a plain mapping (still `include: _common.yaml`), free to modify."""
    with open(TEMPLATES / "yulin-2021.yaml", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_LOADER)


# ---------------------------------------------------------------- project lists in a temp directory

LIST_HEAD = ["表单", "主管部门", "项目实施单位", "项目编码", "项目名称", "资金总额", "全年预算数",
             "一级指标", "二级指标", "指标内容", "指标值", "分值"]


def list_rows() -> list[list]:
    """A small valid list: one Yulin project (rows 2-3), one national project (rows 4-6)."""
    return [
        ["yulin-2021", "玉林市教育局", "玉林市第一中学", "450900210350200001003", "普通高中教学设备更新改造项目",
         356.8, "", "产出指标", "产出数量", "更新实验室", "6间", ""],
        ["yulin-2021", "", "", "450900210350200001003", "", "", "", "产出指标", "产出质量", "设备验收合格率",
         "100%", ""],
        ["national-2020", "玉林市农业农村局", "玉林市农业技术推广站", "450900220370100001001", "高标准农田建设项目",
         "", 2350, "产出指标", "数量指标", "新建高标准农田面积", "≥2.5万亩", 50],
        ["national-2020", "", "", "450900220370100001001", "", "", "", "效益指标", "社会效益指标", "受益农户",
         "≥8000户", 30],
        ["national-2020", "", "", "450900220370100001001", "", "", "", "满意度指标", "服务对象满意度指标",
         "项目区农户满意度", "≥90%", 10],
    ]


@pytest.fixture
def project_list(tmp_path):
    """write(rows, head=LIST_HEAD, fmt='xlsx'|'csv', encoding='utf-8') -> path of a project list."""
    counter = iter(range(1000))

    def write(rows=None, head=None, fmt="xlsx", encoding="utf-8", sheet="项目清单") -> Path:
        rows = list_rows() if rows is None else rows
        head = LIST_HEAD if head is None else head
        p = tmp_path / f"项目清单{next(counter)}.{fmt}"
        if fmt == "xlsx":
            wb = openpyxl.Workbook()
            ws = wb.active
            ws.title = sheet
            ws.append(head)
            for r in rows:
                ws.append([None if v == "" else v for v in r])
            wb.save(p)
        else:
            with open(p, "w", encoding=encoding, newline="") as fh:
                w = csv.writer(fh)
                w.writerow(head)
                w.writerows(rows)
        return p

    return SimpleNamespace(write=write, rows=list_rows, head=LIST_HEAD)
