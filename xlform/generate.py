"""generate: one locked workbook per project, and the manifest that proves later what was issued."""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import re
import secrets
import shutil
import zipfile
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import __version__, gcpause
from .errors import XlformError
from .layout import Layout, build_layout
from .manifest import Manifest, ManifestEntry, entry_json, fingerprint, write_manifest
from .projects import Project, ProjectList
from .spec import FormSpec, available_forms, get_form
from .atomic import atomic_path
from .workbook import write_workbook

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_filename(*parts: str, limit: int = 120) -> str:
    """主管部门_项目编码_项目名称, safe on Windows: no reserved characters, bounded length."""
    name = "_".join(_UNSAFE.sub("－", str(p)).strip() for p in parts if str(p).strip())
    name = name.strip(" .") or "未命名"
    if len(name) > limit:
        name = name[:limit].rstrip(" .")
    if name.split(".")[0].upper() in {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                                      *(f"LPT{i}" for i in range(1, 10))}:
        name = "_" + name
    return name


def workbook_meta(layout: Layout, project_code: str, locked_fp: str) -> dict[str, str]:
    spec = layout.spec
    return {"xlform": __version__, "form_id": spec.id, "form_version": spec.version,
            "project_code": project_code, "year": str(layout.year), "fingerprint": locked_fp,
            "title": spec.render(spec.title, year=layout.year)}


def render_project(spec: FormSpec, project: Project | None, path: Path, year: int,
                   password: str | None = None) -> ManifestEntry:
    with gcpause.paused():
        layout = build_layout(spec, project, year)
        locked = layout.locked_values()
        code = project.code if project else ""
        fp = fingerprint(spec.id, spec.version, code, year, locked)
        write_workbook(layout, path, workbook_meta(layout, code, fp), password=password)
    return ManifestEntry(file=path.name, project_code=code, department=project.department if project else "",
                         project_name=project.name if project else "", form_id=spec.id,
                         form_version=spec.version, year=year, fingerprint=fp, locked=locked,
                         project=project.to_dict() if project else None)


@dataclass
class GenerateResult:
    out_dir: Path
    manifest_path: Path
    files: list[Path] = field(default_factory=list)
    zips: list[Path] = field(default_factory=list)


def generate(projects_file: str | Path | None, out_dir: str | Path, *, form: str | None = None,
             year: int | None = None, password: str | None = None, by_department: bool = False,
             blank: bool = False, templates: list[Path] | None = None, progress=None,
             jobs: int | None = 1) -> GenerateResult:
    """Generate workbooks into `out_dir` with manifest.json.

    Nothing appears in `out_dir` unless the whole project list is fine and every workbook is written:
    they are written under temporary names (see _Staging) and moved into place together at the end.
    `jobs` worker processes write the workbooks (None: all cores), starting while the list is still
    being read; the workbooks and the manifest are the same either way."""
    out = Path(out_dir)
    forms = available_forms(templates)
    if blank:
        if not form:
            raise XlformError("生成空白表需要用 --form 指定表单")
        spec = get_form(form, templates)
        y = year or spec.default_year
        path = out / f"{safe_filename(spec.render(spec.title, year=y), '空白表')}.xlsx"
        entry = render_project(spec, None, path, y, password)
        manifest = Manifest(year=y, entries=[entry])
        return GenerateResult(out, manifest.save(out / "manifest.json"), [path])
    if projects_file is None:
        raise XlformError("请用 --projects 指定项目清单（.xlsx 或 .csv），或用 --blank 生成空白表")
    if form is not None and form not in forms:
        get_form(form, templates)  # raises the "unknown form" message
    jobs = max(1, jobs or os.cpu_count() or 1)
    # the staging folder outlives the pool: removed only once no worker can still write into it
    with _Staging(out) as staging, _pool(jobs, templates) as pool:
        return _generate_list(projects_file, out, forms, form, year, password, by_department, progress, pool, jobs,
                              staging)


@contextlib.contextmanager
def _pool(jobs: int, templates: list[Path] | None) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes, started before the project list is read: a forked worker shares its parent's
    pages, and at a province's scale the list is most of the parent (10,000 projects: ~100 MB)."""
    if jobs == 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                             initargs=([str(d) for d in templates] if templates else None,)) as ex:
        ex.submit(int).result()   # a fork start method starts every worker at the first task
        yield ex


