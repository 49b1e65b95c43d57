"""The one way core code compiles a numba kernel."""

from collections.abc import Callable
from typing import Any

import numba


def compiled(func: Callable[..., Any]) -> Callable[..., Any]:
    """`numba.njit` with its on-disk cache, so that a process loads kernels instead of compiling them."""
    # numba caches beside the kernel's file or in the user's cache dir; when neither is
    # writable (read-only image, no home) compiling once per process beats failing.
    try:
        return numba.njit(cache=True)(func)
    except RuntimeError:
        return numba.njit(func)
