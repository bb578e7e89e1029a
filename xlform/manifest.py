"""manifest.json: what the bureau issued, kept by the bureau, never trusted from a returned file.

For every generated workbook: the project, its form and version, the file, the content of every
locked cell (labels, targets, points, identity) and a SHA-256 fingerprint over them. The same
fingerprint is written into the workbook's metadata, so a returned file is matched to what was
sent, and a changed target is shown with the value that was issued.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import __version__
from .atomic import atomic_open
from .errors import XlformError
from .inputs import NotRegularFile, open_regular

MANIFEST_VERSION = 1


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def fingerprint(form_id: str, version: str, code: str, year: int, locked: dict[str, Any]) -> str:
    body = json.dumps({"form": form_id, "version": version, "project": code, "year": year,
                       "locked": {k: _canonical(v) for k, v in sorted(locked.items())}},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass
class ManifestEntry:
    file: str
    project_code: str
    department: str
    project_name: str
    form_id: str
    form_version: str
    year: int
    fingerprint: str
    locked: dict[str, Any]
    project: dict | None = None


def entry_json(e: ManifestEntry) -> str:
    """One entry as compact JSON (asdict's key order, without its deep copy): the C encoder,
    a tenth of the indented pure-Python encoding; generate's workers encode their own entries.

    U+2028/U+2029 are escaped: JSON allows them raw, but line-based tools (and str.splitlines)
    treat them as line breaks, which would split an entry of the one-entry-per-line file."""
    text = json.dumps({"file": e.file, "project_code": e.project_code, "department": e.department,
                       "project_name": e.project_name, "form_id": e.form_id, "form_version": e.form_version,
                       "year": e.year, "fingerprint": e.fingerprint, "locked": e.locked, "project": e.project},
                      ensure_ascii=False, separators=(",", ":"), default=_canonical)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def write_manifest(path: Path, year: int | None, created: str, entries: Iterable[str]) -> Path:
    """manifest.json written atomically from entries' JSON texts, one entry per line, as they come."""
    header = json.dumps({"manifest_version": MANIFEST_VERSION, "xlform": __version__, "created": created,
                         "year": year}, ensure_ascii=False, separators=(",", ":"))
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(header[:-1] + ',"files":[')
        sep = "\n"
        for text in entries:
            fh.write(sep + text)
            sep = ",\n"
        fh.write("\n]}\n")
    return path


# what reading and parsing a manifest.json can raise, and the message for each (Manifest.load, and
# manifest_index for the streamed read)
READ_ERRORS = (OSError, ValueError, KeyError, TypeError)


def read_error(path: Path, exc: BaseException) -> XlformError:
    """The Chinese message for one of READ_ERRORS met reading manifest.json at `path`."""
    if isinstance(exc, FileNotFoundError):
        return XlformError(f"找不到 manifest 文件：{path}")
    if isinstance(exc, NotRegularFile):
        return XlformError(f"manifest 文件 {path.name} {exc}，无法读取")
    return XlformError(f"manifest 文件 {path.name} 无法读取或已损坏：{exc}")


@dataclass
class Manifest:
    year: int | None = None
    entries: list[ManifestEntry] = field(default_factory=list)
    created: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))

    def by_code(self) -> dict[str, ManifestEntry]:
        # built once: validate looks a project up per file, and 10,000 entries made that quadratic
        index = self.__dict__.get("_by_code")
        if index is None or len(index) != len(self.entries):
            index = self.__dict__["_by_code"] = {e.project_code: e for e in self.entries}
        return index

    def save(self, path: Path) -> Path:
        return write_manifest(path, self.year, self.created, map(entry_json, self.entries))

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        try:
            # decoded at once: read_text's newline translation cost a third of the load (a JSON text
            # holds line ends only as white space, where either is the same)
            with open_regular(path) as fh:
                data = json.loads(fh.read().decode("utf-8"))
            if data.get("manifest_version") != MANIFEST_VERSION:
                raise XlformError(f"清单文件 {path.name} 的版本 {data.get('manifest_version')} 不受支持")
            entries = [ManifestEntry(**e) for e in data["files"]]
        except READ_ERRORS as exc:
            raise read_error(path, exc) from None
        return cls(year=data.get("year"), entries=entries, created=data.get("created", ""))
