"""Outputs are written atomically: into a temp file beside the target, renamed onto it when complete.

A reader, a crash or a second run never sees half a file, and the target is replaced in one step.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from pathlib import Path
from typing import IO, Callable, Iterator


def atomic_path(target: Path) -> tuple[Path, Callable[[], None]]:
    """A temp path beside `target` and a commit() that renames it into place (for writers that want
    a file name: XlsxWriter, zipfile); the caller removes the temp path if it does not commit."""
    fd, tmp = _temp_beside(target)
    os.close(fd)
    return Path(tmp), lambda: _commit(tmp, target)


@contextlib.contextmanager
def atomic_open(target: Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """The temp file already open (creating a file costs here about as much as writing a form's
    XML, so it is not opened twice); renamed onto `target` when the block ends, removed if it raises."""
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
        _commit(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_serial = itertools.count()


def _temp_beside(target: Path) -> tuple[int, str]:
    # created 0666 minus the umask, as any new file is (mkstemp's 0600 would need a chmod, and a
    # shared folder, a copy or the zip of a department's workbooks must stay readable by others);
    # unique per process and call, and not guessable by another user of a shared folder; O_EXCL
    # never opens someone else's file
    target.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = os.path.join(target.parent, f".~{os.getpid()}-{next(_serial)}-{secrets.token_hex(4)}{target.suffix}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:     # (practically never: 32 random bits)
            continue
    raise FileExistsError(f"no free temp name beside {target}")


def _commit(tmp: str, target: Path) -> None:
    os.replace(tmp, target)
