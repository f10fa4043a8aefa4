"""What a manifest store is: the protocol every backend meets, and the entry it returns."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Union, runtime_checkable

from ..errors import StoreError

FINGERPRINT_BYTES = 32


@dataclass(frozen=True, repr=False)
class StoredManifest:
    """One registration in a manifest store: a signed manifest and the bindings it is found by.

    ``id`` is the C2PA manifest identifier (the active manifest's ``urn:c2pa:…`` label) when
    the entry was registered with one, else an identifier the store made up; ``payload`` is
    the watermark content ID and ``fingerprint`` the 32-byte PDQ value of the registered
    pixels (either may be None); ``origin`` names the store that answered (a file or a
    repository URL). The store's copy of the bindings is an index only: what counts is what
    the signed manifest itself says, which ``verify`` checks.

    Example:
        >>> from aiwatermark.store import StoredManifest
        >>> entry = StoredManifest("1", b"jumbf", payload=bytes(8))
        >>> entry.content_id
        '0000000000000000'
    """

    id: str
    manifest: bytes
    payload: bytes | None = None
    fingerprint: bytes | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    created: float = 0.0
    origin: str = ""

    @property
    def content_id(self) -> str | None:
        """The payload as hex."""
        return None if self.payload is None else self.payload.hex()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the manifest summarised by its size).

        Example:
            >>> from aiwatermark.store import StoredManifest
            >>> StoredManifest("7", b"m").to_dict()["manifest_bytes"]
            1
        """
        return {
            "id": self.id,
            "content_id": self.content_id,
            "fingerprint": None if self.fingerprint is None else self.fingerprint.hex(),
            "meta": dict(self.meta),
            "created": self.created,
            "origin": self.origin,
            "manifest_bytes": len(self.manifest),
        }

    def __repr__(self) -> str:
        return (
            f"StoredManifest(id={self.id!r}, content_id={self.content_id!r}, "
            f"meta={json.dumps(dict(self.meta))}, manifest=<{len(self.manifest)} bytes>)"
        )


@runtime_checkable
class ManifestStore(Protocol):
    """What :func:`aiwatermark.mark` and :func:`aiwatermark.verify` need from a store.

    A store is append-only: ``put`` never replaces an entry, and refuses a content ID that is
    already registered (:class:`aiwatermark.PayloadTakenError`). Several entries may match one
    fingerprint, and a shared store may hold several under one content ID: ``verify`` picks
    the one that is bound to the image and signed by a trusted signer. Implementations raise
    :class:`aiwatermark.StoreError`.

    Example:
        >>> import tempfile, pathlib
        >>> from aiwatermark.store import ManifestStore, SQLiteManifestStore
        >>> store = SQLiteManifestStore(pathlib.Path(tempfile.mkdtemp()) / "m.sqlite3")
        >>> isinstance(store, ManifestStore)
        True
    """

    def put(
        self,
        payload: bytes | None,
        manifest: bytes,
        meta: Mapping[str, str] | None = None,
        *,
        fingerprint: bytes | None = None,
        manifest_id: str | None = None,
    ) -> StoredManifest:
        """Register ``manifest`` under a watermark ``payload`` and/or a ``fingerprint``.

        ``manifest_id`` (the active manifest's label) must be unique in the store too."""

    def by_id(self, manifest_id: str) -> StoredManifest | None:
        """The entry registered as ``manifest_id``, or None."""

    def by_payload(self, payload: bytes) -> Sequence[StoredManifest]:
        """Every entry registered under the watermark ``payload``, oldest first."""

    def by_fingerprint(
        self, fingerprint: bytes, max_distance: int
    ) -> Sequence[tuple[StoredManifest, int]]:
        """Every entry whose fingerprint is within ``max_distance`` bits, nearest first."""


def check_payload(payload: object) -> None:
    """Refuse what cannot be a watermark content ID (for store implementations)."""
    if not isinstance(payload, (bytes, bytearray)) or not payload:
        raise StoreError(f"a store key must be non-empty payload bytes, not {type(payload)!r}")


def check_fingerprint(fingerprint: object) -> None:
    """Refuse what cannot be a PDQ fingerprint (for store implementations)."""
    if not isinstance(fingerprint, (bytes, bytearray)) or len(fingerprint) != FINGERPRINT_BYTES:
        raise StoreError("a fingerprint must be the 32-byte PDQ value")


def check_entry(
    payload: object, manifest: object, fingerprint: object, manifest_id: object
) -> None:
    """Refuse an entry no store can keep: what every backend's ``put`` checks first.

    Example:
        >>> from aiwatermark.store._protocol import check_entry
        >>> check_entry(None, b"jumbf", None, None)
        Traceback (most recent call last):
        ...
        aiwatermark.errors.StoreError: an entry needs a watermark payload or a fingerprint to be found by
    """  # noqa: E501
    if payload is not None:
        check_payload(payload)
    if fingerprint is not None:
        check_fingerprint(fingerprint)
    if payload is None and fingerprint is None:
        raise StoreError("an entry needs a watermark payload or a fingerprint to be found by")
    if not isinstance(manifest, (bytes, bytearray)) or not manifest:
        raise StoreError("the manifest must be non-empty bytes")
    if manifest_id is not None and (not isinstance(manifest_id, str) or not manifest_id):
        raise StoreError("manifest_id must be a non-empty string (the manifest's label)")


StoreLike = Union[ManifestStore, str, "os.PathLike[str]", bool, None]
"""What the ``store=`` argument accepts: None (default store), False (none), a path, a store."""
