"""validate: the seed's findings (forms.md §1), the catalogue covered by the samples, the JSON report,
the CLI's exit status, read-only inputs, parallel = serial, tampering, and inputs that skipped
Excel's data validation.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from xlform.cli import main
from xlform.findings import CATALOGUE, ERROR, INFO, WARNING
from xlform.validate import validate
from tests.support.samples import (A1, CLEAN_CODE, NATIONAL_CODE, RETURNED, SEED_CODE, TAMPERED_CODE, fill,
                                   has_cjk, issued, returned, seed_returned, seed_values, sha256_tree)

SHEET = "自评表"


@pytest.fixture(scope="module")
def manifest() -> Path:
    return issued().manifest_path


@pytest.fixture(scope="module")
def batch(manifest, tmp_path_factory):
    """The whole committed sample folder, validated once (serially), with its JSON report."""
    out = tmp_path_factory.mktemp("batch")
    run = validate([RETURNED], manifest, json_path=out / "report.json", jobs=1)
    return run, json.loads((out / "report.json").read_text(encoding="utf-8"))


def report_for(run, path: Path):
    return next(f for f in run.files if Path(f.path).resolve() == path.resolve())


def by_code(findings) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in findings:
        out.setdefault(f.code, []).append(f)
    return out


# ---------------------------------------------------------------- the seed (forms.md §1)

SEED_FINDINGS = {            # code -> cells, for the seed returned alone
    "XF302": ["F43"],        # 满意度 实际完成值 blank
    "XF501": ["F8"],         # 资金来源 blank while 合计 91.56
    "XF304": ["F23"],        # indicator 6: target and actual not comparable
    "XF601": ["C16"],        # self 88.33 vs computed 83.19
    "XF404": ["F40", "F42"],  # two qualitative rows answered in prose (info)
}


class TestSeed:
    def test_findings_in_the_sample_folder(self, batch):
        run, _ = batch
        r = report_for(run, seed_returned())
        got = {code: sorted(f.cell for f in fs) for code, fs in by_code(r.findings).items()}
        assert got == {**SEED_FINDINGS, "XF105": ["G4"]}     # the folder also holds a duplicate
        assert not r.valid

    def test_findings_alone(self, manifest):
        run = validate([seed_returned()], manifest, jobs=1)
        [r] = run.files
        got = {code: sorted(f.cell for f in fs) for code, fs in by_code(r.findings).items()}
        assert got == SEED_FINDINGS                          # no XF105
        assert [f.code for f in r.findings if f.severity == INFO] == ["XF404", "XF404"]
        assert {f.code for f in r.findings if f.severity == ERROR} == {"XF302", "XF501"}
        assert {f.code for f in r.findings if f.severity == WARNING} == {"XF304", "XF601"}

    def test_score(self, batch):
        run, _ = batch
        r = report_for(run, seed_returned())
        assert f"{r.score['total']:.2f}" == "83.19" and r.score["grade"] == "良"
        assert r.self_score == 88.33

    def test_every_finding_is_located_and_explained(self, batch):
        run, _ = batch
        r = report_for(run, seed_returned())
        for f in r.findings:
            assert f.code in CATALOGUE and f.severity == CATALOGUE[f.code].severity
            assert has_cjk(f.message), f
            assert f.sheet == SHEET, f
            assert f.cell and A1.match(f.cell), f
            assert f.field and f.field.startswith("xf_"), f

    def test_messages(self, batch):
        run, _ = batch
        f = by_code(report_for(run, seed_returned()).findings)
        assert "91.56" in f["XF501"][0].message and f["XF501"][0].field == "xf_fund_central"
        assert "88.33" in f["XF601"][0].message and "83.19" in f["XF601"][0].message
        assert f["XF304"][0].field == "xf_ind_006_actual"
        assert "涉及参保职工23419人" in f["XF304"][0].message and "支付25%款项" in f["XF304"][0].message
        assert f["XF302"][0].field == "xf_ind_026_actual" and "≥90%" in f["XF302"][0].message
        dup = f["XF105"][0]
        assert dup.field == "xf_project_code" and SEED_CODE in dup.message and "重复报送" in dup.message

    def test_reasoned_shortfalls_are_fine(self, batch):
        # 35套→20套, 20家→0, 30万元→39万元 all carry a reason: no XF401/XF402
        run, _ = batch
        codes = {f.code for f in report_for(run, seed_returned()).findings}
        assert not codes & {"XF401", "XF402"}


# ---------------------------------------------------------------- the sample set covers the catalogue

def test_every_content_rule_is_triggered_by_a_sample(batch):
    run, _ = batch
    seen = {f.code for r in run.files for f in r.findings}
    content = {c for c in CATALOGUE if 200 <= int(c[2:]) < 700}
    assert content - seen == set(), "rules no sample triggers: extend tools/make_returned_samples.py"


def test_the_clean_samples_are_clean(batch):
    run, _ = batch
    clean = report_for(run, returned(CLEAN_CODE))
    assert clean.findings == [] and clean.valid
    assert clean.score["total"] == pytest.approx(clean.self_score, abs=0.005)
    national = report_for(run, returned(NATIONAL_CODE))
    assert national.valid and {f.severity for f in national.findings} <= {WARNING, INFO}


def test_the_not_a_workbook_sample(batch):
    run, _ = batch
    r = next(f for f in run.files if f.path.endswith("说明材料.xlsx"))
    assert [f.code for f in r.findings] == ["XF002"] and r.score is None and not r.valid
    assert has_cjk(r.findings[0].message)


# ---------------------------------------------------------------- the JSON report

def test_json_report_shape(batch):
    run, data = batch
    assert set(data) >= {"files", "stats", "manifest", "xlform", "generated_at"}
    assert len(data["files"]) == len(list(RETURNED.glob("*.xlsx")))
    for f in data["files"]:
        assert set(f) >= {"path", "project_code", "form", "valid", "score", "self_score", "findings"}
        assert isinstance(f["valid"], bool)
        assert f["valid"] == (not any(x["severity"] == ERROR for x in f["findings"]))
        for x in f["findings"]:
            assert set(x) >= {"code", "severity", "sheet", "cell", "field", "message"}
            assert x["severity"] in (ERROR, WARNING, INFO) and has_cjk(x["message"])
        if f["score"] is not None:
            assert set(f["score"]) >= {"total", "grade", "groups"}
            assert f["form"]["id"] in ("yulin-2021", "national-2020") and f["form"]["version"]
            assert f["project_code"] in issued().entries
    seed = next(f for f in data["files"] if Path(f["path"]).name == seed_returned().name)
    assert seed["project_code"] == SEED_CODE and seed["form"] == {"id": "yulin-2021", "version": "2021.1"}
    assert seed["self_score"] == 88.33 and seed["score"]["grade"] == "良"
    assert seed["score"]["groups"]["产出指标/产出数量"] == pytest.approx(20 / 6 * (4 + 20 / 35), abs=1e-4)
    assert seed["score"]["groups"]["效果指标/社会效益"] == 15.0

    st = data["stats"]
    every = [x for f in data["files"] for x in f["findings"]]
    assert st["files"] == len(data["files"])
    assert st["valid"] == sum(f["valid"] for f in data["files"]) and st["invalid"] == st["files"] - st["valid"]
    assert st["errors"] == sum(x["severity"] == ERROR for x in every)
    assert st["warnings"] == sum(x["severity"] == WARNING for x in every)
    assert st["infos"] == sum(x["severity"] == INFO for x in every)
    scored = [f["score"]["total"] for f in data["files"] if f["score"]]
    assert st["average_score"] == pytest.approx(sum(scored) / len(scored), abs=0.005)
    assert data == json.loads(json.dumps(run.to_dict(), ensure_ascii=False, default=str)) | {
        "generated_at": data["generated_at"]}


# ---------------------------------------------------------------- the CLI

def cli(*args):
    result = CliRunner().invoke(main, list(map(str, args)))
    assert "Traceback" not in result.output
    return result


def test_exit_0_when_no_file_has_an_error(manifest):
    r = cli("validate", returned(CLEAN_CODE), "--manifest", manifest, "--jobs", 1)
    assert r.exit_code == 0, r.output
    assert "通过" in r.output and "99.85" in r.output


def test_exit_1_when_a_file_has_an_error(manifest):
    r = cli("validate", RETURNED, "--manifest", manifest, "--jobs", 1)
    assert r.exit_code == 1, r.output
    assert "未通过" in r.output and "83.19" in r.output


def test_exit_2_for_an_unreadable_manifest(tmp_path):
    bad = tmp_path / "manifest.json"
    bad.write_text("{这不是 JSON", encoding="utf-8")
    r = cli("validate", returned(CLEAN_CODE), "--manifest", bad)
    assert r.exit_code == 2
    assert "错误：" in r.output and "manifest" in r.output and has_cjk(r.output)


def test_exit_2_for_a_missing_manifest(tmp_path):
    r = cli("validate", returned(CLEAN_CODE), "--manifest", tmp_path / "nope.json")
    assert r.exit_code == 2 and "找不到 manifest" in r.output


def test_exit_2_for_a_missing_path(manifest, tmp_path):
    r = cli("validate", tmp_path / "不存在的文件夹", "--manifest", manifest)
    assert r.exit_code == 2 and "找不到文件或文件夹" in r.output


def test_exit_2_for_an_empty_folder(manifest, tmp_path):
    (tmp_path / "empty").mkdir()
    r = cli("validate", tmp_path / "empty", "--manifest", manifest)
    assert r.exit_code == 2 and "没有找到要校验的文件" in r.output


# ---------------------------------------------------------------- read-only, parallel = serial

def test_inputs_are_never_modified(manifest, tmp_path):
    folder = tmp_path / "回收"
    shutil.copytree(RETURNED, folder)
    before = sha256_tree(folder)
    mtimes = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    r = cli("validate", folder, "--manifest", manifest, "--out", tmp_path / "批注", "--json",
            tmp_path / "report.json", "--jobs", 2)
    assert r.exit_code == 1, r.output
    assert sha256_tree(folder) == before
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes
    assert len(list((tmp_path / "批注").glob("*-批注.xlsx"))) == len(before) - 1   # not the text file


def test_jobs_2_gives_the_same_report_as_jobs_1(manifest, batch):
    serial = dict(batch[1])
    parallel = validate([RETURNED], manifest, jobs=2).to_dict()
    for d in (serial, parallel):
        d.pop("generated_at")
    assert json.loads(json.dumps(parallel, ensure_ascii=False, default=str)) == serial



@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("text, says", [("{这不是 JSON", "无法读取或已损坏"),
                                        ('{"manifest_version": 1, "files": [', "无法读取或已损坏"),
                                        ('{"manifest_version": 9, "files": []}', "不受支持"),
                                        (None, "找不到 manifest")])
def test_a_batch_against_a_broken_manifest_fails_before_any_report(tmp_path, jobs, text, says):
    """run_batch and iter_batch given a manifest.json that is missing, cut short, not JSON or of another
    version: one clear Chinese error before the first report, with jobs 1 and 2 alike."""
    from xlform.errors import XlformError
    from xlform.validate import iter_batch, run_batch
    bad = tmp_path / "manifest.json"
    if text is not None:
        bad.write_text(text, encoding="utf-8")
    files = sorted(RETURNED.glob("*.xlsx"))[:4]
    with pytest.raises(XlformError, match=says):
        run_batch(files, bad, [None] * len(files), jobs=jobs, templates=None, progress=None)
    reports = iter_batch(files, bad, jobs=jobs)
    with pytest.raises(XlformError, match=says):
        next(reports)


@pytest.mark.parametrize("text, says", [('{"manifest_version": 1, "files": [', "无法读取或已损坏"),
                                        ("{这不是 JSON", "无法读取或已损坏"),
                                        ('{"manifest_version": 9, "files": []}', "不受支持"),
                                        (None, "找不到 manifest")])
def test_validate_with_workers_reports_a_bad_manifest_and_exits_2(tmp_path, monkeypatch, text, says):
    """With worker processes the manifest is read beside them (a child process fills its index, where
    processes fork): a missing, broken or unsupported one is still the one error of the run, exit 2,
    in Chinese; a missing one before the output folder is made."""
    from xlform import manifest_index
    backgrounds = []
    real = manifest_index.Building
    monkeypatch.setattr(manifest_index, "Building",
                        lambda *a, **k: backgrounds.append(k["background"]) or real(*a, **k))
    bad = tmp_path / "manifest.json"
    if text is not None:
        bad.write_text(text, encoding="utf-8")
    r = cli("validate", RETURNED, "--manifest", bad, "--out", tmp_path / "批注", "--jobs", 2)
    assert r.exit_code == 2, r.output
    assert says in r.output
    if text is None:
        assert not (tmp_path / "批注").exists() and backgrounds == []
    else:
        assert backgrounds == [manifest_index.can_build_in_background()]


def test_a_run_failing_midway_keeps_an_earlier_runs_copy_with_one_process(manifest, tmp_path, monkeypatch):
    """Whatever fails a run after copies were written (here, made to fail after the last file), the
    copies this run wrote go and one an earlier run left stays, with one process as with workers."""
    from xlform import validate as v
    from xlform.errors import XlformError
    real = v.iter_batch

    def then_fail(*args, **kwargs):
        yield from real(*args, **kwargs)
        raise XlformError("中途失败")
    monkeypatch.setattr(v, "iter_batch", then_fail)
    out = tmp_path / "批注"
    out.mkdir()
    files = sorted(RETURNED.glob("*.xlsx"))
    earlier = out / f"{files[0].stem}-批注.xlsx"
    earlier.write_bytes(b"an earlier run's copy")
    with pytest.raises(XlformError, match="中途失败"):
        validate(files, manifest, out, jobs=1)
    assert sorted(p.name for p in out.iterdir()) == [earlier.name]
    assert earlier.read_bytes() != b"an earlier run's copy"     # (this run had written over it)


@pytest.mark.skipif(not __import__("xlform.manifest_index").manifest_index.can_build_in_background(),
                    reason="the manifest is read beside the workers only where processes fork")
def test_a_manifest_found_broken_midway_leaves_no_new_annotated_copies(manifest, tmp_path, monkeypatch):
    """The first files are checked against the part of the manifest read so far; when the rest turns out
    broken the run fails (exit 2) and the annotated copies it wrote are removed; one already there stays.
    (The child that reads the manifest shows each entry at once and takes a second to find the damage,
    so that the workers do write copies first, as with a province's manifest.)"""
    import time

    from xlform import manifest_index
    from xlform.errors import XlformError
    real = manifest_index.stream_manifest

    def slow_to_fail(*args, **kwargs):
        try:
            return real(*args, **kwargs)
        except Exception:
            time.sleep(1.0)
            raise
    monkeypatch.setattr(manifest_index, "stream_manifest", slow_to_fail)     # (the child is forked: it has these)
    monkeypatch.setattr(manifest_index, "_COMMIT_EVERY", 1)
    text = manifest.read_text(encoding="utf-8")
    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.rindex('{"file"')], encoding="utf-8")     # the last entry cut off
    out = tmp_path / "批注"
    out.mkdir()
    files = sorted(RETURNED.glob("*.xlsx"))
    earlier = out / f"{files[0].stem}-批注.xlsx"
    earlier.write_bytes(b"an earlier run's copy")
    with pytest.raises(XlformError, match="无法读取或已损坏"):
        validate(files, cut, out, jobs=2)
    assert sorted(p.name for p in out.iterdir()) == [earlier.name]


