"""consolidate: every returned workbook of a batch in one 汇总 workbook the bureau can file and print.

    xlform consolidate 回收/ --manifest 下发/manifest.json --out 汇总.xlsx [--jobs N]

Sheets (docs/consolidate.md):

- 汇总表   one row per project of the manifest (submitted or not), an autofilter, a SUBTOTAL totals row.
- 部门统计 per 主管部门: projects, submitted, missing, average scores, count per grade, funds; a table.
- 图表     native charts: grade distribution, average score by department, grades per department.
- 指标明细 one row per indicator of every submitted project.
- 问题清单 every finding of every file, including files that are not ours or cannot be read.

How it stays flat in memory for thousands of files: the files are checked in worker processes
(validate.iter_batch, no annotation); each FileReport, as it arrives, is split into a small slotted
record kept in memory (identity, scores, funds, counts: ~3 KB a project with its manifest fields) and
its indicator rows and findings, which go to a temporary SQLite database, with the file's rows of
指标明细 and 问题清单 already made into XML (_Rows: done while the workers check the next files, not
after the last one). The sheets are then written in sorted order (主管部门, 项目编码) from the records
and that database; 汇总表, 指标明细 and 问题清单 are written in XlsxWriter's constant_memory mode, so
their rows go to disk as they are written (which is why 汇总表 is not an Excel table). No run ever holds every workbook, nor every indicator row, nor
every row of 汇总表.

Department text is always written as an inline or shared string and the workbook has
strings_to_formulas off: a reason that reads "=1+1" stays text. The output is written atomically and
is deterministic: the same inputs give the same cells, and (document dates come from the manifest)
the same bytes.
"""
from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import functools
import itertools
import marshal
import math
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from . import __version__, fastzlib
from .errors import XlformError
from .xlsxlite import inline_text
from .findings import CATALOGUE, ERROR, INFO, SEVERITY_ZH, WARNING, Finding
from .manifest import ManifestEntry
from .manifest_index import INDEX_SUFFIX, Building, can_build_in_background
from .spec import FormSpec, available_forms
from .validate import FileReport, collect_files, iter_batch, mark_duplicates, while_read
from .atomic import atomic_path

SUMMARY, STATS, CHARTS, DETAIL, ISSUES = "汇总表", "部门统计", "图表", "指标明细", "问题清单"
STATS_TABLE = "部门汇总"            # 部门统计 is an Excel table; 汇总表 is streamed, so it cannot be one

SUBMITTED, MISSING, DUPLICATE, FAILED = "已提交", "未提交", "重复提交", "校验未通过"
STATUSES = (SUBMITTED, DUPLICATE, FAILED, MISSING)

INDICATOR_STATUS = {"met": "达成", "short": "未达成", "over": "超支", "na": "不适用", "blank": "未填",
                    "not_comparable": "需复核", "unparseable": "无法识别", "prose": "待确认"}
DEFAULT_GRADES = ("优", "良", "中", "差")
IDENTITY_CODES = ("XF101", "XF102")     # the file is not one of this batch's projects
DUPLICATE_CODE = "XF105"
EXCEL_MAX_ROWS = 1_048_576

FONT = "宋体"
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# ---------------------------------------------------------------- results

@dataclass
class ConsolidateResult:
    out_path: Path
    projects: int = 0                 # projects in the manifest
    files: int = 0                    # files read
    matched_files: int = 0            # files that belong to a project of the manifest
    rejected: list[tuple[str, str]] = field(default_factory=list)   # (file name, reason): not in 汇总表
    status: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATUSES})
    grades: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=lambda: {ERROR: 0, WARNING: 0, INFO: 0})
    indicator_rows: int = 0
    finding_rows: int = 0
    truncated_rows: int = 0           # rows past Excel's limit that were not written
    average_score: float | None = None
    seconds: float = 0.0

    @property
    def submitted(self) -> int:
        return self.projects - self.status[MISSING]

    @property
    def missing(self) -> int:
        return self.status[MISSING]

    @property
    def duplicates(self) -> int:
        return self.status[DUPLICATE]

    @property
    def failed(self) -> int:
        return self.status[FAILED]


@dataclass(slots=True)
class _Entry:
    """What the sheets need of a manifest entry (the entry itself is mostly its workbook's locked cells):
    a few hundred bytes a project, so 10,000 projects stay a few MB."""
    code: str
    department: str
    name: str
    form_id: str
    year: Any
    unit: Any
    budget: float | None              # the issued 资金总额 (national form: 全年预算数)


@dataclass(slots=True)
class _File:
    """What is kept in memory per file: the report's identity, scores, funds and finding counts.
    Its indicator rows and findings are spilled to SQLite."""
    seq: int
    name: str
    path: str
    code: str | None                   # the project code the file gives
    code_at: tuple | None              # where it gives it (for XF105)
    counts: dict[str, int]
    in_manifest: bool
    scored: bool
    total: float | None                # 复核得分
    grade: str | None
    self_score: float | None
    budget_given: bool                 # the file gives a budget (else 汇总表 shows the issued one)
    budget: float | None
    executed: float | None
    rate: float | None
    unit: str
    reason: str = ""                   # why it is not in 汇总表

    @classmethod
    def of(cls, seq: int, report: FileReport, counts: dict[str, int], in_manifest: bool) -> "_File":
        score, funds = report.score, report.funds or {}
        budget = funds.get("budget")
        return cls(seq, Path(report.path).name, report.path, report.project_code, report.code_at, counts,
                   in_manifest, score is not None, _real(score["total"]) if score else None,
                   score["grade"] if score else None, _real(report.self_score), budget is not None,
                   _real(budget), _real(funds.get("executed")), _real(funds.get("rate")), report.unit or "")

    def sort_key(self) -> tuple:
        return (self.name, self.path)


@dataclass(slots=True)
class _Project:
    entry: _Entry
    spec: FormSpec | None
    files: list[_File] = field(default_factory=list)
    primary: _File | None = None

    @property
    def status(self) -> str:
        if not self.files:
            return MISSING
        if len(self.files) > 1:
            return DUPLICATE
        p = self.primary
        if p is None or not p.scored or p.counts[ERROR] > 0:
            return FAILED
        return SUBMITTED


# ---------------------------------------------------------------- spill store

class _Spill:
    """Indicator rows and findings of every file, on disk (SQLite) until the sheets are written.

    A file's indicator rows are one marshalled list (one insert per file, read back whole per project):
    a row per indicator cost more to bind, index and read back than the rows cost to write. With them,
    the file's rows of 指标明细 and 问题清单 already made into XML (_Rows), when `rows` are given: the
    XML in a plain file beside the database (written and read once: in SQLite it would only fill the
    page cache, 16 MB more memory; in the file it is the system's cache)."""

    def __init__(self, folder: Path, rows: "tuple[_Rows, _Rows] | None" = None):
        self.detail, self.issues = rows or (None, None)
        self.marked: set[int] = set()          # files given XF105 after their report came
        self.db = sqlite3.connect(str(folder / "consolidate.sqlite"))
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-16000")      # 16 MB page cache at most
        self.db.execute("CREATE TABLE ind (seq INTEGER PRIMARY KEY, rows BLOB, meas BLOB, xml INT, size INT)")
        self.db.execute("CREATE TABLE fnd (seq INT, k INT, code TEXT, severity TEXT, message TEXT, "
                        "sheet TEXT, cell TEXT)")
        self.db.execute("CREATE TABLE fxml (seq INTEGER PRIMARY KEY, meas BLOB, xml INT, size INT)")
        self._pending = 0
        self.xml = open(folder / "rows.xml", "w+b")       # noqa: SIM115 - closed in close()
        self._xml_end = 0

    def add(self, seq: int, report: FileReport, entry: "_Entry | None") -> None:
        """A file's report; `entry`: its project's, if the file is one of the manifest's."""
        rows = [(r.get("number"), _text(r.get("level1")), _text(r.get("level2")), _text(r.get("name")),
                 _text(r.get("target")), _text(r.get("actual")), _real(r.get("completion")),
                 _real(r.get("points")), _real(r.get("score")), _text(r.get("reason")), _text(r.get("status")))
                for r in report.indicators]
        rows.sort(key=_number_order)
        made = None
        if self.detail is not None and entry is not None and report.score is not None and rows:
            made = self.detail.render([_detail_values(r) for r in rows], (entry.department, entry.code, entry.name))
        self.db.execute("INSERT INTO ind VALUES (?, ?, ?, ?, ?)", (seq, marshal.dumps(rows), *self._keep(made)))
        if self.issues is not None and report.findings:
            head = (entry.department, entry.code, entry.name) if entry else ("", report.project_code or "", "")
            name = Path(report.path).name
            self.db.execute("INSERT INTO fxml VALUES (?, ?, ?, ?)", (seq, *self._keep(self.issues.render(
                [_issue_values((), f.code, f.severity, f.message, f.sheet, f.cell) for f in report.findings],
                (*head, name)))))
        self.add_findings(seq, report.findings, start=0)

    def add_findings(self, seq: int, findings: list[Finding], start: int) -> None:
        if start < 0:
            self.marked.add(seq)
        self.db.executemany("INSERT INTO fnd VALUES (?,?,?,?,?,?,?)", [
            (seq, start + k, f.code, f.severity, f.message, f.sheet, f.cell) for k, f in enumerate(findings)])
        self._pending += 1
        if self._pending >= 200:
            self.db.commit()
            self._pending = 0

    def finish(self) -> None:
        self.db.commit()
        self.db.execute("CREATE INDEX fnd_seq ON fnd (seq, k)")

    def indicators(self, seq: int) -> list[tuple]:
        """A file's indicator rows by number (rows without one first), else in the file's order."""
        found = self.db.execute("SELECT rows FROM ind WHERE seq = ?", (seq,)).fetchone()
        return sorted(marshal.loads(found[0]), key=_number_order) if found else []

    def made(self, table: str) -> Iterator[tuple[int, bytes]]:
        """(seq, the widths its rows need) of every file whose rows of a sheet are made (ind or fxml)."""
        return self.db.execute(f"SELECT seq, meas FROM {table} WHERE meas IS NOT NULL")

    def _keep(self, made: tuple[bytes, bytes] | None) -> tuple:
        """(widths, where the XML is, its size) to store for rows made by _Rows.render."""
        if made is None:
            return None, None, None
        widths, xml = made
        at = self._xml_end
        self.xml.write(xml)
        self._xml_end += len(xml)
        return widths, at, len(xml)

    def made_rows(self, table: str, seq: int) -> tuple[bytes, bytes] | None:
        found = self.db.execute(f"SELECT meas, xml, size FROM {table} WHERE seq = ? AND xml IS NOT NULL",
                                (seq,)).fetchone()
        if found is None:
            return None
        if self.xml.tell() != found[1]:
            self.xml.seek(found[1])
        return found[0], self.xml.read(found[2])

    def findings(self, seq: int, marks_only: bool = False) -> Iterator[tuple]:
        return self.db.execute("SELECT code, severity, message, sheet, cell FROM fnd WHERE seq = ? "
                               + ("AND k < 0 " if marks_only else "") + "ORDER BY k, rowid", (seq,))

    def close(self) -> None:
        self.db.close()
        self.xml.close()


