"""A second store backend for tests: a list, as a shared registry might keep entries.

Unlike the SQLite store it accepts several entries under one content ID, which is what a
store shared by many producers can end up holding; ``verify`` must cope with that.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiwatermark.fingerprint import distance
from aiwatermark.store import StoredManifest


class ListStore:
    """Entries in a list, searched by scanning; several may share a content ID."""

    def __init__(self) -> None:
        self.entries: list[StoredManifest] = []

    def put(
        self,
        payload: bytes | None,
        manifest: bytes,
        meta: Mapping[str, str] | None = None,
        *,
        fingerprint: bytes | None = None,
        manifest_id: str | None = None,
    ) -> StoredManifest:
        entry = StoredManifest(
            f"{manifest_id or 'entry'}#{len(self.entries) + 1}",
            manifest,
            payload,
            fingerprint,
            dict(meta or {}),
            origin="list",
        )
        self.entries.append(entry)
        return entry

    def by_id(self, manifest_id: str) -> StoredManifest | None:
        return next((e for e in self.entries if e.id == manifest_id), None)

    def by_payload(self, payload: bytes) -> list[StoredManifest]:
        return [e for e in self.entries if e.payload == payload]

    def by_fingerprint(
        self, fingerprint: bytes, max_distance: int
    ) -> list[tuple[StoredManifest, int]]:
        scored = [(e, distance(e.fingerprint, fingerprint)) for e in self.entries if e.fingerprint]
        return sorted(((e, d) for e, d in scored if d <= max_distance), key=lambda ed: ed[1])
