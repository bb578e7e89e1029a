"""Outputs are written atomically: into a temp file beside the target, renamed onto it when complete.

A reader, a crash or a second run never sees half a file, and the target is replaced in one step.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
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


def _temp_beside(target: Path) -> tuple[int, str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=".~", suffix=target.suffix, dir=target.parent)


def _commit(tmp: str, target: Path) -> None:
    # mkstemp makes the file 0600; give it the mode any new file gets (umask), so a shared folder,
    # a copy or the zip of a department's workbooks stays readable by others
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, target)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