def _text(v: Any) -> str | None:
    """Text as the sheets write it (a number given where text is expected is written as its text)."""
    return v if v is None or type(v) is str else str(v)


def _number_order(row: tuple) -> tuple:
    n = row[0]
    return (0, 0) if n is None else (1, n) if isinstance(n, (int, float)) else (2, str(n))


def _real(v: Any) -> float | None:
    """v as a finite float, else None (booleans and text included). Runs three times per indicator row."""
    kind = type(v)
    if kind is float:
        return v if math.isfinite(v) else None
    if kind is int:
        return float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


# ---------------------------------------------------------------- the run

def consolidate(paths: Iterable[str | Path], manifest_path: str | Path, out_path: str | Path, *,
                jobs: int | None = None, templates: list[Path] | None = None,
                progress: Callable | None = None) -> ConsolidateResult:
    """Check every returned (or annotated) workbook under `paths` and write the 汇总 workbook `out_path`.

    Raises XlformError (exit 2) when it cannot start: unreadable manifest, no files, an output path
    that cannot be written. Files with findings are a normal outcome: they are reported, not raised.
    """
    started = time.monotonic()
    manifest_path, out = Path(manifest_path), Path(out_path)
    forms = available_forms(templates)
    with tempfile.TemporaryDirectory(prefix="xlform-consolidate-", ignore_cleanup_errors=True) as tmpdir:
        work = Path(tmpdir)
        issued = _Issued(manifest_path, work, forms, background=(jobs or os.cpu_count() or 1) > 1)
        try:
            try:
                files, tmp, commit = _prepare(paths, out)
            except XlformError:
                issued.entries()     # a missing, broken or empty manifest is what is reported first
                raise
            result = ConsolidateResult(out_path=out, files=len(files))
            try:
                wb, fmts = _open_workbook(tmp, work)
                spill = _Spill(work, (_Rows(DETAIL_COLS, fmts), _Rows(ISSUE_COLS, fmts)))
                try:
                    projects, stubs = _collect(files, issued, forms, spill, result,
                                               jobs=jobs, templates=templates, progress=progress)
                    _write(wb, fmts, issued.created, manifest_path, projects, stubs, spill, result)
                finally:
                    spill.close()
                commit()
            finally:
                if tmp.exists():
                    tmp.unlink()
        finally:
            issued.close()
    result.seconds = time.monotonic() - started
    return result


class _Issued:
    """The manifest, as consolidate uses it: streamed into an index the workers look entries up in
    (a manifest is mostly the locked cells of every workbook), and of each project what the sheets
    need (_Entry), kept in this process.

    With more than one process the index is filled by a child process while the workers already
    check the first files (manifest_index.Building): the serial start before the first file is then
    no longer the whole manifest's reading (0.2-0.3 s for 1,000 projects, growing with them), and
    this process never holds the parser's garbage. With one, it is read here first, as a single
    process must."""

    def __init__(self, manifest_path: Path, work: Path, forms: dict[str, FormSpec], background: bool):
        self.name, self.index = manifest_path.name, None
        self.background = background and can_build_in_background()
        self.building = Building(manifest_path, work / f"issued{INDEX_SUFFIX}",
                                 functools.partial(_summary, forms=forms), background=self.background)
        self.path = self.building.path
        self._entries: list[_Entry] | None = None
        if not self.background:
            self.entries()
            _release_freed_memory()  # before the workers fork: they would carry the parser's leftovers

    def entries(self) -> list[_Entry]:
        """Each project's _Entry, in the manifest's order, once it is read to the end (waits for it);
        XlformError for a missing, broken or empty manifest."""
        if self._entries is None:
            self.index = self.building.wait()
            self._entries = [_Entry(*s) for s in self.index.summaries()]
            if not self._entries:
                raise XlformError(f"manifest {self.name} 中没有项目（空白表的 manifest 不能汇总）")
        return self._entries

    @property
    def created(self) -> str:
        return self.index.created

    @property
    def stale(self) -> bool:
        """Whether a worker may have checked a file against an entry the manifest replaced further on
        (a code listed twice: the later entry counts), having looked it up while the index was filled."""
        return self.background and self.index.listed_twice > 0

    def close(self) -> None:
        self.building.stop()
        if self.index is not None:
            self.index.close()


def _prepare(paths: Iterable[str | Path], out: Path) -> tuple[list[Path], Path, Callable[[], None]]:
    """The files to read and the output's temp path and commit(); XlformError if it cannot start."""
    if out.suffix.lower() != ".xlsx":
        raise XlformError(f"汇总工作簿的文件名应以 .xlsx 结尾：{out}")
    if out.is_dir():
        raise XlformError(f"输出路径是一个文件夹：{out}（请给出 .xlsx 文件名）")
    files = _without(collect_files(paths), out)
    if not files:
        raise XlformError("没有找到要汇总的文件")
    try:
        tmp, commit = atomic_path(out)
    except OSError as exc:
        raise XlformError(f"无法写入输出文件 {out}：{exc.strerror or exc}") from None
    return files, tmp, commit


def _without(files: list[Path], out: Path) -> list[Path]:
    """`files` less the output of an earlier run (a summary in a folder being read is not an input), by
    device and inode: a stat per file, where resolving 1,000 paths took 70 ms before the first was read."""
    try:
        target = out.stat()
    except OSError:                 # not there yet: no input is it
        return files

    def same(f: Path) -> bool:
        try:
            return os.path.samestat(f.stat(), target)
        except OSError:             # gone since it was listed: reading it will say so
            return False
    return [f for f in files if not same(f)]


def _collect(files: list[Path], issued: _Issued, forms: dict[str, FormSpec], spill: _Spill,
             result: ConsolidateResult, *, jobs, templates, progress) -> tuple[list[_Project], list[_File]]:
    reports = _reports(files, issued, jobs=jobs, templates=templates)
    projects = {e.code: _Project(e, forms.get(e.form_id)) for e in issued.entries()}
    result.projects = len(projects)          # a code listed twice in the manifest is one project (the last)
    stubs: list[_File] = []
    if progress is not None:
        reports = progress(reports, total=len(files))
    for seq, report in enumerate(reports):
        counts = {ERROR: 0, WARNING: 0, INFO: 0}
        for f in report.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
        identity = any(f.code in IDENTITY_CODES for f in report.findings)
        in_manifest = bool(report.project_code) and report.project_code in projects and not identity
        spill.add(seq, report, projects[report.project_code].entry if in_manifest else None)
        stub = _File.of(seq, report, counts, in_manifest)
        if in_manifest:
            projects[report.project_code].files.append(stub)
        else:
            first = next((f for f in report.findings if f.severity == ERROR), None)
            reason = first.message if first else "无法识别为本批次的工作簿"
            stub.reason = reason[len(stub.name) + 1:] if reason.startswith(stub.name + "：") else reason
        stubs.append(stub)
    spill.finish()
    _mark_duplicates(projects, spill)
    for s in stubs:
        for k, v in s.counts.items():
            result.findings[k] = result.findings.get(k, 0) + v
    result.matched_files = sum(1 for s in stubs if s.in_manifest)
    result.rejected = [(s.name, s.reason) for s in sorted((s for s in stubs if not s.in_manifest),
                                                          key=_File.sort_key)]
    ordered = sorted(projects.values(), key=lambda p: (p.entry.department, p.entry.code))
    return ordered, stubs