def _generate_list(projects_file: str | Path, out: Path, forms: dict[str, FormSpec], form: str | None,
                   year: int | None, password: str | None, by_department: bool, progress,
                   pool: ProcessPoolExecutor | None, jobs: int, staging: "_Staging") -> GenerateResult:
    listing = ProjectList(projects_file, forms, form)
    result = GenerateResult(out, out / "manifest.json")
    if pool is None or listing.count <= 2:
        items = sorted(listing.all(), key=_order)     # the whole list checked before anything is written
        paths = {p.code: _file_path(p, out, by_department) for p in items}
        _check_names(items, paths)
        staged = {p.code: staging.temp() for p in items}
        entries = (_render_entry(forms[p.form_id], p, staged[p.code], str(paths[p.code].relative_to(out)),
                                 year, password) for p in (progress(items) if progress else items))
        manifest = write_manifest(staging.temp(".json"), year, _now(), entries)
    else:
        items, paths, staged, manifest = _generate_parallel(listing, out, year, password, by_department, progress,
                                                            pool, jobs, staging)
    staging.commit([(staged[p.code], paths[p.code]) for p in items] + [(manifest, result.manifest_path)])
    result.files.extend(paths[p.code] for p in items)
    if by_department:
        for folder in sorted({p.parent for p in result.files}):
            result.zips.append(_zip_folder(folder))
    return result


def _order(project: Project) -> tuple[str, str]:
    return project.department, project.code


def _file_path(project: Project, out: Path, by_department: bool) -> Path:
    folder = out / safe_filename(project.department) if by_department else out
    return folder / (safe_filename(project.department, project.code, project.name) + ".xlsx")


def _check_names(items: list[Project], paths: dict[str, Path]) -> None:
    """Two projects must not share a file name (as Windows and macOS compare names: any case)."""
    names: dict[str, Project] = {}
    for project in items:
        key = str(paths[project.code]).lower()
        if key in names:
            raise XlformError(f"项目 {names[key].code} 和 {project.code} 生成了相同的文件名 "
                              f"{paths[project.code].name}，未生成任何文件；请缩短项目名称")
        names[key] = project


