"""A manifest on disk, read one entry at a time: for batches of thousands of projects.

`Manifest.load` parses the whole manifest.json into memory; each entry carries every locked cell of
its workbook, so 10,000 projects are a 120 MB file and about 500 MB of Python objects — in the
parent and again in every worker process. `ManifestIndex.build` streams the file instead (one entry
in memory at a time), stores each entry's JSON text in a SQLite file keyed by project code, and the
workers look entries up there one at a time (validate's worker initializer opens an index when it
is given one). It answers the two questions check_file asks of a Manifest: `by_code().get(code)`
and `entries` (iterated only for files that lost their metadata). `Building` fills the index in a
child process while the workers already use it (consolidate --jobs 2 and more).
"""
from __future__ import annotations

import io
import json
import marshal
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import XlformError
from .inputs import open_regular
from .manifest import MANIFEST_VERSION, READ_ERRORS, ManifestEntry, read_error

try:
    import fcntl
except ImportError:             # not POSIX: no Building, the index is built before it is used
    fcntl = None  # type: ignore[assignment]

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
    with io.TextIOWrapper(open_regular(path), encoding="utf-8") as fh:
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
        body = self.index.body(code)
        return default if body is None else ManifestEntry(**json.loads(body))

    def __contains__(self, code: object) -> bool:
        return self.index.body(code) is not None

    def __getitem__(self, code: str) -> ManifestEntry:
        e = self.get(code)
        if e is None:
            raise KeyError(code)
        return e


class ManifestIndex:
    """A read-only view of a manifest kept in a SQLite file (see the module docstring).

    The index may still be being filled by a Building (a child process streaming the manifest in):
    a code not there yet is waited for until it comes or the manifest has been read to the end."""

    def __init__(self, db_path: str | Path):
        self.path = Path(db_path)
        self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        self._meta: dict[str, Any] | None = None          # once the index is complete

    @property
    def created(self) -> str:
        return self._complete_meta().get("created") or ""

    @property
    def year(self) -> int | None:
        return self._complete_meta().get("year")

    @property
    def listed_twice(self) -> int:
        """Codes that came again later in the manifest (the later entry replaced the earlier)."""
        return self._complete_meta().get("twice", 0)

    def by_code(self) -> _Lookup:
        return _Lookup(self)

    def body(self, code: object) -> str | None:
        """An entry's JSON text, or None if the manifest has no such code."""
        while True:
            complete = self._complete()       # asked first: once complete, what the query sees is all
            row = self.db.execute("SELECT body FROM entries WHERE code = ?", (code,)).fetchone()
            if row is not None or complete:
                return None if row is None else row[0]
            time.sleep(_WAIT)

    @property
    def entries(self) -> Iterator[ManifestEntry]:
        self._complete_meta()
        for (body,) in self.db.execute("SELECT body FROM entries ORDER BY rowid"):
            yield ManifestEntry(**json.loads(body))

    def summaries(self) -> list[Any]:
        """What Building's `summarize` gave for each entry (None left out), in the manifest's order."""
        self._complete_meta()
        return [marshal.loads(s) for (s,) in
                self.db.execute("SELECT summary FROM entries WHERE summary IS NOT NULL ORDER BY rowid")]

    def _complete(self) -> bool:
        """Whether the index holds the whole manifest; raises XlformError if it never will."""
        if self._meta is None:
            meta = self._read_meta()
            if meta.get(_STATE) == _BUILDING:
                if not _builder_gone(self.path):
                    return False
                meta = self._read_meta()      # it may have finished just as it was asked
            if meta.get(_STATE) != _DONE:
                raise XlformError(meta.get("error") or "manifest 未能读完：读取它的进程意外退出")
            self._meta = meta
        return True

    def _complete_meta(self) -> dict[str, Any]:
        while not self._complete():
            time.sleep(_WAIT)
        return self._meta

    def _read_meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    @classmethod
    def build(cls, manifest_path: str | Path, db_path: str | Path,
              on_entry: Callable[[ManifestEntry], None] | None = None, chunk: int = 1 << 20) -> "ManifestIndex":
        """Stream manifest.json into `db_path`; on_entry(entry) sees each entry once, as it is read.

        Raises XlformError with the same messages as Manifest.load for a missing or broken manifest."""
        def see(entry: ManifestEntry) -> None:        # (nothing to store with the entry)
            if on_entry is not None:
                on_entry(entry)

        _fill_here(Path(manifest_path), Path(db_path), see, chunk)
        return cls(db_path)

    def close(self) -> None:
        self.db.close()


