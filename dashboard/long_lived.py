"""Long-lived caches of a worker (the reflected schema) kept out of the garbage collector's way.

Reflecting 1,000 tables allocates a few million objects. While they are built, every full
collection rescans all built so far (the reflection took twice as long); once built, they stay
for the life of the process, and every later full collection walks them again, which puts
hundreds of milliseconds into whichever request triggers it. So the build runs with the
collector paused (`collector_paused`), and once the new cache has replaced the old one,
`freeze_long_lived` collects the garbage once (the replaced cache among it) and moves every live
object to the permanent generation, which collections skip.
https://docs.python.org/3/library/gc.html#gc.freeze
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0
_was_enabled = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (back on after the last block)."""
    global _paused, _was_enabled
    with _lock:
        if not _paused:
            _was_enabled = gc.isenabled()
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if not _paused and _was_enabled:
                gc.enable()


def freeze_long_lived(*, replaced: bool = True) -> None:
    """Freeze what lives now. When a cache was `replaced`, first collect once (what an earlier
    freeze kept is looked at again, the replaced cache among it); the first build has nothing
    to free (a few hundred objects, where a full collection takes half a second)."""
    with _lock:
        if replaced:
            gc.unfreeze()
            gc.collect()
        gc.freeze()
