"""Hand freed memory back to the operating system between stages.

numpy's large temporaries come from C ``malloc``; freed in worker threads they
stay in per-thread arenas, and Arrow's pool keeps freed pages for reuse. Both
count towards the process's resident memory although nothing uses them.
:func:`reclaim` asks both to let go; it changes no allocator setting, so it is
safe to call from a library.

:func:`own_process` is for a process that linkwise owns (the command line):
it does change the allocators' settings, so that big arrays go back to the
system the moment they are freed.
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

# glibc's mallopt parameters: blocks at least this big get their own mapping;
# at most this many heaps (arenas) for all threads.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 1 << 20
ARENA_MAX = 2


def own_process() -> None:
    """Settings for a process that only runs linkwise (the command line), not for a library.

    glibc serves a freed big block's successors from its heap once it has raised
    its mapping threshold (up to 32 MB); arrays of a few MB then leave holes that
    stay resident. A fixed threshold of 1 MB gives every array of 1 MB or more
    its own mapping, returned whole when freed; the small blocks of all threads
    share two heaps (glibc's default is eight per core). Arrow allocates through
    the same malloc (its system pool) instead of mimalloc, which kept freed
    pages of other threads' heaps. Together they lowered the 1M-record peak by
    about 100 MB, at the cost of page faults on each new array.

    And Arrow is told that pandas is absent: it would otherwise import pandas
    (about 47 MB) on its first array made from numpy, only to ask whether the
    array is a pandas categorical. The command line reads files, never data
    frames; pandas itself stays importable, and ``to_pandas`` still works.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        _LIBC.mallopt(_M_ARENA_MAX, ARENA_MAX)
        pa.set_memory_pool(pa.system_memory_pool())
    if "pandas" not in sys.modules:
        _arrow_without_pandas()


class _NoPandas:
    """An import hook under which pandas cannot be imported."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is not imported by the linkwise command line", name=name)


def _arrow_without_pandas() -> None:
    """Let Arrow's pandas checks run once while pandas cannot be imported; they remember the answer."""
    hook = _NoPandas()
    sys.meta_path.insert(0, hook)
    try:
        # Arrow's two checks: the Python one (arrays from numpy), the C++ one (from Python objects).
        pa.lib._pandas_api.have_pandas  # noqa: B018 - the check is the point
        pa.array(["linkwise"])
    except Exception:  # Arrow's internals changed: nothing is lost but memory
        pass
    finally:
        sys.meta_path.remove(hook)


def reclaim() -> None:
    """Return free heap pages to the operating system (cheap: milliseconds)."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)

