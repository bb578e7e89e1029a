"""validate: read returned workbooks, prove whose they are, check, score, annotate, report.

One file's problems never stop the batch: every failure becomes a finding on that file. The
returned files are only read; annotated copies and the JSON report are written atomically.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import multiprocessing
import os
import tempfile
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .errors import XlformError
from .findings import ERROR, Finding, counts, finding
from .gcpause import frozen, paused
from .layout import NAME_PREFIX, Layout, build_layout, cell_ref
from .locate import Placement, Recognised, from_where, label_anchors, placement, recognise
from .manifest import Manifest, ManifestEntry
from .projects import Project
from .read import META_SHEET, ReadError, WorkbookData, read_workbook
from .rules import CONTENT_CHECKS, Context
from .score import ScoreResult, compute, self_score
from .spec import FormSpec, available_forms

SKIP_PREFIXES = (".", "~$", ".~")


@dataclass
class FileReport:
    path: str
    project_code: str | None = None
    department: str = ""
    project_name: str = ""
    unit: str = ""
    form: str | None = None
    form_version: str | None = None
    findings: list[Finding] = field(default_factory=list)
    score: dict | None = None          # total, grade, execution_rate, groups {name: score}
    self_score: float | None = None
    annotated: str | None = None
    indicators: list[dict] = field(default_factory=list)
    funds: dict = field(default_factory=dict)
    code_at: tuple[str, str, str, str] | None = None   # (sheet, cell, defined name, label) of 项目编码

    @property
    def valid(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def to_dict(self) -> dict:
        return {"path": self.path, "project_code": self.project_code, "department": self.department,
                "project_name": self.project_name,
                "form": None if self.form is None else {"id": self.form, "version": self.form_version},
                "valid": self.valid, "score": self.score, "self_score": self.self_score,
                "annotated": self.annotated, "counts": counts(self.findings),
                "findings": [{k: v for k, v in f.to_dict().items()} for f in self.findings]}


@dataclass
class RunReport:
    files: list[FileReport]
    manifest: str

    def stats(self) -> dict:
        n_err = sum(1 for f in self.files if not f.valid)
        scores = [f.score["total"] for f in self.files if f.score]
        c = counts([x for f in self.files for x in f.findings])
        return {"files": len(self.files), "valid": len(self.files) - n_err, "invalid": n_err,
                "errors": c["error"], "warnings": c["warning"], "infos": c["info"],
                "average_score": round(sum(scores) / len(scores), 2) if scores else None}

    def to_dict(self) -> dict:
        return {"xlform": __import__("xlform").__version__, "manifest": self.manifest,
                "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
                "files": [f.to_dict() for f in self.files], "stats": self.stats()}


def collect_files(paths: Iterable[str | Path], exclude: Path | None = None) -> list[Path]:
    """Files named, and every file in folders named (recursively), skipping temp and lock files."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not f.is_file() or f.name.startswith(SKIP_PREFIXES) or f.suffix.lower() in (".json", ".zip"):
                    continue
                if exclude is not None and exclude.resolve() in f.resolve().parents:
                    continue
                out.append(f)
        elif p.exists():
            out.append(p)
        else:
            raise XlformError(f"找不到文件或文件夹：{p}")
    seen, unique = set(), []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _located(layout: Layout, data: WorkbookData) -> dict[str, tuple[str, int, int]]:
    """field name -> (sheet, row, col) its defined name points at, for names pointing at a sheet that was read."""
    names, sheets = data.names, data.sheets
    return {name: at for name in layout.fields     # (a field's key is its name; defined_name is xf_ + it)
            if (at := names.get(NAME_PREFIX + name)) is not None and at[0] in sheets}


