"""Answers built once and handed to later requests: a bounded, process-wide LRU.

The resolvers keep here what a request builds that the next one would build again, identically:
each recording's attached media, grouped, with their URLs (resolvers.recording), and a
results page's whole answer (resolvers.page_answers). A key names
everything its answer is made from, so an answer never outlives what it was made of: a change
makes another key, and the old answer ages out. Answers are shared by concurrent requests, which
only read them. All of it runs on the event loop's thread, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class AnswerCache:
    """At most ``size`` answers' weight (a recording's media answer weighs 1, a page's answer
    its number of results), least recently used dropped first; 0 turns it off."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._answers: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._weight = 0

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable) -> object | None:
        found = self._answers.get(key)
        if found is None:
            return None
        self._answers.move_to_end(key)
        return found[0]

    def put(self, key: Hashable, answer: object, weight: int = 1) -> None:
        if self.size == 0 or weight > self.size:
            return
        answers = self._answers
        former = answers.pop(key, None)
        if former is not None:
            self._weight -= former[1]
        answers[key] = (answer, weight)
        self._weight += weight
        while self._weight > self.size:
            _, (_, dropped) = answers.popitem(last=False)
            self._weight -= dropped
