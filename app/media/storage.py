"""Removing stored objects: each backend's ``StorageDeleter``. Deletion is blocking I/O (a file
system call, an HTTP request), so the cleaner (app.media.cleanup) runs it in worker threads."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Protocol


class UnsafeKey(ValueError):
    """A storage key that does not name an object under the backend's root (or names a
    directory); never retried."""


class StorageDeleter(Protocol):
    # The backend the outbox rows belong to: ``local`` or ``gcs:<bucket>``.
    name: str

    def delete(self, storage_key: str) -> None:
        """Remove one object. An object that is already gone counts as removed; anything else
        that stops the removal raises (and the outbox retries later)."""
        ...


def path_under(root: Path, storage_key: str) -> Path:
    """The file ``storage_key`` names under ``root``; UnsafeKey for keys that would leave it
    (absolute paths, ``..``, NUL, symlinks pointing out)."""
    if not storage_key or "\x00" in storage_key or storage_key.startswith(("/", "\\")):
        raise UnsafeKey(f"refusing storage key {storage_key[:200]!r}")
    base = root.resolve()
    path = (base / storage_key).resolve()
    if path == base or not path.is_relative_to(base):
        raise UnsafeKey(f"refusing storage key {storage_key[:200]!r}")
    return path


class LocalDeleter:
    """Files under ``FOOTAGE_MEDIA_ROOT``. Directories left empty are removed too, up to (never
    including) the root."""

    name = "local"

    def __init__(self, *, root: Path) -> None:
        self.root = root

    def delete(self, storage_key: str) -> None:
        path = path_under(self.root, storage_key)
        try:
            path.unlink(missing_ok=True)
        except NotADirectoryError:
            return  # a part of the path is a file: no object by this name, so none to remove
        except IsADirectoryError:
            # A key naming a directory is no object of ours: retrying would never succeed.
            raise UnsafeKey(f"refusing storage key {storage_key[:200]!r}: a directory") from None
        except PermissionError:
            if path.is_dir():  # what unlink() of a directory raises on macOS
                raise UnsafeKey(
                    f"refusing storage key {storage_key[:200]!r}: a directory"
                ) from None
            raise
        base = self.root.resolve()
        parent = path.parent
        while parent != base and parent.is_relative_to(base):
            # Not empty, or a concurrent writer's: either way it stays.
            with contextlib.suppress(OSError):
                parent.rmdir()
                parent = parent.parent
                continue
            break