def _values(layout: Layout, data: WorkbookData, located: dict[str, tuple[str, int, int]], place: Placement
            ) -> tuple[dict[str, Any], dict[str, tuple[str, str]], list[str]]:
    """Each field's value through its defined name (`located`); a field without one (or whose name
    points at no sheet) where the named cells around it say its row and column went (`place`)."""
    values, where, missing = {}, {}, []
    sheets, deleted = data.sheets, data.deleted_names
    for name, f in layout.fields.items():
        loc = located.get(name)
        if loc is None:
            missing.append(name)
            loc = (place.sheet, *place.at(f.row, f.col))
        sheet, row, col = loc
        sd = sheets.get(sheet)
        # a name turned #REF!: its cell was deleted, whatever is at the inferred spot now is not it
        values[name] = None if sd is None or (deleted and f.defined_name in deleted) else sd.value(row, col)
        where[name] = (sheet, cell_ref(row, col))
    return values, where, missing


def check_file(path: Path, manifest: Manifest, forms: dict[str, FormSpec],
               annotate_to: Path | None = None, *, batch_findings: list[Finding] = ()
               ) -> tuple[FileReport, Layout | None, ScoreResult | None]:
    """`batch_findings`: findings only the whole batch can know (XF105), shown in the annotated copy."""
    report = FileReport(path=str(path))
    try:
        data = read_workbook(path)
    except ReadError as exc:
        report.findings.append(finding(exc.code, f"{path.name}：{exc}"))
        return report, None, None
    meta, identity_findings = _identity(data)
    code = meta.get("project_code")
    recognised: Recognised | None = None
    if meta.get("form_id") and meta.get("fingerprint") and not code:   # metadata intact, no project: a blank
        report.form, report.form_version = meta.get("form_id"), meta.get("form_version")
        report.findings.append(finding("XF101", f"{path.name} 是空白表（生成时没有绑定项目），不能按下发清单校验；"
                                                f"请让部门使用为该项目生成的模板填写"))
        return report, None, None
    if not meta.get("form_id") or not code:
        # no metadata (content pasted into a new workbook?): recognise the form by its labels
        recognised = recognise(data, manifest, forms)
        if recognised is None:
            report.findings.append(finding("XF101", f"{path.name} 不是本系统下发的工作簿：找不到表单元数据，"
                                                    f"按表内标签也认不出下发的表单"))
            return report, None, None
        title = forms[recognised.form_id].name
        if not recognised.code:
            report.findings.append(finding("XF101", f"{path.name} 缺少表单元数据；按标签看是“{title}”"
                                                    f"（工作表“{recognised.sheet}”），但找不到项目编码",
                                           sheet=recognised.sheet))
            return report, None, None
        code = recognised.code
        meta = {"form_id": recognised.form_id, "project_code": code}
    report.project_code, report.form, report.form_version = code, meta.get("form_id"), meta.get("form_version")
    entry: ManifestEntry | None = manifest.by_code().get(code)
    if entry is None:
        how = "按标签读到的" if recognised else ""
        report.findings.append(finding("XF102", f"{how}项目编码 {code} 不在本次下发的清单（manifest）中"))
        return report, None, None
    report.department, report.project_name = entry.department, entry.project_name
    if meta.get("form_id") != entry.form_id:
        report.findings.append(finding("XF103", f"工作簿的表单是“{meta.get('form_id')}”，"
                                                f"下发给项目 {code} 的是“{entry.form_id}”"))
        return report, None, None
    if recognised is None and meta.get("form_version") != entry.form_version:
        report.findings.append(finding("XF104", f"工作簿的表单版本是 {meta.get('form_version')}，"
                                                f"下发的是 {entry.form_version}"))
    if meta.get("fingerprint") and meta.get("fingerprint") != entry.fingerprint:
        report.findings.append(finding("XF106", "工作簿的指纹与 manifest 记录不同（可能来自另一次生成）"))
    report.findings.extend(identity_findings)
    if recognised is not None:
        report.form_version = entry.form_version
    spec = forms.get(entry.form_id)
    if spec is None:
        raise XlformError(f"manifest 中的表单 {entry.form_id} 在 templates/ 中找不到")
    # the cells (labels, merges, styles) only to write the annotated copy or to place a form found
    # by its labels: a check reads the fields
    layout = build_layout(spec, Project.from_dict(entry.project), entry.year,
                          cells=annotate_to is not None or recognised is not None)
    report.unit = str(layout.fields["unit"].value or "")
    located = _located(layout, data)
    sheet, place = _form_sheet(path, layout, data, located, recognised, report)
    if sheet is None:
        return report, layout, None
    values, where, missing = _values(layout, data, located, place)
    if "project_code" in where:
        f = layout.fields["project_code"]
        report.code_at = (*where["project_code"], f.defined_name, str(f.label))
    if missing and recognised is None:
        how = "相邻字段推算的位置" if place is not None and place.shifted else "原位置"
        gone = [m for m in missing if layout.fields[m].defined_name in data.deleted_names]
        if gone:
            text = (f"{len(gone)} 个字段的单元格已被删除（定义名称变为 #REF!，如 xf_{gone[0]}，"
                    f"可能删除了整行），按空值处理")
            if len(gone) < len(missing):
                text += f"；另缺少 {len(missing) - len(gone)} 个字段的定义名称，已按{how}读取"
        else:
            text = f"缺少 {len(missing)} 个字段的定义名称（如 xf_{missing[0]}），已按{how}读取"
        report.findings.append(finding("XF107", text, sheet=sheet))
    labels = place if recognised is None and not missing and _all_on(located, place.sheet) else \
        from_where(layout, where)
    ctx = Context(path, layout, entry, data, values, where, labels)
    ctx.score = compute(layout, values)
    for check in CONTENT_CHECKS:
        check(ctx)
    report.findings.extend(ctx.findings)
    report.self_score = self_score(values, layout)
    report.score = summarize(layout, ctx.score)
    report.indicators = indicator_rows(layout, ctx.score, values)
    report.funds = funds(layout, values, ctx.score)
    if annotate_to is not None:
        from .annotate import annotate
        annotate(layout, annotate_to, project_code=code, fingerprint=entry.fingerprint, values=values,
                 score=ctx.score, findings=[*batch_findings, *report.findings], source=path,
                 self_score=report.self_score)
        report.annotated = str(annotate_to)
    return report, layout, ctx.score


