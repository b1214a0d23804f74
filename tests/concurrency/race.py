"""Run many callables at once, released together by a barrier."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from reservation_core import BusinessException


def race(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Start one thread per call, release them together, return each result or exception.

    Only :class:`BusinessException` counts as an outcome; anything else fails the test.
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BusinessException as exc:
            results[index] = exc
        except BaseException as exc:  # noqa: BLE001 - reported below, never swallowed
            results[index] = AssertionError(f"leaked {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    leaked = [r for r in results if isinstance(r, AssertionError)]
    assert not leaked, leaked[:3]
    return results


def outcomes(results: Sequence[Any]) -> Counter[str]:
    """Count results by error code, successes as ``"ok"``."""
    return Counter(str(r.code) if isinstance(r, BusinessException) else "ok" for r in results)
