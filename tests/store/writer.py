"""A writer process of the concurrency tests: waits for the others, then adds every report."""

from __future__ import annotations

import random
from typing import Any

from firmproof.store import ImageInfo, add_report, open_store


def write(url: str, reports: list[tuple[dict[str, Any], ImageInfo, tuple[Any, ...]]], seed: int,
          barrier: Any, results: Any) -> None:
    try:
        store = open_store(url)
        order = list(reports)
        random.Random(seed).shuffle(order)
        barrier.wait(timeout=120)           # every writer opened its store: now all at once
        ids = [add_report(store, report, info, components) for report, info, components in order]
        store.close()
        results.put((seed, sorted(ids), None))
    except Exception as exc:
        results.put((seed, [], f"{type(exc).__name__}: {exc}"))
