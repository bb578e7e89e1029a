"""Python's cyclic garbage collector paused while one file is written or checked (`paused`), and a
batch's long-lived data kept out of its way (`frozen`).

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


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """The objects alive now (a batch's manifest and specs) set aside from the cyclic garbage
    collector for the block (gc.freeze), and given back after it: a full collection no longer
    traverses them, nor copies a forked worker's pages by touching them. Nothing is done when
    someone else froze objects already (unfreezing would give back theirs too)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