def _identity(data: WorkbookData) -> tuple[dict[str, str], list[Finding]]:
    """Form, version, project and fingerprint from the hidden metadata sheet, else from the custom
    document properties; the two disagreeing is an edit of locked content (XF201)."""
    props = {k[len("xlform."):]: v for k, v in data.properties.items() if k.startswith("xlform.")}
    sheet = {k: v for k, v in data.meta.items() if v not in (None, "")}
    meta = {**props, **sheet}
    out = []
    for key, zh in (("form_id", "表单"), ("project_code", "项目编码"), ("fingerprint", "指纹")):
        a, b = sheet.get(key), props.get(key)
        if a and b and a != b:
            out.append(finding("XF201", f"工作簿的元数据被改动：隐藏元数据表中的{zh}为“{a}”，"
                                        f"文档属性中为“{b}”", sheet=META_SHEET))
    return meta, out


def _all_on(located: dict[str, tuple[str, int, int]], sheet: str) -> bool:
    """Every field found by name on `sheet`. The labels' placement (locate.from_where: rebuilt from
    where each field was read) is then the one the fields were read with: check_file reuses it."""
    return all(s == sheet for s, _, _ in located.values())


def _form_sheet(path: Path, layout: Layout, data: WorkbookData, located: dict[str, tuple[str, int, int]],
                recognised: Recognised | None, report: FileReport) -> tuple[str | None, Placement | None]:
    """The sheet that holds the form (renamed, or found by labels) and where its cells went."""
    spec = layout.spec
    if recognised is not None:
        sheet = recognised.sheet
        anchors = label_anchors(layout, recognised.texts)
        place = placement(layout, sheet, {}, anchors)
        report.findings.append(finding(
            "XF109", f"{path.name} 缺少表单元数据（可能是把内容复制到了新工作簿）：按表内标签识别为“{spec.name}”"
                     f"（工作表“{sheet}”，{recognised.matched}/{recognised.total} 个标签相符），按项目编码 "
                     f"{report.project_code} 对应到清单；定义名称不可用时按位置读取", sheet=sheet))
        return sheet, place
    sheet, place = spec.sheet, None
    if spec.sheet not in data.sheets and spec.sheet not in data.unread_sheets:
        named = Counter(s for s, _, _ in located.values())
        if not named:
            report.findings.append(finding("XF108", f"找不到工作表“{spec.sheet}”（现有：{'、'.join(data.sheet_names)}）"))
            return None, None
        sheet = named.most_common(1)[0][0]
        report.findings.append(finding("XF108", f"工作表“{spec.sheet}”被改名为“{sheet}”；已按定义名称读取，"
                                                f"请部门改回原名", sheet=sheet))
    if sheet in data.unread_sheets:
        code, why = data.unread_sheets[sheet]
        report.findings.append(finding(code, f"{path.name}：{why}", sheet=sheet))
        return None, None
    return sheet, placement(layout, sheet, located)