def _reports(files: list[Path], issued: _Issued, *, jobs, templates) -> Iterator[FileReport]:
    """iter_batch's reports, checked again if the index was read stale (validate.while_read); when this
    returns, the workers are at work and issued.entries() is known."""
    def ready() -> bool:
        issued.entries()
        return issued.stale
    batch = while_read(lambda: iter_batch(files, issued.path, None, jobs=jobs, templates=templates), ready)
    first = next(batch)
    return itertools.chain([first], batch)


def _mark_duplicates(projects: dict[str, _Project], spill: _Spill) -> None:
    """Choose the file 汇总表 uses for each project, and give every file of a project that came more than
    once the XF105 finding validate gives (with which file is used)."""
    dupes = [p for p in projects.values() if len(p.files) > 1]
    for p in projects.values():
        if p.files:
            p.primary = min(p.files, key=_preference)
    fresh = [FileReport(path=f.path, project_code=f.code, code_at=f.code_at) for p in dupes for f in p.files]
    mark_duplicates(fresh)
    by_path = {r.path: r for r in fresh}
    for p in dupes:
        for f in p.files:
            marks = [m for m in by_path[f.path].findings if m.code == DUPLICATE_CODE]
            if not marks:
                continue
            note = "本文件" if f is p.primary else p.primary.name
            marks = [dataclasses.replace(m, message=f"{m.message}；汇总表采用：{note}") for m in marks]
            spill.add_findings(f.seq, marks, start=-len(marks))
            for m in marks:
                f.counts[m.severity] += 1
    spill.db.commit()


def _release_freed_memory() -> None:
    """Hand the heap the manifest parser freed back to the system (glibc keeps it otherwise). A forked
    worker's RSS counts every page of its parent's heap, so this is what the workers would carry.
    (No gc.collect() first: the parser's objects hold no reference cycles, they are freed as they go;
    a full collection freed nothing and took 0.03 s of the serial start.)"""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):        # not glibc: nothing to trim, nothing lost
        pass


def _preference(f: _File) -> tuple:
    """Which of a project's files 汇总表 uses: one that could be scored, then the fewest errors, then the
    fewest warnings, then the first by file name (then full path). Stable: no dates, no read order."""
    return (0 if f.scored else 1, f.counts[ERROR], f.counts[WARNING], f.name, f.path)


# ---------------------------------------------------------------- writing

class _StreamingWorksheet(Worksheet):
    """A worksheet in XlsxWriter's constant_memory mode while the others are not.

    constant_memory is a workbook option, but 部门统计 needs add_table(), which that mode refuses; the
    sheets with a row per project or per indicator need the mode. XlsxWriter keeps the flag per worksheet
    (set when the sheet is created), flushes such a sheet's rows to a temp file and assembles it at close,
    so setting it for these sheets only is safe (tests/test_consolidate.py checks the flag and the output)."""

    def _initialize(self, init_data):  # noqa: D401 - XlsxWriter hook
        super()._initialize({**init_data, "constant_memory": True})

    def write_row_xml(self, row: int, cells: str, height_attr: str, last_col: int) -> None:
        """Append a finished <row> (its cells' XML made by _Sheet) to the sheet's row data.

        XlsxWriter's own path costs ~25 µs a cell (argument parsing, a tuple per cell, attribute escaping
        per cell); 指标明细 has ~28 cells per project, so that was most of writing the workbook. The XML
        is what XlsxWriter writes for the same cells (tests/test_consolidate.py compares them)."""
        if row > self.previous_row:
            self._write_single_row(row)       # the row XlsxWriter still holds (the header) goes first
        self._check_dimensions(row, 0)
        self._check_dimensions(row, last_col)
        self.fh.write(f'<row r="{row + 1}"{height_attr}>{cells}</row>')

    def write_rows_xml(self, first: int, last: int, rows: bytes, last_col: int) -> None:
        """Append finished <row>s, rows `first` to `last` (nothing is held for the rows between them),
        as UTF-8: written past the text layer, as encoding 20 MB of 指标明细 again cost 0.1 s."""
        if first > self.previous_row:
            self._write_single_row(first)
        self._check_dimensions(first, 0)
        self.previous_row = max(self.previous_row, last)
        self._check_dimensions(last, last_col)
        self.fh.flush()                       # what was written as text goes first
        self.fh.buffer.write(rows)

    def _write_optimized_sheet_data(self) -> None:
        """XlsxWriter's copy of the rows into the sheet's XML, as bytes (it decodes and encodes them)."""
        out = getattr(self.fh, "buffer", None)
        if self.dim_rowmin is None or out is None:
            super()._write_optimized_sheet_data()
            return
        self._xml_start_tag("sheetData")
        self.fh.flush()
        self.row_data_fh.flush()
        self.row_data_fh.buffer.seek(0)
        shutil.copyfileobj(self.row_data_fh.buffer, out, 1 << 20)
        self.row_data_fh.close()
        os.unlink(self.row_data_filename)
        self._xml_end_tag("sheetData")


def _clean(text: Any) -> str:
    return _ILLEGAL_XML.sub("", str(text))


@dataclass
class _Col:
    header: str
    kind: str = "text"       # text, wrap, center, amount, pct, score, int
    cap: int = 40            # widest the column gets (text wraps beyond)
    min: int = 6


_NUM_FORMATS = {"amount": "#,##0.00", "pct": "0.00%", "score": "0.00", "int": "0"}
_FIXED_POINT = ("amount", "pct", "score")      # shown with two decimals (_shown_number)


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        base = {"font_name": FONT, "font_size": 10, "valign": "vcenter"}
        self.base = base
        self.head = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center",
                                   "text_wrap": True})
        self.cells: dict[tuple[str, bool], Any] = {}
        self.note = wb.add_format({**base, "font_color": "#404040"})
        self.title = wb.add_format({**base, "bold": True, "font_size": 14})
        self.count_total = wb.add_format({**base, "border": 1, "border_color": "#BFBFBF", "bold": True,
                                          "top": 6, "top_color": "#000000", "bg_color": "#F2F2F2",
                                          "align": "center", "num_format": '"共 "0" 个项目"'})
        self.band = wb.add_format({"bg_color": "#F2F2F2"})
        self.fills = {key: wb.add_format({"bg_color": bg, "font_color": fg}) for key, (bg, fg) in {
            "red": ("#F8CBAD", "#9C0006"), "amber": ("#FFE699", "#7F6000"), "grey": ("#EDEDED", "#7F7F7F"),
            "blue": ("#DDEBF7", "#1F4E78"), "green": ("#E2EFDA", "#375623")}.items()}

    def cell(self, kind: str, total: bool = False):
        key = (kind, total)
        fmt = self.cells.get(key)
        if fmt is None:
            props = {**self.base, "border": 1, "border_color": "#BFBFBF"}
            if kind in _NUM_FORMATS:
                props["num_format"] = _NUM_FORMATS[kind]
            if kind == "wrap":
                props["text_wrap"] = True
            if kind in ("center", "int"):
                props["align"] = "center"
            if total:
                props.update(bold=True, top=6, top_color="#000000", bg_color="#F2F2F2")
            fmt = self.cells[key] = self.wb.add_format(props)
        return fmt


