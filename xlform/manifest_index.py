"""A manifest on disk, read one entry at a time: for batches of thousands of projects.

`Manifest.load` parses the whole manifest.json into memory; each entry carries every locked cell of
its workbook, so 10,000 projects are a 120 MB file and about 500 MB of Python objects — in the
parent and again in every worker process. `ManifestIndex.build` streams the file instead (one entry
in memory at a time), stores each entry's JSON text in a SQLite file keyed by project code, and the
workers look entries up there one at a time (validate's worker initializer opens an index when it
is given one). It answers the two questions check_file asks of a Manifest: `by_code().get(code)`
and `entries` (iterated only for files that lost their metadata).
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import XlformError
from .manifest import MANIFEST_VERSION, ManifestEntry

INDEX_SUFFIX = ".manifest.sqlite"
_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


class _Stream:
    """JSON values read from a text file a chunk at a time (the stdlib decoder on a moving buffer)."""

    def __init__(self, fh, chunk: int = 1 << 20):
        self.fh, self.chunk, self.buf, self.pos, self.eof = fh, chunk, "", 0, False

    def _more(self) -> bool:
        if self.eof:
            return False
        data = self.fh.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.buf, self.pos = self.buf[self.pos:] + data, 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end), without consuming it."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._more():
                return ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise ValueError(f"expected {ch!r} at character {self.pos}")
        self.pos += 1

    def more_items(self, closer: str) -> bool:
        """After an item of an array or object: True at a ',', False at `closer` (both consumed)."""
        c = self.peek()
        self.pos += 1
        if c == closer:
            return False
        if c != ",":
            raise ValueError(f"expected ',' or {closer!r} at character {self.pos}")
        return True

    def value(self) -> tuple[Any, str]:
        """The next JSON value and its text."""
        self.peek()
        while True:
            try:
                v, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self._more():
                    continue
                raise
            # a value that reaches the end of the buffer may have been cut (a number): read on first
            if end >= len(self.buf) and self._more():
                continue
            text, self.pos = self.buf[self.pos:end], end
            return v, text


def stream_manifest(path: Path, on_entry: Callable[[dict, str], None], chunk: int = 1 << 20) -> dict:
    """Call on_entry(entry, its JSON text) for every entry of manifest.json; return the other keys."""
    header: dict[str, Any] = {}
    seen_files = False
    with open(path, encoding="utf-8") as fh:
        s = _Stream(fh, chunk)
        s.expect("{")
        if s.peek() == "}":
            raise ValueError("empty manifest")
        while True:
            key, _ = s.value()
            if not isinstance(key, str):
                raise ValueError("a key must be a string")
            s.expect(":")
            if key == "files":
                seen_files = True
                s.expect("[")
                if s.peek() == "]":
                    s.pos += 1
                else:
                    while True:
                        entry, text = s.value()
                        if not isinstance(entry, dict):
                            raise TypeError("an entry must be an object")
                        on_entry(entry, text)
                        if not s.more_items("]"):
                            break
            else:
                header[key], _ = s.value()
                if key == "manifest_version" and header[key] != MANIFEST_VERSION:
                    raise XlformError(f"清单文件 {path.name} 的版本 {header[key]} 不受支持")
            if not s.more_items("}"):
                break
    if header.get("manifest_version") != MANIFEST_VERSION:
        raise XlformError(f"清单文件 {path.name} 的版本 {header.get('manifest_version')} 不受支持")
    if not seen_files:
        raise KeyError("files")
    return header


class _Lookup:
    def __init__(self, index: "ManifestIndex"):
        self.index = index

    def get(self, code: str, default: ManifestEntry | None = None) -> ManifestEntry | None:
        row = self.index.db.execute("SELECT body FROM entries WHERE code = ?", (code,)).fetchone()
        return default if row is None else ManifestEntry(**json.loads(row[0]))

    def __contains__(self, code: object) -> bool:
        return self.index.db.execute("SELECT 1 FROM entries WHERE code = ?", (code,)).fetchone() is not None

    def __getitem__(self, code: str) -> ManifestEntry:
        e = self.get(code)
        if e is None:
            raise KeyError(code)
        return e


class ManifestIndex:
    """A read-only view of a manifest kept in a SQLite file (see the module docstring)."""

    def __init__(self, db_path: str | Path):
        self.path = Path(db_path)
        self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        self.created: str = json.loads(meta.get("created", '""')) or ""
        self.year: int | None = json.loads(meta.get("year", "null"))

    def by_code(self) -> _Lookup:
        return _Lookup(self)

    @property
    def entries(self) -> Iterator[ManifestEntry]:
        for (body,) in self.db.execute("SELECT body FROM entries ORDER BY rowid"):
            yield ManifestEntry(**json.loads(body))

    @classmethod
    def build(cls, manifest_path: str | Path, db_path: str | Path,
              on_entry: Callable[[ManifestEntry], None] | None = None, chunk: int = 1 << 20) -> "ManifestIndex":
        """Stream manifest.json into `db_path`; on_entry(entry) sees each entry once, as it is read.

        Raises XlformError with the same messages as Manifest.load for a missing or broken manifest."""
        manifest_path, db_path = Path(manifest_path), Path(db_path)
        db = sqlite3.connect(str(db_path))
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("CREATE TABLE entries (code TEXT PRIMARY KEY, body TEXT NOT NULL)")
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")

            def add(entry: dict, text: str) -> None:
                e = ManifestEntry(**entry)
                db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?)", (e.project_code, text))
                if on_entry is not None:
                    on_entry(e)

            try:
                header = stream_manifest(manifest_path, add, chunk)
            except FileNotFoundError:
                raise XlformError(f"找不到 manifest 文件：{manifest_path}") from None
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise XlformError(f"manifest 文件 {manifest_path.name} 无法读取或已损坏：{exc}") from None
            db.executemany("INSERT INTO meta VALUES (?, ?)",
                           [(k, json.dumps(header.get(k), ensure_ascii=False)) for k in ("created", "year")])
            db.commit()
        finally:
            db.close()
        return cls(db_path)

    def close(self) -> None:
        self.db.close()


def load_for_batch(path: str | Path):
    """What a batch worker checks files against: an index if given one, else the whole manifest."""
    if str(path).endswith(INDEX_SUFFIX):
        return ManifestIndex(path)
    from .manifest import Manifest
    return Manifest.load(path)