class Building:
    """manifest.json streamed into an index by a forked child process, while the index is used.

    For a batch whose workers start at once: they look their entries up as the child adds them
    (a manifest lists its projects in the order generate names the files, and the child takes
    ~0.2 ms an entry where a worker takes ~8 ms a file, so it keeps ahead), instead of waiting for
    the whole manifest before the first file is read. `summarize(entry)` runs in the child; what it
    returns (marshal-able, or None) is stored with the entry and read back with summaries().
    background=False fills the index here and now instead (one process: nothing to overlap).

    A broken manifest is reported by wait() with build()'s message (and to the workers' lookups
    meanwhile); a child that dies is noticed through a lock it holds until it exits."""

    def __init__(self, manifest_path: str | Path, db_path: str | Path,
                 summarize: Callable[[ManifestEntry], Any], chunk: int = 1 << 20, background: bool = True):
        self.path, self.process = Path(db_path), None
        if not background:          # here and now, no child: raises at once for a broken manifest
            _fill_here(Path(manifest_path), self.path, summarize, chunk)
            return
        _create(self.path, wal=True).close()            # WAL: lookups read while the child writes
        lock = os.open(_lock_path(self.path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)            # held by the child (the same open file) until it exits
            self.process = multiprocessing.get_context("fork").Process(
                target=_build_in_child, args=(Path(manifest_path), self.path, summarize, chunk), daemon=True)
            self.process.start()
        finally:
            os.close(lock)

    def wait(self) -> ManifestIndex:
        """The complete index; raises XlformError as build() would for a missing or broken manifest."""
        if self.process is not None:
            self.process.join()
        index = ManifestIndex(self.path)
        try:
            index._complete()
        except XlformError:
            index.close()
            raise
        return index

    def stop(self) -> None:
        """End the child if it is still reading (the run stopped early)."""
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join()


def can_build_in_background() -> bool:
    """Whether a Building's child process can be used here: it forks (only where processes are forked
    anyway, as the batch's workers are: not on macOS or Windows), and its lock is POSIX's."""
    return fcntl is not None and multiprocessing.get_start_method(allow_none=False) == "fork"


_STATE, _BUILDING, _DONE, _FAILED = "state", "building", "done", "failed"
_WAIT = 0.002               # seconds between looks for an entry the child has not added yet
_COMMIT_EVERY = 32          # entries the child adds before the workers can see them


def _create(db_path: Path, wal: bool) -> sqlite3.Connection:
    db = sqlite3.connect(str(db_path))
    db.execute(f"PRAGMA journal_mode={'WAL' if wal else 'OFF'}")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE entries (code TEXT PRIMARY KEY, body TEXT NOT NULL, summary BLOB)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES (?, ?)", (_STATE, json.dumps(_BUILDING)))
    db.commit()
    return db


def _fill_here(manifest_path: Path, db_path: Path, summarize: Callable[[ManifestEntry], Any], chunk: int) -> None:
    db = _create(db_path, wal=False)
    try:
        _fill(db, manifest_path, summarize, chunk)
    finally:
        db.close()


def _fill(db: sqlite3.Connection, manifest_path: Path, summarize: Callable[[ManifestEntry], Any],
          chunk: int, commit_every: int = 0) -> None:
    """Every entry of manifest.json into `db`, then its header and state done; XlformError if broken."""
    seen: set[str] = set()
    twice = 0

    def add(entry: dict, text: str) -> None:
        nonlocal twice
        e = ManifestEntry(**entry)
        summary = summarize(e)
        db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)",
                   (e.project_code, text, None if summary is None else marshal.dumps(summary)))
        twice += e.project_code in seen
        seen.add(e.project_code)
        if commit_every and len(seen) % commit_every == 0:
            db.commit()

    try:
        header = stream_manifest(manifest_path, add, chunk)
    except READ_ERRORS as exc:
        raise read_error(manifest_path, exc) from None
    _set_meta(db, created=header.get("created"), year=header.get("year"), twice=twice, state=_DONE)


def _set_meta(db: sqlite3.Connection, **values: Any) -> None:
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                   [(k, json.dumps(v, ensure_ascii=False)) for k, v in values.items()])
    db.commit()


def _build_in_child(manifest_path: Path, db_path: Path, summarize: Callable[[ManifestEntry], Any],
                    chunk: int) -> None:
    db = sqlite3.connect(str(db_path))
    try:
        db.execute("PRAGMA synchronous=OFF")
        _fill(db, manifest_path, summarize, chunk, _COMMIT_EVERY)
    except Exception as exc:  # noqa: BLE001 - told to the parent and the workers, never printed here
        message = str(exc) if isinstance(exc, XlformError) else \
            f"manifest 文件 {manifest_path.name} 无法读取：{type(exc).__name__}: {exc}"
        db.rollback()
        _set_meta(db, state=_FAILED, error=message)
    finally:
        db.close()


def _lock_path(db_path: Path) -> str:
    return f"{db_path}.lock"


def _builder_gone(db_path: Path) -> bool:
    """Whether no Building child holds the index's lock any more (it exited, however it ended)."""
    try:
        fd = os.open(_lock_path(db_path), os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def load_for_batch(path: str | Path):
    """What a batch worker checks files against: an index if given one, else the whole manifest."""
    if str(path).endswith(INDEX_SUFFIX):
        return ManifestIndex(path)
    from .manifest import Manifest
    return Manifest.load(path)
