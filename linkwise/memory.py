"""Hand freed memory back to the operating system between stages.

numpy's large temporaries come from C ``malloc``; freed in worker threads they
stay in per-thread arenas, and Arrow's pool keeps freed pages for reuse. Both
count towards the process's resident memory although nothing uses them.
:func:`reclaim` asks both to let go; it changes no allocator setting, so it is
safe to call from a library.
"""

from __future__ import annotations

import ctypes
import sys

import pyarrow as pa


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (e.g. musl): nothing to trim
        return None


_LIBC = _libc()


def reclaim() -> None:
    """Return free heap pages to the operating system (cheap: milliseconds)."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)

