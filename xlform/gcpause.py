"""Python's cyclic garbage collector paused while one file is written or checked.

Writing or checking a workbook allocates tens of thousands of short-lived containers (XlsxWriter's
cell tuples and ~60-attribute formats, parsed XML, layout cells). With the collector on, it ran about
once per 700 of them and traversed every survivor again each time: 10 % of generate's CPU time,
measured with gc.callbacks. Paused for one file, nothing is traversed while the file is being made;
what the file leaves in reference cycles (about a thousand objects: XlsxWriter's workbook and its
sheets refer to each other) is collected in one pass at the next allocation after it.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block; nested or already disabled: left as it is."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