def summarize(layout: Layout, score: ScoreResult) -> dict:
    ind = layout.spec.indicators
    groups = {}
    for key, value in score.groups.items():
        g1 = ind.groups[key[0]]
        groups[g1.name if len(key) == 1 else f"{g1.name}/{g1.children[key[1]].name}"] = round(value, 4)
    return {"total": round(score.total, 4), "grade": score.grade,
            "execution_rate": None if score.execution_rate is None else round(score.execution_rate, 6),
            "execution_score": round(score.execution_score, 4), "groups": groups}


def indicator_rows(layout: Layout, score: ScoreResult, values: dict[str, Any]) -> list[dict]:
    ind = layout.spec.indicators
    out = []
    for r in score.indicators:
        g1 = ind.groups[r.row.level1]
        out.append({"number": r.number, "level1": g1.name, "level2": g1.children[r.row.level2].name,
                    "name": r.name, "target": r.target.text, "actual": r.actual.text, "status": r.status,
                    "completion": r.completion, "points": r.points, "score": r.score, "reason": r.reason})
    return out


def funds(layout: Layout, values: dict[str, Any], score: ScoreResult) -> dict:
    from .score import execution
    rate, budget, executed = execution(layout, values)
    spec = layout.spec
    total_f = spec.fields_with_role("fund_total") or spec.fields_with_role("fund_budget")
    total = layout.fields[total_f[0].name].value if total_f else None
    if executed is None and rate is not None and isinstance(total, (int, float)):
        executed = total * rate
    return {"budget": total if budget is None else budget, "executed": executed, "rate": rate}


# ---------------------------------------------------------------- batches

_WORKER: dict = {}
_INHERITED: dict = {}   # what a batch's parent loaded for its forked workers (_preload)


def _init_worker(manifest_path: str, template_dirs: list[str] | None, inherit: bool = False,
                 indicators: bool = True) -> None:
    from .manifest_index import load_for_batch   # a manifest.json, or a ManifestIndex (validate, consolidate)
    _WORKER["indicators"] = indicators
    if inherit and _INHERITED.get("key") == (manifest_path, template_dirs):
        # forked from a parent that loaded these already: share its copy instead of parsing again
        _WORKER["forms"] = _INHERITED["forms"]
        _WORKER["manifest"] = _INHERITED["manifest"] or load_for_batch(manifest_path)
        return
    _WORKER["manifest"] = load_for_batch(manifest_path)
    _WORKER["forms"] = available_forms([Path(d) for d in template_dirs] if template_dirs else None)


