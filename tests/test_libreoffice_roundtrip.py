"""Workbooks filled in LibreOffice Calc, the way a department without Excel would: they keep their
protection, inputs, validations, names and metadata, and the validator reads them like Excel's.

Four soffice jobs in all (about 3–4 s each), run two at a time once for the module:
  A  a generated template, a few values typed in                         → xlform inspect
  B  the seed's own values typed in                                       → same score, same findings
  C  the seed's values, values pasted past the cells' validation (XF305), then protection
     removed and a target changed (XF201 + XF202)
  D  the template saved as .ods                                           → XF006
"""
from __future__ import annotations

import datetime as dt
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xlform.cli import main
from xlform.inspect import inspect_workbook
from xlform.validate import validate
from tests.support.libreoffice import libreoffice_marks, lo_edit
from tests.support.samples import CLEAN_CODE, SEED_CODE, has_cjk, issued, seed_returned, tools

pytestmark = libreoffice_marks

SHEET = "自评表"


def typed(value) -> str:
    """What a person types for a value of the seed."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if value == 1.0:
        return "100%"
    return str(value)


def seed_edits() -> list[dict]:
    s = tools().samples
    edits = [{"name": f"xf_{k}", "value": typed(v), "how": "type"} for k, v in s.SEED_FIELDS.items()]
    for n, (actual, reason) in enumerate(s.SEED_ACTUALS, start=1):
        if actual:
            edits.append({"name": f"xf_ind_{n:03d}_actual", "value": actual, "how": "type"})
        if reason:
            edits.append({"name": f"xf_ind_{n:03d}_reason", "value": reason, "how": "type"})
    return edits


A_EDITS = [
    {"name": "xf_ind_001_actual", "value": "一项", "how": "type"},
    {"name": "xf_execution_rate", "value": "95%", "how": "type"},
    {"name": "xf_start_date", "value": "2021-01-01", "how": "type"},
    {"name": "xf_fund_central", "value": "80.5", "how": "type"},
]
C_EDITS = [
    {"name": "xf_execution_rate", "value": "很多", "how": "paste"},     # text into a percent cell
    {"name": "xf_fund_central", "value": -5, "how": "paste"},           # a negative amount
    {"name": "xf_fund_region", "value": "-5", "how": "paste"},          # the text "-5": a number stored as text, read as -5 and out of range
    {"name": "xf_ind_003_target", "value": "≥30套", "how": "type"},     # locked: needs unprotect
]


@pytest.fixture(scope="module")
def lo(tmp_path_factory):
    """Run the LibreOffice jobs (two at a time); their outputs and reports by letter."""
    out = tmp_path_factory.mktemp("lo")
    seed_t, clean_t = issued().files[SEED_CODE], issued().files[CLEAN_CODE]
    jobs = {
        "A": (clean_t, out / "A.xlsx", A_EDITS, {}),
        "B": (seed_t, out / "B.xlsx", seed_edits(), {}),
        "C": (seed_t, out / "C.xlsx", seed_edits() + C_EDITS, {"unprotect": True}),
        "D": (seed_t, out / "D.ods", seed_edits()[:3], {"fmt": "ods"}),
    }
    with ThreadPoolExecutor(max_workers=2) as ex:
        futures = {k: ex.submit(lo_edit, src, dst, edits, **kw) for k, (src, dst, edits, kw) in jobs.items()}
        reports = {k: f.result() for k, f in futures.items()}
    return {k: (jobs[k][1], reports[k]) for k in jobs}


def check(path: Path):
    [r] = validate([path], issued().manifest_path, jobs=1).files
    return r


def keyed(findings):
    return sorted((f.code, f.severity, f.sheet, f.cell, f.field, f.message) for f in findings)


# ---------------------------------------------------------------- A: the generator's promises survive Calc

class TestGeneratorRoundTrip:
    @pytest.fixture(scope="class")
    @classmethod
    def info(cls, lo):
        path, report = lo["A"]
        assert all(e["applied"] for e in report["edits"]), report["edits"]
        return inspect_workbook(path), inspect_workbook(issued().files[CLEAN_CODE])

    def test_typed_values(self, lo, info):
        after, _ = info
        value = {f["name"]: f["value"] for f in after["fields"]}
        assert value["xf_ind_001_actual"] == "一项"
        assert value["xf_execution_rate"] == pytest.approx(0.95)
        assert value["xf_start_date"] == "2021-01-01"
        assert value["xf_fund_central"] == pytest.approx(80.5)

    def test_cli_inspect_json_shows_them(self, lo):
        path, _ = lo["A"]
        r = CliRunner().invoke(main, ["inspect", str(path), "--json"])
        assert r.exit_code == 0, r.output
        data = json.loads(r.stdout)
        value = {f["name"]: f["value"] for f in data["fields"]}
        assert value["xf_ind_001_actual"] == "一项" and value["xf_execution_rate"] == pytest.approx(0.95)
        assert data["protected"] is True and data["missing_names"] == []
        assert data["project_code"] == CLEAN_CODE
        assert data["form"] == {"id": "yulin-2021", "version": "2021.1"}

    def test_protection_stays_on(self, info):
        after, before = info
        assert after["protected"] is True
        assert after["sheets"][SHEET]["protected"] is True

    def test_every_input_still_unlocked_with_its_validation(self, info):
        after, before = info
        got = {f["name"]: f for f in after["fields"]}
        inputs = [f for f in before["fields"] if f["input"]]
        assert len(inputs) > 30
        for f in inputs:
            g = got[f["name"]]
            assert g["cell"] == f["cell"] and g["input"] is True, f["name"]
            v, w = f["validation"], g["validation"]
            assert w is not None, f["name"]
            for key in ("type", "formula1", "prompt", "error"):
                assert w[key] == v[key], (f["name"], key)
            if v["type"] != "list":      # Calc spells out the default operator (between) that Excel omits
                assert (w["operator"] or "between") == (v["operator"] or "between"), f["name"]
            if (v["operator"] or "between") == "between" and v["type"] != "list":
                assert w["formula2"] == v["formula2"], f["name"]
        locked = [f for f in before["fields"] if not f["input"]]
        assert all(got[f["name"]]["input"] is False for f in locked)

    def test_defined_names_and_metadata(self, info):
        after, before = info
        assert after["missing_names"] == []
        assert {f["name"] for f in after["fields"]} == {f["name"] for f in before["fields"]}
        assert after["defined_names"] >= before["defined_names"]
        for key in ("form", "project_code", "year", "fingerprint"):
            assert after[key] == before[key], key
        assert {k: v for k, v in after["properties"].items() if k.startswith("xlform.")} == \
               {k: v for k, v in before["properties"].items() if k.startswith("xlform.")}
        # lessons.md: Calc keeps the metadata sheet (contents and protection) but turns veryHidden into hidden
        assert before["sheets"]["_xlform"] == {"protected": True, "state": "veryHidden"}
        assert after["sheets"]["_xlform"] == {"protected": True, "state": "hidden"}

    def test_validates_without_integrity_findings(self, lo):
        path, _ = lo["A"]
        r = check(path)
        assert r.score is not None and r.project_code == CLEAN_CODE
        assert not {f.code for f in r.findings} & {"XF101", "XF106", "XF107", "XF201", "XF202", "XF203", "XF305"}
        assert r.score["execution_rate"] == pytest.approx(0.95)


# ---------------------------------------------------------------- B, C: the validation loop

def test_seed_typed_in_calc_scores_and_finds_the_same(lo):
    path, report = lo["B"]
    assert all(e["applied"] for e in report["edits"])
    ours, theirs = check(path), check(seed_returned())       # Calc vs the xlsxwriter-filled seed
    assert f"{ours.score['total']:.2f}" == "83.19" and ours.score["grade"] == "良"
    assert ours.score == theirs.score and ours.self_score == theirs.self_score == 88.33
    assert keyed(ours.findings) == keyed(theirs.findings)


def test_metadata_of_a_calc_saved_file_is_read_without_parsing_its_sheet(lo, monkeypatch):
    """Calc stores the title, which the metadata sheet shares, as runs of two fonts; the metadata is
    still read from the XML (calamine parsing the hidden sheet's catalogue doubled a check's read),
    and is what calamine reads."""
    from xlform import read
    path, _ = lo["B"]
    shared = zipfile.ZipFile(path).read("xl/sharedStrings.xml")
    title = [si for si in shared.split(b"<si>") if "绩效自评表".encode() in si]
    assert title and all(si.startswith(b"<r><rPr>") and si.count(b"<r>") >= 2 for si in title)   # Calc's runs
    calls = []
    monkeypatch.setattr(read, "_read_meta", lambda *a: calls.append(a) or {})
    meta = read.read_workbook(path).meta
    assert not calls and meta["project_code"] == SEED_CODE and meta["title"].endswith("绩效自评表")
    monkeypatch.undo()
    assert meta == read._read_meta(read.open_calamine(path), "_xlform")


def test_values_pasted_past_validation_are_caught(lo):
    path, report = lo["C"]
    pasted = [e for e in report["edits"] if e["how"] == "paste"]
    assert [(e["applied"], e["result"]["type"]) for e in pasted] == [(True, "TEXT"), (True, "VALUE"), (True, "TEXT")]
    r = check(path)
    hits = {f.cell: f for f in r.findings if f.code == "XF305"}
    assert set(hits) == {"E16", "F8", "F9"}, r.findings
    assert "很多" in hits["E16"].message and "百分比" in hits["E16"].message
    assert "-5" in hits["F8"].message and "超出允许范围" in hits["F8"].message
    assert "-5" in hits["F9"].message and "超出允许范围" in hits["F9"].message
    assert r.score["execution_score"] == 0.0                # an unreadable rate earns nothing
    assert not r.valid


def test_target_changed_after_unprotecting_is_tampering(lo):
    path, report = lo["C"]
    assert report["unprotected_sheets"] == [SHEET]
    # what really happens: Calc saves the sheet without protection once it was removed
    assert openpyxl.load_workbook(path)[SHEET].protection.sheet is False
    r = check(path)
    tamper = [f for f in r.findings if f.code == "XF201"]
    assert [(f.cell, f.field) for f in tamper] == [("E20", "xf_ind_003_target")]
    assert "下发值“35套”" in tamper[0].message and "报送值“≥30套”" in tamper[0].message
    assert [f.sheet for f in r.findings if f.code == "XF202"] == [SHEET]
    # the issued target is what counts: the score is the seed's but for the unreadable execution rate
    assert f"{r.score['total']:.2f}" == "73.19"


def test_ods_needs_xlsx(lo):
    path, _ = lo["D"]
    assert path.suffix == ".ods"
    r = check(path)
    assert [f.code for f in r.findings] == ["XF006"] and r.score is None and not r.valid
    assert ".xlsx" in r.findings[0].message and has_cjk(r.findings[0].message)