class _Sheet:
    """Writes rows with the column's format, at a height that shows wrapped text.

    Column widths must be known before a row is written (its height depends on them, and a
    constant_memory sheet cannot go back): measure() every row first, then layout(), then put().
    On a _StreamingWorksheet a row's cells become XML here, in one string (write_row_xml).
    """

    LINE = 13.5              # points per line of 10 pt text
    PAD = 1.5                # column width units of padding

    def __init__(self, ws, cols: list[_Col], fmts: _Formats):
        self.ws, self.cols, self.fmts = ws, cols, fmts
        self.measured = [0.0] * len(cols)
        # columns not yet at their cap (only these are measured), and of those the fixed-point number
        # columns, measured by their extremes: 0.00-style text is widest at the largest or the most
        # negative value, so formatting every value is not needed
        self.growing = [c for c, col in enumerate(cols) if col.kind not in _FIXED_POINT]
        self.ranged = [c for c, col in enumerate(cols) if col.kind in _FIXED_POINT]
        self.lowest, self.highest = [math.inf] * len(cols), [-math.inf] * len(cols)
        self.widths: list[float] = []
        self.row = 1
        self.streaming = isinstance(ws, _StreamingWorksheet)

    def measure(self, values) -> None:
        measured, cols, capped = self.measured, self.cols, False
        for c in self.ranged:
            v = values[c]
            if type(v) is float or type(v) is int:
                if v < self.lowest[c]:
                    self.lowest[c] = v
                if v > self.highest[c]:
                    self.highest[c] = v
            elif v is not None and v != "":
                self._measure_text(c, v)
        for c in self.growing:
            v = values[c]
            if v is None or v == "":
                continue
            w = max(_line_units(_shown(v, cols[c].kind)))
            if w > measured[c]:
                measured[c] = w
                capped = capped or w >= cols[c].cap
        if capped:       # a column at its cap is as wide as it gets, whatever the rows still to come
            self.growing = [c for c in self.growing if measured[c] < cols[c].cap]

    def _measure_text(self, c: int, v: Any) -> None:
        self.measured[c] = max(self.measured[c], *_line_units(_shown(v, self.cols[c].kind)))

    def measure_extremes(self) -> None:
        """The fixed-point columns' widths, from the extremes measure() kept."""
        for c in self.ranged:
            for v in {self.lowest[c], self.highest[c]} - {math.inf, -math.inf}:
                self._measure_text(c, v)

    def layout(self, header_height: float = 30) -> None:
        self.measure_extremes()
        self.widths = []
        for c, col in enumerate(self.cols):
            head = max(_units(part) for part in col.header.replace("（", "\n（").split("\n"))
            width = round(min(col.cap, max(col.min, head, self.measured[c])) + self.PAD, 1)
            self.widths.append(width)
            self.ws.set_column(c, c, width)
        self.ws.set_row(0, header_height)
        self._cell_specs()

    def layout_at_caps(self) -> None:
        """The layout every column would have at its cap, without a worksheet: rows rendered with it
        before the widths are known (_Rows) are exact wherever the real layout gives the same room."""
        self.widths = [round(col.cap + self.PAD, 1) for col in self.cols]
        self._cell_specs()

    def _cell_specs(self) -> None:
        # per column: the start of its cells' XML, and the room wrapped text has (None: it does not wrap)
        self._last: list[tuple | None] = [None] * len(self.cols)     # (text, its XML, its lines)
        self._cells = [(f'<c r="{xl_col_to_name(c)}', f' s="{self.fmts.cell(col.kind)._get_xf_index()}"',
                        max(1.0, width - self.PAD) if col.kind == "wrap" else None)
                       for c, (col, width) in enumerate(zip(self.cols, self.widths))]

    def header(self) -> None:
        for c, col in enumerate(self.cols):
            self.ws.write_string(0, c, col.header, self.fmts.head)

    def height(self, values) -> float | None:
        lines = 1
        for col, width, v in zip(self.cols, self.widths, values):
            if col.kind == "wrap" and v is not None and v != "":
                lines = max(lines, _lines(_shown(v, col.kind), max(1.0, width - self.PAD)))
        return _row_height(lines)

    def put(self, row: int, values, total: bool = False) -> None:
        if self.streaming and not total:
            self._put_xml(row, values)
            return
        h = self.height(values)
        if h is not None:
            self.ws.set_row(row, h)
        for c, (col, v) in enumerate(zip(self.cols, values)):
            fmt = self.fmts.cell(col.kind, total)
            if v is None or v == "" or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
                self.ws.write_blank(row, c, None, fmt)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                self.ws.write_number(row, c, v, fmt)
            else:
                self.ws.write_string(row, c, _clean(v), fmt)    # never a formula, whatever the text

    def _put_xml(self, row: int, values) -> None:
        """put() on a streaming sheet: the same cells, written as one string. Text is always an inline
        string (never a formula, whatever it reads), escaped as XlsxWriter escapes it."""
        cells, lines = self.row_cells(values, str(row + 1))
        self.ws.write_row_xml(row, cells, _height_attr(_row_height(lines)), len(values) - 1)

    def row_cells(self, values, r: str) -> tuple[str, int]:
        """The XML of `values`' cells in row `r` (a number, or _ROW to be filled in later), and the lines
        the row needs for them. The checks are ordered for the common case (text, then numbers); a
        column's text is often the row above's (its XML is reused)."""
        cells, lines, last, specs = [], 1, self._last, self._cells
        for c, v in enumerate(values):
            start, style, room = specs[c]
            kind = type(v)
            if kind is not str and kind is not int and kind is not float and v is not None:
                v, kind = _plain(v)
            if kind is str and v:
                same = last[c]
                if same is None or same[0] != v:
                    same = last[c] = (v, *self._text_cell(v, style, room))
                cells.append(f"{start}{r}{same[1]}")
                lines = max(lines, same[2])
            elif kind is int or (kind is float and math.isfinite(v)):
                if room is not None:                # a number in a wrapping column wraps as shown
                    lines = max(lines, _lines(_shown_number(v, "wrap"), room))
                cells.append(f"{start}{r}\"{style}><v>{v:.16G}</v></c>")
            else:                                   # nothing, "", NaN or infinity
                cells.append(f"{start}{r}\"{style}/>")
        return "".join(cells), lines

    @staticmethod
    def _text_cell(v: str, style: str, room: float | None) -> tuple[str, int]:
        """A text cell's XML after its reference, and the lines it takes (1 if its column does not wrap)."""
        text = _ILLEGAL_XML.sub("", v)
        if len(text) > 16383:
            text = _excel_text(text)
        lines = _lines(text, room) if room is not None else 1
        return f"\"{style} t=\"inlineStr\"><is>{inline_text(text)}</is></c>", lines

    def merge(self, widths: bytes) -> None:
        """Take in the widths a file's rows need (from _Rows.render)."""
        measured, lowest, highest = marshal.loads(widths)
        for c, (m, lo, hi) in enumerate(zip(measured, lowest, highest)):
            if m > self.measured[c]:
                self.measured[c] = m
            if lo < self.lowest[c]:
                self.lowest[c] = lo
            if hi > self.highest[c]:
                self.highest[c] = hi

    @staticmethod
    def fits(widths: bytes, narrower: list[tuple[int, float]]) -> bool:
        """Whether rows made at the caps are exact in this layout (see _Rows)."""
        if not narrower:
            return True
        measured = marshal.loads(widths)[0]
        return all(measured[c] <= room for c, room in narrower)

    def put_made(self, widths: bytes, rows: bytes, narrower: list[tuple[int, float]],
                 result: ConsolidateResult) -> bool:
        """Append a file's rows made by _Rows, if they are exact in this layout (else False)."""
        if not self.fits(widths, narrower):
            return False
        rows = rows.split(b"\x01")
        room = min(len(rows), EXCEL_MAX_ROWS - self.row)
        result.truncated_rows += len(rows) - max(room, 0)
        if room > 0:
            first = self.row
            self.ws.write_rows_xml(first, first + room - 1, b"".join([
                xml.replace(b"\x00", b"%d" % r) for r, xml in zip(range(first + 1, first + room + 1), rows)]),
                len(self.cols) - 1)
            self.row += room
        return True

    def put_all(self, rows: Iterable, result: ConsolidateResult) -> None:
        for values in rows:
            if not self.append(values):
                result.truncated_rows += 1

    def append(self, values) -> bool:
        if self.row >= EXCEL_MAX_ROWS:
            return False
        self.put(self.row, values)
        self.row += 1
        return True


