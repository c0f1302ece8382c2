"""The storage backend the settings choose (``FOOTAGE_STORAGE``), built once per process."""

from __future__ import annotations

from app.media.local import LocalSigner
from app.media.signer import Signer
from app.media.storage import LocalDeleter, StorageDeleter
from app.settings import Settings


def build_signer(settings: Settings) -> Signer:
    """The signer for ``settings.storage``; raises SettingsError when its configuration is
    unusable, so the process fails at startup rather than at its first URL."""
    if settings.storage == "gcs":
        # Imported here: google-cloud-storage takes about a third of a second to import, and
        # processes on the local backend never need it.
        from app.media.gcs import gcs_signer

        return gcs_signer(settings)
    return LocalSigner(
        secret=settings.signing_key, public_url=settings.public_url, root=settings.media_root
    )


def build_deleter(settings: Settings) -> StorageDeleter:
    """What removes objects from the storage ``settings.storage`` names."""
    if settings.storage == "gcs":
        from app.media.gcs import gcs_deleter

        return gcs_deleter(settings)
    return LocalDeleter(root=settings.media_root)