def _preload(manifest_path: str, template_dirs: list[str] | None, writes: bool = False) -> bool:
    """In a batch's parent, before its workers are forked: load once what every worker needs, so
    that each inherits it instead of paying for it (a manifest.json took 0.25 s per worker to
    parse; the form specs and the reader's imports — calamine, and XlsxWriter via workbook.py when
    the batch `writes` annotated copies — more). An index (SQLite) is not loaded here: a connection
    must not cross a fork. False where workers are not forked (spawn, forkserver) and inherit nothing."""
    if multiprocessing.get_start_method(allow_none=False) != "fork":
        return False
    if writes:
        from . import annotate  # noqa: F401 - and workbook.py, XlsxWriter
    from .manifest_index import INDEX_SUFFIX, load_for_batch
    import python_calamine  # noqa: F401
    _INHERITED.update(key=(manifest_path, template_dirs),
                      forms=available_forms([Path(d) for d in template_dirs] if template_dirs else None),
                      manifest=None if manifest_path.endswith(INDEX_SUFFIX) else load_for_batch(manifest_path))
    return True


def _close_worker_manifest() -> None:
    manifest = _WORKER.pop("manifest", None)
    if hasattr(manifest, "close"):
        manifest.close()


def _run_one(args: tuple[str, str | None]) -> FileReport:
    path, target = args
    try:
        with paused():   # (see gcpause: a file's short-lived containers are not traversed while it is checked)
            report, _, _ = check_file(Path(path), _WORKER["manifest"], _WORKER["forms"],
                                      Path(target) if target else None)
    except XlformError as exc:
        report = FileReport(path=path, findings=[finding("XF002", f"{Path(path).name}：{exc}")])
    except Exception as exc:  # noqa: BLE001 - one bad file never stops a batch
        report = FileReport(path=path, findings=[finding("XF002", f"{Path(path).name} 处理时出错："
                                                                    f"{type(exc).__name__}: {exc}")])
    if not _WORKER.get("indicators", True):
        report.indicators = []
    return report


def annotated_names(files: list[Path], out_dir: Path) -> list[Path]:
    names, used = [], set()
    # an input named X-批注.xlsx inside out_dir must never be overwritten by its own annotated copy
    inputs = {str(f.resolve()).lower() for f in files}
    for f in files:
        stem = f.stem
        for suffix in ("-批注", "-已校验"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
        name, n = f"{stem}-批注.xlsx", 2
        while name.lower() in used or str((out_dir / name).resolve()).lower() in inputs:
            name, n = f"{stem}-批注({n}).xlsx", n + 1
        used.add(name.lower())
        names.append(out_dir / name)
    return names


def run_batch(files: list[Path], manifest_path: Path, targets: list[Path | None], *, jobs: int | None,
              templates: list[Path] | None, progress: Callable | None) -> list[FileReport]:
    """Every file's report, in the order of `files` (see iter_batch)."""
    wrap = progress or (lambda it, total=None: it)
    return list(wrap(iter_batch(files, manifest_path, targets, jobs=jobs, templates=templates), total=len(files)))


def forks(jobs: int | None, n_files: int) -> bool:
    """Whether iter_batch runs `n_files` in worker processes (else here, one after another)."""
    return max(1, jobs or os.cpu_count() or 1) > 1 and n_files > 2


def iter_batch(files: list[Path], manifest_path: Path, targets: list[Path | None] | None = None, *,
               jobs: int | None = None, templates: list[Path] | None = None,
               indicators: bool = True) -> Iterator[FileReport]:
    """Yield one FileReport per file, in the order of `files`, as the worker processes finish them.

    `jobs` worker processes (default: all cores); at most a few chunks per worker are in flight, so a
    caller that stores each report as it arrives (consolidate) holds only a bounded number at once.
    A file that fails becomes a report with a finding; it never stops the batch. `indicators=False`:
    the reports come without their rows per indicator (consolidate's), not sent between processes.
    """
    tdirs = [str(d) for d in templates] if templates else None
    targets = targets if targets is not None else [None] * len(files)
    args = [(str(f), str(t) if t else None) for f, t in zip(files, targets)]
    jobs = max(1, jobs or os.cpu_count() or 1)
    if not forks(jobs, len(files)):
        _init_worker(str(manifest_path), tdirs, indicators=indicators)
        with frozen():   # the manifest's million objects: not traversed by every full collection
            for a in args:
                yield _run_one(a)
        return
    chunks = iter(_chunks(args, jobs))
    try:
        inherit = _preload(str(manifest_path), tdirs, writes=any(t for _, t in args))
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                 initargs=(str(manifest_path), tdirs, inherit, indicators)) as ex:
            pending: deque = deque()
            # the workers are forked at the first submit: frozen, the objects they inherit are not
            # traversed by their garbage collector (which would also copy every page it touches)
            with frozen():
                for chunk in itertools.islice(chunks, jobs * 4):
                    pending.append(ex.submit(_run_chunk, chunk))
            try:
                while pending:
                    done = pending.popleft().result()
                    nxt = next(chunks, None)
                    if nxt is not None:
                        pending.append(ex.submit(_run_chunk, nxt))
                    yield from done
            except BaseException:       # (closed early, too): leaving the pool waits only for what runs
                for future in pending:
                    future.cancel()
                raise
    finally:
        _INHERITED.clear()