def _plain(v: Any) -> tuple[Any, type]:
    """A value of another type as put() writes it: a number subclass as the number, anything else
    (True included, as XlsxWriter's write_string would) as its text."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = float(v) if isinstance(v, float) else int(v)
    else:
        v = str(v)
    return v, type(v)


def _lines(text: str, room: float, units: Iterable[float] | None = None) -> int:
    """Lines `text` takes in a column with `room` width units, wrapped (`units`: _line_units(text),
    if the caller has them)."""
    if 2 * len(text) <= room and "\n" not in text:     # no character is wider than 2: one line
        return 1
    return sum(max(1, math.ceil(u / room)) for u in (_line_units(text) if units is None else units))


def _row_height(lines: int) -> float | None:
    return None if lines == 1 else min(409.0, round(lines * _Sheet.LINE + 2, 1))   # Excel's highest row


def _height_attr(height: float | None) -> str:
    """A <row>'s height attributes as XlsxWriter's set_row writes them (it keeps whole pixels)."""
    if height is None:
        return ""
    pixels = int(height * 4.0 / 3.0 + 0.5)
    return "" if pixels == 20 else f' ht="{pixels * 0.75:.16g}" customHeight="1"'   # 20 px: the default


def _excel_text(text: str) -> str:
    """A cell holds at most 32,767 UTF-16 units (XlsxWriter cuts longer strings the same way)."""
    if len(text.encode("utf-16-le")) > 65534:
        text = text.encode("utf-16-le")[:65534].decode("utf-16-le", "ignore")
    return text


def _print_setup(ws, title: str, last_col: int | None = None, last_row: int | None = None,
                 unit: bool = False) -> None:
    """A4 landscape, one page wide, the header row on every page, the title and page numbers."""
    ws.set_landscape()
    ws.set_paper(9)                  # A4
    ws.fit_to_pages(1, 0)            # one page wide, as many tall as needed
    ws.repeat_rows(0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    ws.set_header(f'&C&"{FONT},Bold"&12{_header_text(title)}' + (f'&R&"{FONT},Regular"&9金额单位：万元' if unit else ""))
    ws.set_footer("&C第 &P 页，共 &N 页")
    if last_col is not None and last_row is not None:
        ws.print_area(0, 0, last_row, last_col)


@functools.lru_cache(maxsize=8192)
def _line_units(text: str) -> tuple[float, ...]:
    """_units of each line of `text` (cached: department, project and group names repeat on every row;
    a small cache, as it holds its texts: 65,536 problem messages of 70 characters hold 15 MB)."""
    return tuple(_units(line) for line in text.split("\n"))


class _CharUnits(dict):
    """Width units per character, looked up once per distinct character."""

    def __missing__(self, ch: str) -> float:
        units = self[ch] = 2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1
        return units


_CHAR_UNITS = _CharUnits()


def _units(text: str) -> float:
    """Column-width units a line of 10 pt text needs: a CJK character 2 (宋体 10 pt is 1.86 in Excel),
    anything else 1.1 (a little more than a digit, for bold and proportional fonts)."""
    if text.isascii():
        return 1.1 * len(text)
    return sum(map(_CHAR_UNITS.__getitem__, text))


def _shown(v: Any, kind: str) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _shown_number(v, kind)
    return _clean(v)


def _header_text(text: str) -> str:
    return text.replace("&", "&&")


def _shown_number(v: float, kind: str) -> str:
    if kind == "pct":
        return f"{v * 100:.2f}%"
    if kind == "amount":
        return f"{v:,.2f}"
    if kind == "score":
        return f"{v:.2f}"
    return f"{v:g}"


def _created(created: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return dt.datetime(2000, 1, 1)


def _year_label(projects: list[_Project]) -> str:
    years = {p.entry.year for p in projects}
    return f"{years.pop()}年度" if len(years) == 1 else ""


class _FastZipFile(zipfile.ZipFile):
    """zipfile's ZipFile with every deflated member compressed by fastzlib (ISA-L where installed, else
    zlib at level 1, not zipfile's default 6). 指标明细 is ~22 MB of XML at 1,000 files, and deflating it
    was the largest part of the serial tail after the last report: the bench's workbook took 0.42 s to
    deflate at level 6, 0.13 s at zlib's 1, 0.03 s with ISA-L's 1 (3.0 MB at level 1, 2.4 MB at 6).
    The compressor is swapped before the member's first byte (zipfile 3.6-3.13 makes it in _open_to_write);
    a zipfile without that hook keeps its own, at the level it is given (_Workbook gives 1)."""

    def _open_to_write(self, zinfo, *args, **kwargs):
        writer = super()._open_to_write(zinfo, *args, **kwargs)
        if zinfo.compress_type == zipfile.ZIP_DEFLATED and hasattr(writer, "_compressor"):
            writer._compressor = fastzlib.compressobj()
        return writer


class _Workbook(xlsxwriter.Workbook):
    """XlsxWriter's Workbook zipped by _FastZipFile. XlsxWriter has no option for it: the name its
    _store_workbook calls is pointed at _FastZipFile for the length of that call (the workbook is
    written in this thread; a worker process never writes one)."""

    def _store_workbook(self) -> None:
        module = sys.modules[xlsxwriter.Workbook.__module__]
        real = getattr(module, "ZipFile", None)
        if real is not zipfile.ZipFile:       # another XlsxWriter than the one this was written for
            super()._store_workbook()
            return
        module.ZipFile = functools.partial(_FastZipFile, compresslevel=fastzlib.ZLIB_LEVEL)
        try:
            super()._store_workbook()
        finally:
            module.ZipFile = real


def _open_workbook(path: Path, work: Path) -> tuple[xlsxwriter.Workbook, _Formats]:
    """The output workbook, opened before the files are checked: 指标明细's rows are made into XML as
    each file's report arrives (_Rows), which needs the numbers of its cell formats."""
    wb = _Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False, "tmpdir": str(work)})
    fmts = _Formats(wb)
    for col in SUMMARY_COLS:     # numbered in the order 汇总表's layout() would (it comes first): same styles.xml
        fmts.cell(col.kind)._get_xf_index()
    return wb, fmts


def _write(wb: xlsxwriter.Workbook, fmts: _Formats, created: str, manifest_path: Path, projects: list[_Project],
           stubs: list[_File], spill: _Spill, result: ConsolidateResult) -> None:
    year = _year_label(projects)
    title = f"{year}预算项目绩效自评汇总"
    wb.set_properties({"title": title, "subject": "预算绩效自评汇总", "author": "xlform",
                       "company": "", "created": _created(created),
                       "comments": f"xlform {__version__} · manifest {manifest_path.name}（{created}）"})
    grades = _grades(projects)
    everything, by_dept = _write_summary(wb, fmts, title, projects, result)
    result.grades = {**{g: result.grades.get(g, 0) for g in grades}, **result.grades}
    _write_stats(wb, fmts, title, everything, by_dept, grades, result)
    _write_charts(wb, fmts, title, sorted(by_dept), grades, _grade_note(projects),
                  max(result.grades.values(), default=0),
                  max((sum(t.grades.values()) for t in by_dept.values()), default=0))
    _write_details(wb, fmts, title, projects, spill, result)
    _write_issues(wb, fmts, title, projects, stubs, spill, result)
    wb.worksheets()[0].activate()
    wb.close()


def _add_table(ws, name: str, cols: list[_Col], n_rows: int, totals: dict[str, dict], fmts: _Formats) -> None:
    """An Excel table over the header, `n_rows` rows and a totals row; every totals cell styled alike."""
    columns = []
    for c in cols:
        spec = {"header": c.header, "header_format": fmts.head, "format": fmts.cell(c.kind, total=True)}
        spec.update(totals.get(c.header, {}))
        if spec.get("total_function") == "count":
            spec["format"] = fmts.count_total
        columns.append(spec)
    last = n_rows + 1
    ws.add_table(0, 0, last, len(cols) - 1, {"name": name, "style": "Table Style Light 1", "total_row": True,
                                             "columns": columns})
    for i, c in enumerate(cols):
        if c.header not in totals:
            ws.write_blank(last, i, None, fmts.cell(c.kind, total=True))


def _grades(projects: list[_Project]) -> list[str]:
    seen: list[tuple[float, str]] = []
    for p in projects:
        if p.spec is not None:
            for minimum, grade in p.spec.scoring.grades:
                if grade not in [g for _, g in seen]:
                    seen.append((minimum, grade))
    return [g for _, g in sorted(seen, key=lambda x: -x[0])] or list(DEFAULT_GRADES)


def _grade_note(projects: list[_Project]) -> str:
    """'优 ≥90，良 ≥80，中 ≥60，差 <60' from the forms' own grade settings."""
    bands: dict[str, float] = {}
    for p in projects:
        if p.spec is not None:
            for minimum, grade in p.spec.scoring.grades:
                bands.setdefault(grade, minimum)
    ordered = sorted(bands.items(), key=lambda x: -x[1])
    parts = [f"{g} ≥{m:g}" for g, m in ordered[:-1]]
    if len(ordered) > 1:
        parts.append(f"{ordered[-1][0]} <{ordered[-2][1]:g}")
    return "，".join(parts) or "优 ≥90，良 ≥80，中 ≥60，差 <60"


def _budget_fields(spec: FormSpec | None) -> list[str]:
    if spec is None:
        return []
    return [f.name for f in (spec.fields_with_role("fund_total") or spec.fields_with_role("fund_budget"))]


def _summary(e: ManifestEntry, forms: dict[str, FormSpec]) -> tuple | None:
    """An _Entry's fields (a plain tuple: it may be made in the process reading the manifest): the
    entry without its locked cells and indicators, identity, unit and issued budget only; None for an
    entry without a project code (a blank form's)."""
    if not e.project_code:
        return None
    fields = (e.project or {}).get("fields", {})
    names = _budget_fields(forms.get(e.form_id))
    return (e.project_code, e.department, e.project_name, e.form_id, e.year, fields.get("unit"),
            _real(fields.get(names[0])) if names else None)


# ---- 汇总表

SUMMARY_COLS = [
    _Col("序号", "int", 6, 4), _Col("主管部门", "wrap", 16), _Col("项目实施单位", "wrap", 16),
    _Col("项目编码", "text", 24), _Col("项目名称", "wrap", 26), _Col("表单", "center", 14),
    _Col("资金总额", "amount", 14), _Col("全年执行数", "amount", 14), _Col("执行率", "pct", 10),
    _Col("自评得分", "score", 9), _Col("复核得分", "score", 9), _Col("得分差异", "score", 9),
    _Col("等级", "center", 6, 4), _Col("错误", "int", 6, 4), _Col("警告", "int", 6, 4),
    _Col("状态", "center", 12), _Col("采用文件", "text", 60),
]


class _SummaryRow(NamedTuple):
    """One row of 汇总表, in the order of SUMMARY_COLS."""
    n: int
    department: str
    unit: str
    code: str
    name: str
    form: str
    budget: float | None
    executed: float | None
    rate: float | None
    own: float | None                 # 自评得分
    score: float | None               # 复核得分
    diff: float | None
    grade: str | None
    errors: int | None
    warnings: int | None
    status: str
    file: str | None


def _summary_rows(projects: list[_Project]) -> Iterator[_SummaryRow]:
    """汇总表's rows, made afresh on each pass (nothing per project is kept but the _Project)."""
    for n, p in enumerate(projects, start=1):
        e, f = p.entry, p.primary
        total = f.total if f else None
        own = f.self_score if f else None
        yield _SummaryRow(
            n, e.department, str(e.unit or (f.unit if f else "") or ""), e.code, e.name, e.form_id,
            f.budget if f and f.budget_given else e.budget, f.executed if f else None, f.rate if f else None,
            own, total, round(total - own, 4) if total is not None and own is not None else None,
            f.grade if f else None, f.counts[ERROR] if f else None, f.counts[WARNING] if f else None,
            p.status, f.name if f else None)


