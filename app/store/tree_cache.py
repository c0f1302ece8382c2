"""The read cache: results' recordings and media, kept across requests by the process.

A result's *tree* is what the store reads below it: its recordings, and each recording's
attached media. A page of 100 results reads about 650 such rows in two statements, every time,
and most of them change rarely (a finished session's media). So the store keeps the trees it
reads, and answers the next request from them when the result has not changed since.

"Not changed" is decided by the database, never by time: ``user_test_results.revision`` takes a
new, never reused value in the same transaction as any change to the tree (triggers, migration
0004), whoever writes it. A request reads the revision with the result itself (its page or its
lookup, which it reads anyway), and a cached tree answers only for that revision. Several
processes on several hosts over one database each keep their own cache, and none can serve
another's stale tree: each checks every tree against the revision it has just read.

What a tree answers is what a read made after the request read the revision would have: the
tree was read after some request saw that same revision, and any later change gives the result
another revision, which that tree never answers for. A request therefore never sees media older
than the result it read. A revision never comes back (PostgreSQL's sequence, SQLite's 64-bit
``random()``), so a write rolled back after a read cached its tree can not make a later tree's
revision match it.

Bounded: at most ``size`` results' trees, least recently used dropped first; 0 turns the cache
off. Per process, built in the lifespan and shared by every request's store; all of it runs on
the event loop's thread, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict

from app.store.records import AttachedMediaRecord, RecordingRecord


class Tree:
    """One result's tree, as of ``revision``: its recordings (None until read) and the media
    of those of its recordings read so far, by recording id."""

    __slots__ = ("media", "recordings", "revision")

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.recordings: list[RecordingRecord] | None = None
        self.media: dict[int, list[AttachedMediaRecord]] = {}


class TreeCache:
    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._trees: OrderedDict[int, Tree] = OrderedDict()

    def __len__(self) -> int:
        return len(self._trees)

    def get(self, result_id: int, revision: int) -> Tree | None:
        """The result's tree as of ``revision``, or None."""
        tree = self._trees.get(result_id)
        if tree is None or tree.revision != revision:
            return None
        self._trees.move_to_end(result_id)
        return tree

    def keep(self, result_id: int, revision: int) -> Tree | None:
        """The tree to fill for the result as of ``revision``: the one kept, or a new one in
        place of any other revision's; None when the cache is off."""
        if self.size == 0:
            return None
        tree = self._trees.get(result_id)
        if tree is None or tree.revision != revision:
            tree = self._trees[result_id] = Tree(revision)
            if len(self._trees) > self.size:
                self._trees.popitem(last=False)
        self._trees.move_to_end(result_id)
        return tree

    def clear(self) -> None:
        self._trees.clear()
