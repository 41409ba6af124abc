"""One core's worth of BLAS and OpenMP threads per scoring thread, set once per thread.

``modelyard serve`` sets ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``
to 1 for its worker processes; a process that loaded those libraries before (one
worker run in-process, a test, a notebook) is pinned here instead. BLAS thread counts
are process-wide and OpenMP's belong to the calling thread, so each scoring thread
pins itself on its first request: a thread-local check afterwards, never the ~20 µs
that a ``threadpool_limits`` context costs on every call.
"""

from __future__ import annotations

import threading
from typing import Any

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # scikit-learn brings it; without it the environment variables do
    ThreadpoolController = None

_local = threading.local()
_guard = threading.Lock()
_controller: Any = None


def prepare() -> None:
    """Find the loaded thread pools once, off the request path (a few milliseconds)."""
    global _controller
    with _guard:
        if _controller is None and ThreadpoolController is not None:
            _controller = ThreadpoolController()


def pin_this_thread() -> None:
    """Limit BLAS and this thread's OpenMP to one thread; a no-op after the first call."""
    if getattr(_local, "pinned", False):
        return
    _local.pinned = True
    prepare()
    if _controller is not None:
        _controller.limit(limits=1)