class _Tally:
    """Counts and sums over 汇总表 rows: one per department (部门统计) and one for all (the totals rows)."""

    def __init__(self) -> None:
        self.n = 0
        self.status = {s: 0 for s in STATUSES}
        self.grades: dict[str, int] = {}
        self.own, self.scores = [0, 0], [0, 0]              # sum, count of the rows that have one
        self.budget = self.executed = self.executed_budget = 0
        self.any_executed = False
        self.errors = self.warnings = 0

    def add(self, r: _SummaryRow) -> None:
        self.n += 1
        self.status[r.status] += 1
        if r.grade:
            self.grades[r.grade] = self.grades.get(r.grade, 0) + 1
        for acc, v in ((self.own, r.own), (self.scores, r.score)):
            if v is not None:
                acc[0] += v
                acc[1] += 1
        self.budget += r.budget or 0
        if r.executed is not None:
            self.any_executed = True
            self.executed += r.executed
            self.executed_budget += r.budget or 0
        self.errors += r.errors or 0
        self.warnings += r.warnings or 0

    @staticmethod
    def average(acc: list) -> float | None:
        return acc[0] / acc[1] if acc[1] else None

    @property
    def rate(self) -> float | None:
        return self.executed / self.executed_budget if self.executed_budget else None


_SUMMARY_LETTER = {c.header: xl_col_to_name(i) for i, c in enumerate(SUMMARY_COLS)}


def _summary_range(header: str, n: int, sheet: str = "") -> str:
    """The cells of a 汇总表 column's n project rows, e.g. G2:G8 (or '汇总表'!$G$2:$G$8 from elsewhere)."""
    col = _SUMMARY_LETTER[header]
    return f"'{SUMMARY}'!${col}$2:${col}${n + 1}" if sheet else f"{col}2:{col}{n + 1}"


def _rate_formula(n: int, sheet: str = "") -> str:
    """执行率 of the projects that reported an executed amount: their executed ÷ their budget."""
    executed, budget = _summary_range("全年执行数", n, sheet), _summary_range("资金总额", n, sheet)
    return f'IFERROR(SUMIFS({executed},{executed},"<>")/SUMIFS({budget},{executed},"<>"),"")'


def _write_summary(wb, fmts: _Formats, title: str, projects: list[_Project],
                   result: ConsolidateResult) -> tuple[_Tally, dict[str, _Tally]]:
    """汇总表, streamed: a pass over the projects for the widths and the totals, a pass to write.
    An autofilter over the rows and a totals row of SUBTOTAL formulas (they follow the filter), not an
    Excel table: XlsxWriter can write a table only from a sheet it holds in memory, cell by cell."""
    ws = wb.add_worksheet(SUMMARY, worksheet_class=_StreamingWorksheet)
    sheet = _Sheet(ws, SUMMARY_COLS, fmts)
    everything, by_dept = _Tally(), {}
    for r in _summary_rows(projects):
        sheet.measure(r)
        everything.add(r)
        by_dept.setdefault(r.department, _Tally()).add(r)
    result.status = dict(everything.status)
    result.grades = dict(everything.grades)
    result.average_score = everything.average(everything.scores)
    n = everything.n
    totals = _summary_totals(everything, n)
    sheet.measure([totals.get(c.header, (None, None))[1] for c in SUMMARY_COLS])
    sheet.layout()
    sheet.header()
    for r in _summary_rows(projects):
        sheet.put(r.n, r)
    last = n + 1                              # the totals row
    _totals_row(ws, fmts, last, totals)
    ws.autofilter(0, 0, n, len(SUMMARY_COLS) - 1)
    ws.freeze_panes(1, 0)
    _status_colors(ws, fmts, SUMMARY_COLS, "状态", n,
                   ((MISSING, "grey"), (FAILED, "red"), (DUPLICATE, "amber"), (SUBMITTED, "green")))
    _status_colors(ws, fmts, SUMMARY_COLS, "等级", n, (("差", "red"),))
    ws.conditional_format(1, 0, n, len(SUMMARY_COLS) - 1, {     # banded rows, under the status colours
        "type": "formula", "criteria": "=MOD(ROW(),2)=0", "format": fmts.band})
    _summary_notes(ws, fmts, title, last, n, result)
    return everything, by_dept


def _summary_totals(t: _Tally, n: int) -> dict[str, tuple[str | None, Any]]:
    """汇总表's totals row: per column (formula, the value it gives). SUBTOTAL counts only the rows the
    filter shows; the value is written too, for readers that do not calculate (previews, data_only)."""
    average = lambda acc: t.average(acc) or 0                       # noqa: E731 - SUBTOTAL(101) of none
    return {
        "序号": (None, "合计"),
        "项目编码": (f"SUBTOTAL(103,{_summary_range('项目编码', n)})", n),
        "资金总额": (f"SUBTOTAL(109,{_summary_range('资金总额', n)})", t.budget),
        "全年执行数": (f"SUBTOTAL(109,{_summary_range('全年执行数', n)})", t.executed),
        "执行率": (_rate_formula(n), t.executed / t.executed_budget if t.executed_budget else ""),
        "自评得分": (f"SUBTOTAL(101,{_summary_range('自评得分', n)})", average(t.own)),
        "复核得分": (f"SUBTOTAL(101,{_summary_range('复核得分', n)})", average(t.scores)),
        "错误": (f"SUBTOTAL(109,{_summary_range('错误', n)})", t.errors),
        "警告": (f"SUBTOTAL(109,{_summary_range('警告', n)})", t.warnings),
    }


def _totals_row(ws, fmts: _Formats, row: int, totals: dict[str, tuple[str | None, Any]]) -> None:
    for c, col in enumerate(SUMMARY_COLS):
        formula, value = totals.get(col.header, (None, None))
        fmt = fmts.count_total if col.header == "项目编码" else fmts.cell(col.kind, total=True)
        if formula is not None:
            ws.write_formula(row, c, f"={formula}", fmt, value)
        elif value is not None:
            ws.write_string(row, c, value, fmt)
        else:
            ws.write_blank(row, c, None, fmt)


def _summary_notes(ws, fmts: _Formats, title: str, last: int, n: int, result: ConsolidateResult) -> None:
    """The lines below the table: what it covers, and the files it leaves out."""
    st = result.status
    n_rejected = len(result.rejected)
    notes = [
        f"说明：本表列出 manifest 中的全部 {n} 个项目（按主管部门、项目编码排序）："
        f"已提交 {st[SUBMITTED]}，重复提交 {st[DUPLICATE]}，校验未通过 {st[FAILED]}，未提交 {st[MISSING]}。",
        f"共读取 {result.files} 个文件，其中 {result.files - n_rejected} 个对应到本批次的项目；"
        f"{n_rejected} 个不是本批次下发的工作簿、无法读取或项目不在清单中，未计入本表，原因见“{ISSUES}”。",
        "复核得分按评分规则计算，自评得分为部门填报，得分差异 = 复核得分 − 自评得分；"
        "金额单位：万元；资金总额在国家表式中为全年预算数；执行率合计按已填报执行数的项目计算。",
        "重复提交的项目采用：能评分的文件优先，其次错误最少、警告最少，再按文件名排序的第一个；"
        f"每份文件的问题都列在“{ISSUES}”。",
    ]
    for i, text in enumerate(notes):
        ws.write_string(last + 2 + i, 0, text, fmts.note)
    _print_setup(ws, f"{title}表", last_col=len(SUMMARY_COLS) - 2, last_row=last + 1 + len(notes), unit=True)


# ---- 部门统计

def _stats_cols(grades: list[str]) -> list[_Col]:
    return ([_Col("主管部门", "text", 30), _Col("项目数", "int", 7, 4), _Col("已提交", "int", 7, 4),
             _Col("未提交", "int", 7, 4), _Col("重复提交", "int", 8, 4), _Col("校验未通过", "int", 8, 4),
             _Col("平均自评得分", "score", 9), _Col("平均复核得分", "score", 9)]
            + [_Col(g, "int", 6, 4) for g in grades]
            + [_Col("资金总额", "amount", 14), _Col("全年执行数", "amount", 14),
               _Col("执行率", "pct", 10)])


