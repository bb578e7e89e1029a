"""Opening an input file without hanging on it.

A path given on the command line may name a FIFO, a device or a folder: open() on a FIFO waits for a
writer forever, and /dev/zero never ends. Inputs are opened non-blocking and refused unless they are
regular files (for a regular file O_NONBLOCK changes nothing), in one open: no window between a check
and the open for the path to change.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFile(OSError):
    """The path is a folder, a pipe, a socket or a device: nothing a user would mean as a file."""

    def __init__(self, path: str | Path):
        super().__init__(errno.EINVAL, "不是普通文件（是文件夹、管道或设备）", str(path))

    def __str__(self) -> str:
        return self.strerror


def open_regular(path: str | Path) -> BinaryIO:
    """`path` opened for reading in binary; NotRegularFile unless it is a regular file, OSError as open()."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
