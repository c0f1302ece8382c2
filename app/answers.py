"""Answers built once and handed to later requests: a bounded, process-wide LRU.

The resolvers keep here what a request builds that the next one would build again, identically:
each recording's attached media, grouped, with their URLs (resolvers.recording). A key names
everything its answer is made from, so an answer never outlives what it was made of: a change
makes another key, and the old answer ages out. Answers are shared by concurrent requests, which
only read them. All of it runs on the event loop's thread, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class AnswerCache:
    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._answers: OrderedDict[Hashable, object] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable) -> object | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, key: Hashable, answer: object) -> None:
        if self.size == 0:
            return
        self._answers[key] = answer
        self._answers.move_to_end(key)
        if len(self._answers) > self.size:
            self._answers.popitem(last=False)
