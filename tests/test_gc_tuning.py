"""The server's collector tuning: start-up objects frozen, a higher gen-0 threshold."""

from __future__ import annotations

import gc

from app.gc_tuning import THRESHOLDS, tune_collector


def test_tuned_collector_freezes_start_up_objects_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        # Process-wide state: the rest of the suite runs with the defaults.
        gc.unfreeze()
        gc.set_threshold(*before)