@pytest.mark.skipif(not __import__("xlform.manifest_index").manifest_index.can_build_in_background(),
                    reason="the manifest is read beside the workers only where processes fork")
def test_a_code_listed_twice_is_checked_against_the_later_entry_with_workers(manifest, tmp_path, monkeypatch):
    """A worker may look a code up before the manifest's later entry for it has been read (the later
    entry counts): the batch is then checked again, and the report is the one --jobs 1 gives."""
    from xlform import validate as v
    data = json.loads(manifest.read_text(encoding="utf-8"))
    first = data["files"][0]
    data["files"] = [{**first, "fingerprint": "sha256:" + "0" * 64}] + data["files"]
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    starts = []
    real = v.iter_batch
    monkeypatch.setattr(v, "iter_batch", lambda *a, **k: starts.append(k["jobs"]) or real(*a, **k))
    reports = {}
    for jobs in (1, 2):
        reports[jobs] = [r.to_dict() for r in validate([RETURNED], twice, jobs=jobs).files]
    assert starts == [1, 2, 2]
    assert reports[2] == reports[1]
    mine = next(r for r in reports[2] if r["project_code"] == first["project_code"])
    assert "XF106" not in {f["code"] for f in mine["findings"]}   # not checked against the stale fingerprint


def test_checking_never_imports_the_writer(manifest):
    """A check (no annotated copies) with jobs 1 or 2 leaves XlsxWriter unimported (~70 ms of every
    check's start)."""
    import subprocess
    import sys
    code = ("import sys; from pathlib import Path; from xlform.validate import run_batch\n"
            f"files = sorted(Path({str(RETURNED)!r}).glob('*.xlsx'))[:3]\n"
            "for jobs in (1, 2):\n"
            f"    reports = run_batch(files, Path({str(manifest)!r}), [None] * 3, jobs=jobs, templates=None, progress=None)\n"
            "    assert reports[0].project_code, reports[0].findings\n"
            "print(sorted(m for m in ('xlsxwriter', 'xlform.workbook') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_workers_of_a_batch_inherit_what_the_parent_loaded(manifest, tmp_path):
    """run_batch with a manifest.json: forked workers use the parent's copy, which never outlives the
    batch (a changed manifest is read afresh by the next one) and never stands in for another manifest."""
    import multiprocessing
    from xlform import validate as v
    files = sorted(RETURNED.glob("*.xlsx"))[:4]
    serial = v.run_batch(files, manifest, [None] * len(files), jobs=1, templates=None, progress=None)
    parallel = v.run_batch(files, manifest, [None] * len(files), jobs=2, templates=None, progress=None)
    assert [r.to_dict() for r in parallel] == [r.to_dict() for r in serial]
    assert v._INHERITED == {}
    if multiprocessing.get_start_method(allow_none=False) != "fork":
        return
    try:
        assert v._preload(str(manifest), None)
        v._init_worker(str(manifest), None, inherit=True)
        assert v._WORKER["manifest"] is v._INHERITED["manifest"]
        other = tmp_path / "manifest.json"
        shutil.copy(manifest, other)
        v._init_worker(str(other), None, inherit=True)
        assert v._WORKER["manifest"] is not v._INHERITED["manifest"]
    finally:
        v._INHERITED.clear()
        v._WORKER.clear()



@pytest.mark.parametrize("n", [0, 1, 7, 100, 1000])
def test_batch_chunks_keep_the_order_and_shrink_towards_the_end(n):
    """Every file once, in order; no chunk over 16 files; the last ones single files, so that one worker
    never waits a whole chunk's time for the other at the end of a batch."""
    from xlform.validate import _chunks
    chunks = _chunks(list(range(n)), jobs=2)
    assert [a for c in chunks for a in c] == list(range(n))
    assert all(1 <= len(c) <= 16 for c in chunks)
    sizes = [len(c) for c in chunks]
    assert sizes == sorted(sizes, reverse=True) and sizes[-min(n, 3):] == [1] * min(n, 3)
    if n == 1000:
        assert sizes.count(16) >= 50 and len(chunks) < 80    # few round trips while there is plenty


def test_a_batch_gives_back_what_it_froze_and_leaves_others_frozen(manifest):
    import gc
    from xlform import validate as v
    files = sorted(RETURNED.glob("*.xlsx"))[:3]
    v.run_batch(files, manifest, [None] * len(files), jobs=1, templates=None, progress=None)
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        v.run_batch(files, manifest, [None] * len(files), jobs=1, templates=None, progress=None)
        assert gc.get_freeze_count() > 0     # (some of them freed meanwhile, none given back)
    finally:
        gc.unfreeze()


# ---------------------------------------------------------------- tampering

def test_tampered_sample_reports_issued_and_returned_values(batch):
    run, _ = batch
    r = report_for(run, returned(TAMPERED_CODE))
    codes = by_code(r.findings)
    [t] = codes["XF201"]
    issued_value = issued().entries[TAMPERED_CODE].locked[t.cell]
    assert issued_value == "≥5200人"
    assert f"下发值“{issued_value}”" in t.message and "报送值“≥5000人”" in t.message
    assert t.field == "xf_ind_001_target" and t.sheet == SHEET
    [p] = codes["XF202"]
    assert p.sheet == SHEET and "保护" in p.message


def test_tampering_under_protection_is_still_caught(manifest, tmp_path):
    # the sheet lock is a UI lock: a changed target with protection still on is XF201, not XF202
    path = fill(SEED_CODE, seed_values(), tmp_path / "seed.xlsx", tamper={"ind_003_target": "20套"})
    [r] = validate([path], manifest, jobs=1).files
    codes = by_code(r.findings)
    assert "XF202" not in codes
    [t] = codes["XF201"]
    assert t.cell == "E20" and "下发值“35套”" in t.message and "报送值“20套”" in t.message
    # scoring uses the issued target, not the tampered one (20套 of 35, as in the seed)
    assert r.score["groups"]["产出指标/产出数量"] == pytest.approx(20 / 6 * (4 + 20 / 35), abs=1e-4)


def test_a_changed_label_is_caught(manifest, tmp_path):
    path = fill(SEED_CODE, seed_values(), tmp_path / "seed.xlsx", tamper={"project_name": "别的项目"})
    [r] = validate([path], manifest, jobs=1).files
    [t] = by_code(r.findings)["XF201"]
    assert "社会保险业务改革专项业务经费" in t.message and "别的项目" in t.message


def test_protection_removed_is_XF202(manifest, tmp_path):
    path = fill(SEED_CODE, seed_values(), tmp_path / "seed.xlsx", unprotect=True)
    [r] = validate([path], manifest, jobs=1).files
    codes = by_code(r.findings)
    assert [f.sheet for f in codes["XF202"]] == [SHEET]
    assert "XF201" not in codes
    assert CATALOGUE["XF202"].severity == WARNING


# ---------------------------------------------------------------- inputs past Excel's validation (XF305)

@pytest.mark.parametrize("field, value, cell, words", [
    ("execution_rate", "很多", "E16", ["很多", "百分比"]),
    ("execution_rate", 95.0, "E16", ["9500%", "1000%"]),          # 95 typed where 95% was meant
    ("fund_central", -5.0, "F8", ["-5", "超出允许范围"]),
    ("fund_central", "-5", "F8", ["-5", "超出允许范围"]),   # a number stored as text reads as that number
    ("fund_central", "九十万", "F8", ["九十万", "不是数字"]),
    ("start_date", "2021.01.01", "C13", ["2021.01.01", "不是日期"]),
    ("start_date", dt.datetime(1999, 12, 31), "C13", ["1999-12-31", "超出允许范围"]),
    ("self_score", 120.0, "C16", ["120", "超出允许范围"]),
    ("progress", "完" * 201, "C14", ["201", "200"]),
])
def test_values_that_skipped_the_cells_validation(manifest, tmp_path, field, value, cell, words):
    path = fill(SEED_CODE, {**seed_values(), field: value}, tmp_path / "seed.xlsx")
    [r] = validate([path], manifest, jobs=1).files
    hits = [f for f in r.findings if f.code == "XF305"]
    assert [f.cell for f in hits] == [cell], r.findings
    assert hits[0].severity == ERROR and hits[0].field == f"xf_{field}"
    for w in words:
        assert w in hits[0].message
    assert not r.valid


def test_valid_inputs_raise_no_XF305(batch):
    run, _ = batch
    hits = [(Path(r.path).name, f.cell) for r in run.files for f in r.findings if f.code == "XF305"]
    assert hits == [(returned(TAMPERED_CODE).name, "G33")]          # the one deliberate text date


def test_docs_rules_md_lists_the_catalogue():
    from tests.support.samples import REPO
    from xlform.findings import SEVERITY_ZH
    text = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    for r in CATALOGUE.values():
        assert f"| {r.code} | {SEVERITY_ZH[r.severity]}（{r.severity}） | {r.title} | {r.hint} |" in text, r.code


def test_a_blank_form_is_refused_plainly(manifest, tmp_path):
    from xlform.generate import generate
    blank = generate(None, tmp_path / "blank", form="yulin-2021", blank=True).files[0]
    [r] = validate([blank], manifest, jobs=1).files
    assert [f.code for f in r.findings] == ["XF101"] and "空白表" in r.findings[0].message


def test_an_xml_part_with_an_unknown_encoding_is_a_finding_not_a_crash(manifest, tmp_path):
    import zipfile
    src = RETURNED / next(p.name for p in RETURNED.glob("*.xlsx") if CLEAN_CODE in p.name)
    bad = tmp_path / "enc.xlsx"
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(bad, "w") as b:
        for item in a.infolist():
            data = a.read(item.filename)
            if item.filename == "docProps/app.xml":
                data = data.replace(b'encoding="UTF-8"', b'encoding="x-bogus"')
            b.writestr(item, data)
    [r] = validate([bad], manifest, jobs=1).files
    assert [f.code for f in r.findings] == ["XF002"] and "docProps/app.xml" in r.findings[0].message
