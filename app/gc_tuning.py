"""The garbage collector, tuned for a server process once its start-up is done.

A request allocates tens of thousands of container objects, and with CPython's default gen-0
threshold (700) the young generation is collected dozens of times per 100-result page, while
each full collection walks every long-lived object (modules, the schema, SQLAlchemy's caches):
measured in BENCHMARKS.md, a third of the server's CPU and pauses of 50-230 ms on that page.

- ``gc.freeze()`` moves everything alive after start-up into the permanent generation, which no
  collection walks again (nothing there is ever garbage: it lives as long as the process).
- A gen-0 threshold of 10,000 (default 700) lets most of a request's short-lived objects die
  by reference counting before a collection looks at them, and gen 1 and 2 are collected every
  20 collections of the generation below (default 10), subject to CPython's own rule that a
  full collection waits until a quarter of the long-lived objects are new. A young collection
  walks every object the requests in flight have made since the last one, and holds the event
  loop that long: with two 100-result pages in flight, 29-45 ms at 20,000 and at most 10 ms at
  10,000 for the same CPU in all (BENCHMARKS.md, 2026-12-01); lower thresholds cost more CPU
  and promote more live objects into gen 1, whose collections then take as long.

- While the pacer (app.pacing) spreads a page's steps, it runs the young collections itself,
  at PACED_YOUNG, in a loop iteration of their own (``PacedCollector``): CPython's would run in
  the middle of whichever step allocated the last object, and the two pauses would add up.

A finished request leaves no cyclic garbage behind (app.execution's ``build_response``): what a
collection walks is what requests in flight hold, and what it frees is little.

Process-wide state, so only the server's factory asks for it (tests and tools do not).
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 20, 20)


def tune_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


PACED_YOUNG = 7_000


class PacedCollector:
    """For the pacer (app.pacing), between two batches of a page's steps: a young collection
    once PACED_YOUNG objects are new, in a loop iteration of its own, instead of CPython's at
    THRESHOLDS[0] in the middle of whatever step allocated the last object (the two pauses
    added). Under load CPython's own rarely fires any more, so the older generations are
    collected here too, by their counts: gen 1 every THRESHOLDS[1] young collections, and a
    full collection every THRESHOLDS[2] of those (CPython would also wait until a quarter of
    the long-lived objects are new, which Python cannot read: a full collection may come
    sooner than CPython's, never later)."""

    def due(self) -> bool:
        return gc.get_count()[0] >= PACED_YOUNG

    def collect(self) -> None:
        # As CPython chooses (gc.get_count: new objects, young collections since the last of
        # gen 1, gen-1 collections since the last full one), the oldest generation due first.
        _, gen1, gen2 = gc.get_count()
        if gen2 > THRESHOLDS[2]:
            gc.collect(2)
        elif gen1 > THRESHOLDS[1]:
            gc.collect(1)
        else:
            gc.collect(0)