def _write_stats(wb, fmts: _Formats, title: str, everything: _Tally, by_dept: dict[str, _Tally],
                 grades: list[str], result: ConsolidateResult) -> None:
    """部门统计: a row per department (an Excel table: a few dozen rows), its totals from 汇总表's cells."""
    ws = wb.add_worksheet(STATS)
    cols = _stats_cols(grades)
    sheet = _Sheet(ws, cols, fmts)
    depts, n = sorted(by_dept), everything.n
    values = []
    for d in depts:
        t = by_dept[d]
        values.append([d, t.n, t.n - t.status[MISSING], t.status[MISSING], t.status[DUPLICATE], t.status[FAILED],
                       t.average(t.own), t.average(t.scores)]
                      + [t.grades.get(g, 0) for g in grades]
                      + [t.budget, t.executed if t.any_executed else None, t.rate])
    st, own_avg = result.status, everything.average(everything.own)
    own = _summary_range("自评得分", n, SUMMARY)
    score = _summary_range("复核得分", n, SUMMARY)
    totals = {
        "主管部门": {"total_string": "合计"},
        "项目数": {"total_function": "sum", "total_value": n},
        "已提交": {"total_function": "sum", "total_value": n - st[MISSING]},
        "未提交": {"total_function": "sum", "total_value": st[MISSING]},
        "重复提交": {"total_function": "sum", "total_value": st[DUPLICATE]},
        "校验未通过": {"total_function": "sum", "total_value": st[FAILED]},
        "平均自评得分": {"total_function": f'IFERROR(AVERAGE({own}),"")', "total_value": "" if own_avg is None else own_avg},
        "平均复核得分": {"total_function": f'IFERROR(AVERAGE({score}),"")',
                   "total_value": result.average_score if result.average_score is not None else ""},
        "资金总额": {"total_function": "sum", "total_value": everything.budget},
        "全年执行数": {"total_function": "sum", "total_value": everything.executed},
        "执行率": {"total_function": _rate_formula(n, SUMMARY), "total_value": "" if everything.rate is None else everything.rate},
    }
    for g in grades:
        totals[g] = {"total_function": "sum", "total_value": result.grades.get(g, 0)}
    for v in values + [[totals.get(c.header, {}).get("total_value") for c in cols]]:
        sheet.measure(v)
    sheet.layout()
    for i, v in enumerate(values, start=1):
        sheet.put(i, v)
    _add_table(ws, STATS_TABLE, cols, len(depts), totals, fmts)
    ws.freeze_panes(1, 1)
    _print_setup(ws, f"{title}·部门统计", unit=True)


# ---- 图表

GRADE_COLORS = {"优": "#70AD47", "良": "#5B9BD5", "中": "#FFC000", "差": "#C00000"}
_PALETTE = ["#70AD47", "#5B9BD5", "#FFC000", "#C00000", "#7F7F7F", "#A5A5A5"]


def _count_unit(largest: int) -> int:
    """A whole-number axis step for counts, 1, 2 or 5 × 10^k, for about five gridlines."""
    raw = max(1.0, largest / 5)
    tens = 10 ** math.floor(math.log10(raw))
    return int(next(m * tens for m in (1, 2, 5, 10) if m * tens >= raw))