def _chunks(args: list, jobs: int, most: int = 16) -> list[list]:
    """`args` in order, in chunks of at most `most` (one round trip to a worker each) that shrink
    towards the end, down to single files (each a quarter of what is left for two workers): a
    worker that finishes early then waits a file or two for the other, not a chunk (16 files, a
    tenth of a second)."""
    out, i = [], 0
    while i < len(args):
        size = min(most, -(-(len(args) - i) // (jobs * 2)))   # (rounded up: at least 1)
        out.append(args[i:i + size])
        i += size
    return out


def _run_chunk(chunk: list[tuple[str, str | None]]) -> list[FileReport]:
    return [_run_one(a) for a in chunk]


def mark_duplicates(reports: list[FileReport]) -> list[FileReport]:
    """Add XF105 to every report of a project that came more than once; returns those reports."""
    marked: list[FileReport] = []
    by_code: dict[str, list[FileReport]] = {}
    for r in reports:
        if r.project_code and not any(f.code in ("XF101", "XF102") for f in r.findings):
            by_code.setdefault(r.project_code, []).append(r)
    for code, group in by_code.items():
        if len(group) < 2:
            continue
        for r in group:
            others = "、".join(Path(o.path).name for o in group if o is not r)
            sheet, cell, name, label = r.code_at or (None, None, None, None)
            r.findings.insert(0, finding("XF105", f"项目 {code} 收到 {len(group)} 份工作簿；另见：{others}",
                                         sheet=sheet, cell=cell, field=name, label=label))
            marked.append(r)
    return marked


def reannotate(reports: list[FileReport], manifest_path: Path, templates: list[Path] | None) -> None:
    """Write the annotated copies of `reports` again, now with their batch findings (XF105), so the
    copy a department gets back lists the same findings as the report."""
    if not reports:
        return
    from .manifest_index import load_for_batch
    manifest = load_for_batch(manifest_path)
    forms = available_forms(templates)
    try:
        for r in reports:
            if r.annotated:
                check_file(Path(r.path), manifest, forms, Path(r.annotated),
                           batch_findings=[f for f in r.findings if f.code == "XF105"])
    finally:
        if hasattr(manifest, "close"):
            manifest.close()


def validate(paths: Iterable[str | Path], manifest_path: str | Path, out_dir: str | Path | None = None, *,
             json_path: str | Path | None = None, jobs: int | None = None,
             templates: list[Path] | None = None, progress: Callable | None = None) -> RunReport:
    """Validate returned workbooks against the manifest; annotate into out_dir; optional JSON report."""
    from .manifest_index import INDEX_SUFFIX, Building, can_build_in_background
    manifest_path = Path(manifest_path)
    out = Path(out_dir) if out_dir else None
    files = collect_files(paths, exclude=out)
    if not files:
        raise XlformError("没有找到要校验的文件")
    targets: list[Path | None] = annotated_names(files, out) if out else [None] * len(files)
    wrap = progress or (lambda it, total=None: it)
    with tempfile.TemporaryDirectory(prefix="xlform-validate-", ignore_cleanup_errors=True) as work:
        # The manifest goes into an SQLite index; workers look projects up there instead of each
        # holding a province's manifest. With worker processes a child process fills it while they
        # check the first files (see _checked); with one, it is filled first (exit 2 if unreadable).
        index = Path(work) / f"issued{INDEX_SUFFIX}"
        background = forks(jobs, len(files)) and can_build_in_background()
        if background:
            _readable(manifest_path)          # a wrong path still fails at once, before any output
        building = Building(manifest_path, index, _nothing, background=background)
        there = {t for t in targets if t is not None and t.exists()}     # an earlier run's copies stay
        try:
            if out:
                out.mkdir(parents=True, exist_ok=True)
            # rows per indicator are consolidate's: a report here keeps findings and scores
            with contextlib.closing(_checked(files, building, targets, jobs=jobs, templates=templates)) as batch:
                reports = list(wrap(batch, total=len(files)))
        except XlformError:
            # the run failed after copies were written (with workers, a manifest found broken while the
            # first files were checked against what had been read of it): the new copies go, exit 2
            for t in targets:
                if t is not None and t not in there:
                    t.unlink(missing_ok=True)
            raise
        finally:
            building.stop()
            _close_worker_manifest()   # jobs=1 ran here; Windows cannot delete an open SQLite file
        duplicates = mark_duplicates(reports)
        if out:
            reannotate(duplicates, index, templates)
    run = RunReport(reports, str(manifest_path))
    if json_path:
        write_json(Path(json_path), run.to_dict())
    return run


def _nothing(entry: ManifestEntry) -> None:
    """What validate keeps of each manifest entry besides the index: nothing (Building's summarize)."""
    return None


def _readable(manifest_path: Path) -> None:
    """XlformError (exit 2) now for a manifest that is not there or not a file, as reading it would raise."""
    from .inputs import open_regular
    from .manifest import read_error
    try:
        open_regular(manifest_path).close()
    except OSError as exc:
        raise read_error(manifest_path, exc) from None


def while_read(start: Callable[[], Iterator[FileReport]], ready: Callable[[], bool]) -> Iterator[FileReport]:
    """The reports of a batch checked against a manifest index a child process is still filling
    (manifest_index.Building). `start()` begins the batch; once its first report is in, `ready()` waits
    for the whole manifest (raising XlformError if it was missing or broken) and says whether a worker
    may have looked up an entry the manifest replaced further on (a code listed twice: the later entry
    counts). Then the files are checked again, once, against the complete index (only a hand-edited
    manifest lists a code twice). validate and consolidate both read their manifest this way."""
    for attempt in (1, 2):
        reports = start()
        try:
            first = next(reports)
            stale = ready() and attempt == 1
        except BaseException:
            reports.close()
            raise
        if not stale:
            break
        reports.close()
    yield first
    yield from reports


def _checked(files: list[Path], building, targets: list[Path | None], *, jobs, templates
             ) -> Iterator[FileReport]:
    """validate's batch (see while_read), its rows per indicator left in the workers."""
    def ready() -> bool:
        index = building.wait()
        try:
            return building.process is not None and index.listed_twice > 0
        finally:
            index.close()
    return while_read(lambda: iter_batch(files, building.path, targets, jobs=jobs, templates=templates,
                                         indicators=False), ready)


def write_json(path: Path, data: dict) -> None:
    from .atomic import atomic_path
    tmp, commit = atomic_path(path)
    try:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        commit()
    finally:
        if tmp.exists():
            tmp.unlink()
