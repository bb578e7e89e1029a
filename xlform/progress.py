"""A progress bar for batches (tqdm), shown only when a run has more than a handful of files."""
from __future__ import annotations

import sys
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
THRESHOLD = 5


def progress_for(label: str) -> Callable[[Iterable[T]], Iterable[T]]:
    def wrap(items: Iterable[T], total: int | None = None) -> Iterable[T]:
        items = list(items) if total is None else items
        n = total if total is not None else len(items)
        if n <= THRESHOLD or not sys.stderr.isatty() and not _forced():
            return items
        from tqdm import tqdm
        return tqdm(items, total=n, desc=label, unit="个", file=sys.stderr, leave=False)
    return wrap


def _forced() -> bool:
    import os
    return os.environ.get("XLFORM_PROGRESS") == "1"