def _generate_parallel(listing: ProjectList, out: Path, year: int | None, password: str | None,
                       by_department: bool, progress, pool: ProcessPoolExecutor, jobs: int, staging: "_Staging"
                       ) -> tuple[list[Project], dict[str, Path], dict[str, Path], Path]:
    """The workers write each project as soon as the list hands it out, while the parent still reads
    and checks the rest: the list's reading no longer keeps both cores waiting. Returns the projects,
    their paths, their staged files and the staged manifest; on any failure, cancels what is queued."""
    size = max(1, min(16, listing.count // (jobs * 4) or 1))
    paths: dict[str, Path] = {}
    staged: dict[str, Path] = {}
    sent: deque[tuple[list[str], Future]] = deque()
    chunk: list[tuple] = []

    def send() -> None:
        sent.append(([a[0].code for a in chunk], pool.submit(_render_chunk, list(chunk))))
        chunk.clear()

    try:
        for project in listing.stream():
            path = paths[project.code] = _file_path(project, out, by_department)
            temp = staged[project.code] = staging.temp()
            # the Project itself: the chunks wait in the pool's queue, and a dict made now for each
            # would hold a second copy of the list's structure there (10,000 projects: ~130 MB)
            chunk.append((project, str(temp), str(path.relative_to(out)), year, password))
            if len(chunk) == size:
                send()
        if chunk:
            send()
        items = sorted(listing.projects(), key=_order)
        _check_names(items, paths)
        # the entries come in the list's order and the manifest is in the projects' order: they wait
        # on disk (~9 KB each, 90 MB for a province), not in memory
        with open(staging.temp(".entries"), "w+b") as spool:
            at: dict[str, tuple[int, int]] = {}
            for code, text in (progress(_results(sent), total=len(items)) if progress else _results(sent)):
                data = text.encode("utf-8")
                at[code] = (spool.tell(), len(data))
                spool.write(data)
            manifest = write_manifest(staging.temp(".json"), year, _now(),
                                      (_read_at(spool, *at[p.code]) for p in items))
    except BaseException:
        for _, future in sent:
            future.cancel()     # what is running finishes before the pool (and then _Staging) closes
        raise
    return items, paths, staged, manifest


def _results(sent: deque[tuple[list[str], Future]]) -> Iterator[tuple[str, str]]:
    """Each project's code and entry, in the order sent; a chunk's future is let go once read (it
    holds its entries' texts)."""
    while sent:
        codes, future = sent[0]
        yield from zip(codes, future.result())
        sent.popleft()


def _read_at(fh, offset: int, size: int) -> str:
    fh.seek(offset)
    return fh.read(size).decode("utf-8")


class _Staging:
    """Files written under temporary names in a folder of their own inside the output folder, and
    moved into place together: all of them, or none and the output folder as it was.

    The folder is `.xlform-staging-…` and its files `.~…`, names validate never takes for a returned
    workbook, should a killed run leave them. As a context manager: on an error, removes the folder
    and every folder this run created that is still empty; otherwise only the staging folder."""

    def __init__(self, out: Path):
        self.out = out
        self.folder: Path | None = None     # made when the first file is asked for
        self.made: list[Path] = []          # folders this run created, for the clean-up
        self._there: set[Path] = set()      # folders known to exist
        self._serial = 0

    def temp(self, suffix: str = ".xlsx") -> Path:
        if self.folder is None:
            self.folder = self._make_folder()
        self._serial += 1
        return self.folder / f".~{self._serial}{suffix}"

    def _make_folder(self) -> Path:
        self._mkdir(self.out)
        while True:
            folder = self.out / f".xlform-staging-{secrets.token_hex(4)}"
            try:
                folder.mkdir()
            except FileExistsError:     # (practically never: 32 random bits)
                continue
            if _WINDOWS:
                _mark_hidden(folder)
            return folder

    def _mkdir(self, folder: Path) -> None:
        if folder in self._there:
            return
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        self.made.extend(missing)
        self._there.add(folder)

    def commit(self, moves: list[tuple[Path, Path]]) -> None:
        """Move each staged file onto its target. A target that exists is first set aside; if any move
        fails (a workbook open in Excel or WPS on Windows, a full disk), every move made is undone and
        the old files put back."""
        undo: list[tuple[Path, Path | None]] = []
        beside: list[Path] = []     # backups that had to stay on the target's own volume
        for src, dst in moves:
            backup = None
            try:
                self._mkdir(dst.parent)
                if os.path.lexists(dst):
                    backup = self._set_aside(dst, beside)
                _move(src, dst)
            except BaseException as exc:
                if backup is not None:
                    undo.append((dst, backup))
                lost = self._undo(undo)
                if lost:
                    self.folder = None      # keep it: it holds the backups not put back
                if not isinstance(exc, OSError):    # Ctrl-C during the moves: put back, then stop
                    raise
                kept = "输出文件夹未作改动" if not lost else \
                    (f"以下文件未能还原：{'、'.join(str(d) for d, _ in lost)}"
                     f"（原有文件的备份：{'、'.join(str(b) for _, b in lost if b is not None) or '无'}）")
                hint = "该文件可能正在被 Excel 或 WPS 打开，请关闭后重新生成" if isinstance(exc, PermissionError) \
                    else "请检查输出文件夹（磁盘空间、是否可写）后重新生成"
                raise XlformError(f"无法写入 {dst}：{exc.strerror or exc}。{hint}；{kept}") from None
            undo.append((dst, backup))
        for backup in beside:       # all in place: the old files are no longer needed
            with contextlib.suppress(OSError):
                os.remove(backup)

    def _set_aside(self, dst: Path, beside: list[Path]) -> Path:
        """Move an existing target out of the way, into the staging folder; beside the target when its
        folder is on another volume (a department folder that is a link or a junction to one)."""
        backup = self.temp(".old")
        try:
            os.replace(dst, backup)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            backup = dst.with_name(f".~xlform-old-{secrets.token_hex(4)}{dst.suffix}")
            os.replace(dst, backup)
            beside.append(backup)
        return backup

    @staticmethod
    def _undo(undo: list[tuple[Path, Path | None]]) -> list[tuple[Path, Path | None]]:
        lost = []
        for dst, backup in reversed(undo):
            try:
                if backup is None:
                    os.remove(dst)
                else:
                    os.replace(backup, dst)
            except OSError:
                lost.append((dst, backup))
        return lost

    def __enter__(self) -> "_Staging":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        if exc_type is not None:
            for folder in sorted(self.made, key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()          # only if empty


def _move(src: Path, dst: Path) -> None:
    """os.replace(src, dst); when dst's folder is on another volume than the staging folder (a link
    or junction to one: a rename cannot cross), src is copied beside dst first and renamed onto it
    there, so a reader still sees the old file or the new one, never half of one."""
    try:
        os.replace(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    tmp, commit = atomic_path(dst)
    try:
        shutil.copyfile(src, tmp)
        commit()
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError):     # (the staging folder goes at the end in any case)
        os.remove(src)


_WINDOWS = os.name == "nt"
_FILE_ATTRIBUTE_HIDDEN = 0x2


def _mark_hidden(folder: Path) -> None:
    """Hide the staging folder in Windows Explorer, where a leading dot hides nothing: a user looking
    at the output folder during a run should not see it (nor open a half-written workbook in it)."""
    import ctypes
    with contextlib.suppress(AttributeError, OSError):   # no harm done if it stays visible
        ctypes.windll.kernel32.SetFileAttributesW(str(folder), _FILE_ATTRIBUTE_HIDDEN)


_FORMS: dict[str, FormSpec] = {}


def _init_worker(template_dirs: list[str] | None) -> None:
    _FORMS.update(available_forms([Path(d) for d in template_dirs] if template_dirs else None))


def _render_entry(spec: FormSpec, project: Project, path: Path, rel: str, year: int | None,
                  password: str | None) -> str:
    entry = render_project(spec, project, path, year or spec.default_year, password)
    entry.file = rel
    return entry_json(entry)


def _render_chunk(chunk: list[tuple[Project, str, str, int | None, str | None]]) -> list[str]:
    return [_render_entry(_FORMS[p.form_id], p, Path(path), rel, year, password)
            for p, path, rel, year, password in chunk]


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _zip_folder(folder: Path) -> Path:
    target = folder.with_suffix(".zip")
    tmp, commit = atomic_path(target)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.glob("*.xlsx")):
                zf.write(f, f"{folder.name}/{f.name}")
        commit()
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def clean_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