def _write_charts(wb, fmts: _Formats, title: str, depts: list[str], grades: list[str], grade_note: str,
                  grade_total: int, dept_largest: int) -> None:
    ws = wb.add_worksheet(CHARTS)
    ws.hide_gridlines(2)
    ws.write_string(0, 0, f"{title}·图表", fmts.title)
    ws.write_string(1, 0, f"数据来自“{STATS}”工作表；等级按复核得分评定（{grade_note}）。", fmts.note)
    cols = _stats_cols(grades)
    headers = [c.header for c in cols]
    g0 = headers.index(grades[0])
    total_row = len(depts) + 1
    font = {"name": FONT, "size": 10}
    title_font = {"name": FONT, "size": 12, "bold": True}
    colors = [GRADE_COLORS.get(g, _PALETTE[i % len(_PALETTE)]) for i, g in enumerate(grades)]

    # 1. grade distribution over all projects: the totals row of 部门统计
    col = wb.add_chart({"type": "column"})
    col.add_series({
        "name": "项目数",
        "categories": [STATS, 0, g0, 0, g0 + len(grades) - 1],
        "values": [STATS, total_row, g0, total_row, g0 + len(grades) - 1],
        "points": [{"fill": {"color": c}, "border": {"none": True}} for c in colors],
        "data_labels": {"value": True, "font": font},
        "gap": 60,
    })
    col.set_title({"name": "复核等级分布（项目数）", "name_font": title_font})
    col.set_legend({"none": True})
    col.set_x_axis({"num_font": font})
    col.set_y_axis({"num_font": font, "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
                    "min": 0, "major_unit": _count_unit(grade_total)})
    col.set_size({"width": 480, "height": 320})
    ws.insert_chart(3, 0, col, {"x_offset": 4, "y_offset": 4})

    # 2. average 复核得分 by department
    avg_col = headers.index("平均复核得分")
    bar = wb.add_chart({"type": "bar"})
    bar.add_series({
        "name": "平均复核得分",
        "categories": [STATS, 1, 0, max(1, len(depts)), 0],
        "values": [STATS, 1, avg_col, max(1, len(depts)), avg_col],
        "fill": {"color": "#5B9BD5"}, "border": {"none": True},
        "data_labels": {"value": True, "num_format": "0.00", "font": font},
        "gap": 50,
    })
    bar.set_title({"name": "各主管部门平均复核得分", "name_font": title_font})
    bar.set_legend({"none": True})
    bar.set_x_axis({"min": 0, "max": 100, "major_unit": 20, "num_font": font,
                    "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    bar.set_y_axis({"reverse": True, "num_font": font})
    height = max(320, 60 + 34 * len(depts))
    bar.set_size({"width": 560, "height": height})
    ws.insert_chart(3, 8, bar, {"x_offset": 4, "y_offset": 4})

    # 3. grades per department, stacked
    stack = wb.add_chart({"type": "bar", "subtype": "stacked"})
    for i, g in enumerate(grades):
        stack.add_series({
            "name": [STATS, 0, g0 + i],
            "categories": [STATS, 1, 0, max(1, len(depts)), 0],
            "values": [STATS, 1, g0 + i, max(1, len(depts)), g0 + i],
            "fill": {"color": colors[i]}, "border": {"none": True}, "gap": 50,
        })
    stack.set_title({"name": "各主管部门复核等级构成（项目数）", "name_font": title_font})
    stack.set_legend({"position": "bottom", "font": font})
    stack.set_x_axis({"num_font": font, "min": 0, "major_unit": _count_unit(dept_largest), "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    stack.set_y_axis({"reverse": True, "num_font": font})
    stack.set_size({"width": 480, "height": max(300, 80 + 30 * len(depts))})
    ws.insert_chart(21, 0, stack, {"x_offset": 4, "y_offset": 4})

    ws.set_column(0, 20, 8.5)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 1)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")


_ROW = "\x00"               # a row number still to come: no cell text has it (_ILLEGAL_XML removes it)
_NEXT = "\x01"              # between rows made by _Rows.render


class _Rows:
    """A file's rows of a streamed sheet (指标明细, 问题清单) made into XML when its report arrives, while
    the workers are still checking the files after it, instead of in the serial tail after the last one
    (that was most of writing the workbook, and with two cores the tail is what -j 2 cannot share).

    The widths are not known yet, so the rows are made with every column at its cap and the row number
    left as _ROW; kept with them, the widths they need (as _Sheet.measure() keeps them). At the end
    (_Sheet.put_made) a file's rows are used as they are when the layout has the same cell formats and
    every wrapping column has the room assumed here, or less but still at least the file's widest text
    in it (then every text takes as many lines as it has, either way); else they are made again."""

    MEMO = 1024               # texts remembered per column (names, levels, statuses and rules repeat)

    def __init__(self, cols: list[_Col], fmts: _Formats):
        self.sheet = _Sheet(None, cols, fmts)
        self.sheet.layout_at_caps()
        self.cols = [(*self.sheet._cells[c], col.kind, col.kind in _FIXED_POINT, {})
                     for c, col in enumerate(cols)]
        self.blanks = [f'{start}{_ROW}"{style}/>' for start, style, *_ in self.cols]
        self.heights: dict[int, str] = {}          # lines -> the <row>'s height attributes

    def render(self, rows: list[tuple], head: tuple = ()) -> tuple[bytes, bytes]:
        """(the widths `rows` need, the rows' XML), what measure() and row_cells() would give for
        `head + row` of each row, in one pass: this runs for every indicator of every file, so the head
        (the project's columns, the same on every row) is made once, and a text's XML, lines and width
        are worked out once while it repeats (tests compare the two ways)."""
        n = len(self.cols)
        widths = [0.0] * n, [math.inf] * n, [-math.inf] * n
        head_xml, lines = self._cells(head, 0, widths) if rows else ("", 1)
        out, heights, first = [], self.heights, len(head)
        for row in rows:
            cells, more = self._cells(row, first, widths)
            more = max(lines, more)
            height = heights.get(more)
            if height is None:
                height = heights[more] = _height_attr(_row_height(more))
            out.append(f'<row r="{_ROW}"{height}>{head_xml}{cells}</row>')
        # UTF-8 already, one row after another (no cell text has _NEXT: _ILLEGAL_XML removes it)
        return marshal.dumps(widths), _NEXT.join(out).encode()

    def _cells(self, values: tuple, first: int, widths: tuple[list, list, list]) -> tuple[str, int]:
        """The XML of `values`, the cells of columns `first`..., and the lines they need; the widths
        they need taken into `widths` (widest, lowest, highest, per column). The checks are ordered
        for the common case: text, nothing, a number."""
        widest, lowest, highest = widths
        cells, lines, cols, blanks = [], 1, self.cols, self.blanks
        for c, v in enumerate(values, first):
            t = type(v)
            if t is str and v:
                hit = cols[c][5].get(v)
                if hit is None:
                    hit = self._remember(c, v)
                cells.append(hit[0])
                if hit[1] > lines:
                    lines = hit[1]
                if hit[2] > widest[c]:
                    widest[c] = hit[2]
            elif v is None or t is str:
                cells.append(blanks[c])
            else:
                start, style, room, kind, ranged, _ = cols[c]
                if ranged and (t is float or t is int):
                    if v < lowest[c]:
                        lowest[c] = v
                    if v > highest[c]:
                        highest[c] = v
                elif v != "":
                    widest[c] = max(widest[c], *_line_units(_shown(v, kind)))
                if t is not float and t is not int:
                    v, t = _plain(v)
                if t is str:             # something else written as its text (True): the general way
                    xml, n_lines = _Sheet._text_cell(v, style, room) if v else (f'"{style}/>', 1)
                    cells.append(f"{start}{_ROW}{xml}")
                    lines = max(lines, n_lines)
                elif t is int or math.isfinite(v):
                    if room is not None:
                        lines = max(lines, _lines(_shown_number(v, "wrap"), room))
                    cells.append(f'{start}{_ROW}"{style}><v>{v:.16G}</v></c>')
                else:
                    cells.append(blanks[c])
        return "".join(cells), lines

    def _remember(self, c: int, v: str) -> tuple[str, int, float]:
        """A text's cell XML in column c (row number left as _ROW), its lines and its width: what
        _text_cell and measure() give, with the text cleaned and its lines measured once (most texts
        come once: names, targets, values; _line_units' cache is kept for the texts that repeat)."""
        start, style, room, _, _, memo = self.cols[c]
        if len(memo) >= self.MEMO:
            memo.clear()
        text = _ILLEGAL_XML.sub("", v)
        if len(text) > 16383:           # cut to what a cell holds: the general way
            xml, n_lines = _Sheet._text_cell(v, style, room)
            width = max(_line_units(text))
        else:
            units = [_units(line) for line in text.split("\n")]
            n_lines = 1 if room is None else _lines(text, room, units)
            xml, width = f"\"{style} t=\"inlineStr\"><is>{inline_text(text)}</is></c>", max(units)
        hit = memo[v] = (f"{start}{_ROW}{xml}", n_lines, width)
        return hit

    def narrower(self, sheet: "_Sheet") -> list[tuple[int, float]] | None:
        """The columns `sheet`'s layout gives less room than the rows were made with, and that room;
        None if its cells are not those the rows were made with (then none can be used)."""
        made = self.sheet._cells
        if [m[:2] for m in made] != [c[:2] for c in sheet._cells]:
            return None
        return [(c, cell[2]) for c, (cell, m) in enumerate(zip(sheet._cells, made)) if cell[2] != m[2]]


# ---- 指标明细

DETAIL_COLS = [
    _Col("主管部门", "wrap", 16), _Col("项目编码", "text", 24), _Col("项目名称", "wrap", 22),
    _Col("序号", "int", 5, 4), _Col("一级指标", "wrap", 12), _Col("二级指标", "wrap", 12),
    _Col("指标内容", "wrap", 30), _Col("指标值", "wrap", 16), _Col("实际完成值", "wrap", 16),
    _Col("完成率", "pct", 10), _Col("分值", "score", 7), _Col("得分", "score", 7),
    _Col("原因说明", "wrap", 26), _Col("状态", "center", 8),
]


def _detail_values(row: tuple) -> tuple:
    """指标明细's cells after the project's (主管部门, 项目编码, 项目名称), from a spilled indicator row."""
    n, level1, level2, name, target, actual, completion, points, score, reason, status = row
    na = status == "na"
    return (n, level1, level2, name, target, actual, completion, None if na else points,
            None if na else score, reason, INDICATOR_STATUS.get(status, status))


def _write_details(wb, fmts: _Formats, title: str, projects: list[_Project], spill: _Spill,
                   result: ConsolidateResult) -> None:
    """A row per indicator of each project's file (the one 汇总表 uses), made when the file came (_Rows)."""
    ws = wb.add_worksheet(DETAIL, worksheet_class=_StreamingWorksheet)
    used = {p.primary.seq: p for p in projects if p.primary is not None and p.primary.scored}
    sheet = _Sheet(ws, DETAIL_COLS, fmts)
    made_seqs = set()
    for seq, widths in spill.made("ind"):
        if seq in used:
            sheet.merge(widths)
            made_seqs.add(seq)
    for seq, p in used.items():              # a file whose rows were not made (none in a normal run)
        if seq not in made_seqs:
            for values in _detail_rows(p, spill):
                sheet.measure(values)
    sheet.layout()
    sheet.header()
    narrower = spill.detail.narrower(sheet) if spill.detail is not None else None
    for p in projects:
        if p.primary is not None and p.primary.seq in used:
            seq = p.primary.seq
            made = spill.made_rows("ind", seq) if narrower is not None and seq in made_seqs else None
            if made is None or not sheet.put_made(*made, narrower, result):
                sheet.put_all(_detail_rows(p, spill), result)
    result.indicator_rows = sheet.row - 1
    ws.autofilter(0, 0, max(sheet.row - 1, 0), len(DETAIL_COLS) - 1)
    _status_colors(ws, fmts, DETAIL_COLS, "状态", result.indicator_rows, (
        ("未达成", "red"), ("超支", "red"), ("未填", "red"), ("需复核", "amber"), ("无法识别", "amber"),
        ("待确认", "blue"), ("不适用", "grey")))
    ws.freeze_panes(1, 3)
    _print_setup(ws, f"{title}·指标明细")


def _detail_rows(p: _Project, spill: _Spill) -> Iterator[tuple]:
    e = p.entry
    for row in spill.indicators(p.primary.seq):
        yield (e.department, e.code, e.name, *_detail_values(row))


# ---- 问题清单

ISSUE_COLS = [
    _Col("主管部门", "wrap", 16), _Col("项目编码", "text", 24), _Col("项目名称", "wrap", 20),
    _Col("文件", "wrap", 34), _Col("工作表", "center", 10), _Col("单元格", "center", 7, 5),
    _Col("代码", "center", 7, 5), _Col("级别", "center", 5, 4), _Col("规则", "wrap", 18),
    _Col("说明", "wrap", 60),
]


def _issue_values(head: tuple, code: str, severity: str, message: str, sheet, cell) -> tuple:
    """问题清单's cells of a finding after `head` (主管部门, 项目编码, 项目名称, 文件, or a part of them)."""
    rule = CATALOGUE.get(code)
    return (*head, sheet, cell, code, SEVERITY_ZH.get(severity, severity), rule.title if rule else "", message)


def _issue_rows(f: _File, entry: _Entry | None, spill: _Spill, marks_only: bool = False) -> Iterator[tuple]:
    head = (entry.department, entry.code, entry.name) if entry else ("", f.code or "", "")
    for code, severity, message, sheet, cell in spill.findings(f.seq, marks_only):
        yield _issue_values((*head, f.name), code, severity, message, sheet, cell)


def _write_issues(wb, fmts: _Formats, title: str, projects: list[_Project], stubs: list[_File], spill: _Spill,
                  result: ConsolidateResult) -> None:
    """Every finding of every file: its XF105 (known only once every file came), then its own findings,
    made when the file came (_Rows)."""
    ws = wb.add_worksheet(ISSUES, worksheet_class=_StreamingWorksheet)
    order: list[tuple[_File, _Entry | None]] = []
    for p in projects:                       # each project's files, the one 汇总表 uses first
        rest = sorted((f for f in p.files if f is not p.primary), key=_File.sort_key)
        order += [(f, p.entry) for f in ([p.primary] if p.primary else []) + rest]
    order += [(f, None) for f in sorted((s for s in stubs if not s.in_manifest), key=_File.sort_key)]
    sheet = _Sheet(ws, ISSUE_COLS, fmts)
    made_seqs = set()
    for seq, widths in spill.made("fxml"):
        sheet.merge(widths)
        made_seqs.add(seq)
    for f, entry in order:
        if f.seq in spill.marked or f.seq not in made_seqs:
            for values in _issue_rows(f, entry, spill, marks_only=f.seq in made_seqs):
                sheet.measure(values)
    sheet.layout()
    sheet.header()
    narrower = spill.issues.narrower(sheet) if spill.issues is not None else None
    for f, entry in order:
        made = spill.made_rows("fxml", f.seq) if narrower is not None and f.seq in made_seqs else None
        if made is not None and sheet.fits(made[0], narrower):
            if f.seq in spill.marked:
                sheet.put_all(_issue_rows(f, entry, spill, marks_only=True), result)
            sheet.put_made(*made, narrower, result)
        else:
            sheet.put_all(_issue_rows(f, entry, spill), result)
    result.finding_rows = sheet.row - 1
    ws.autofilter(0, 0, max(sheet.row - 1, 0), len(ISSUE_COLS) - 1)
    _status_colors(ws, fmts, ISSUE_COLS, "级别", result.finding_rows,
                   (("错误", "red"), ("警告", "amber"), ("提示", "blue")))
    ws.freeze_panes(1, 0)
    _print_setup(ws, f"{title}·问题清单")


def _status_colors(ws, fmts: _Formats, cols: list[_Col], header: str, n_rows: int,
                   colors: tuple[tuple[str, str], ...]) -> None:
    if n_rows <= 0:
        return
    col = xl_col_to_name([c.header for c in cols].index(header))
    for text, color in colors:
        ws.conditional_format(f"{col}2:{col}{n_rows + 1}", {"type": "cell", "criteria": "==",
                                                           "value": f'"{text}"', "format": fmts.fills[color]})


__all__ = ["consolidate", "ConsolidateResult", "SUMMARY", "STATS", "CHARTS", "DETAIL", "ISSUES"]
