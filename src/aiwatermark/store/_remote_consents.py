"""The consent registry of a remote repository: its ``/consents`` and ``/subjects`` endpoints."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import TYPE_CHECKING, Any

from ..consent import Consent, LikenessUse, Revocation, pick_version
from ..errors import AiWatermarkError, ConsentError, StoreError

if TYPE_CHECKING:
    import httpx

    from ._remote import RemoteManifestStore


class RemoteConsentRegistry:
    """Consent records kept by an ``aiwatermark serve`` repository (``store.consents``).

    Reads are what the repository shows everyone: the public fields (no real name unless
    the record allows it, no pay terms) and whether, not why, a consent was withdrawn.
    Registering needs a write token; withdrawing and the per-use report need the rights
    holder's token (the store's ``token``, default ``$AIWATERMARK_REPOSITORY_TOKEN``).

    Example:
        >>> from aiwatermark.store import RemoteManifestStore
        >>> RemoteManifestStore("https://repo.example").consents
        RemoteConsentRegistry('https://repo.example')
    """

    def __init__(self, store: RemoteManifestStore) -> None:
        self._store = store

    @property
    def origin(self) -> str:
        """The repository URL."""
        return self._store.url

    def __repr__(self) -> str:
        return f"RemoteConsentRegistry({self.origin!r})"

    def _path(self, ref: str) -> str:
        return "/consents/" + urllib.parse.quote(ref, safe="")

    def _answer(self, response: httpx.Response, what: str) -> Any:
        if response.status_code == 409:
            raise ConsentError(str(self._store._refused(response, what)))
        if response.status_code not in (200, 201):
            raise self._store._refused(response, what)
        try:
            return response.json()
        except ValueError:
            raise StoreError(f"manifest repository {self.origin} answered with no JSON") from None

    def _state(self, ref: str) -> dict[str, Any] | None:
        response = self._store._request("GET", self._path(ref))
        if response.status_code == 404:
            return None
        answer = self._answer(response, f"consent {ref}")
        return answer if isinstance(answer, dict) else None

    def register(self, consent: Consent) -> Consent:
        """Register through ``POST /consents`` (a write token)."""
        record = {**consent.to_dict(), "version": 0, "registered": None}
        response = self._store._request("POST", "/consents", json=record)
        answer = self._answer(response, "the consent")
        return consent.registered_as(int(answer["version"]), dt.datetime.now(dt.timezone.utc))

    def get(self, consent_ref: str, version: int | None = None) -> Consent | None:
        """The latest version (or ``version``) of a consent, or None."""
        return pick_version(self.versions(consent_ref), version)

    def versions(self, consent_ref: str) -> list[Consent]:
        """Every version of a consent (public fields), oldest first."""
        state = self._state(consent_ref)
        versions = state.get("versions") if state else None
        try:
            return [Consent.from_dict(item) for item in versions or []]
        except AiWatermarkError as exc:
            raise StoreError(
                f"manifest repository {self.origin} sent a bad consent: {exc}"
            ) from None

    def revoke(self, consent_ref: str, reason: str, *, by: str | None = None) -> Revocation:
        """Withdraw through ``POST /consents/{ref}/revocation`` (the holder's token)."""
        response = self._store._request(
            "POST", self._path(consent_ref) + "/revocation", json={"reason": reason}
        )
        answer = self._answer(response, f"withdrawing {consent_ref}")
        return _revocation(consent_ref, answer, reason)

    def revocation(self, consent_ref: str) -> Revocation | None:
        """Whether, and when, the consent was withdrawn (the reason is not public)."""
        state = self._state(consent_ref)
        found = state.get("revocation") if state else None
        return _revocation(consent_ref, found, "") if isinstance(found, dict) else None

    def uses(
        self,
        subject_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> list[LikenessUse]:
        """The per-use report, through ``GET /subjects/{id}/uses`` (the holder's token)."""
        params = {
            name: moment.isoformat()
            for name, moment in (("from", start), ("to", end))
            if moment is not None
        }
        path = "/subjects/" + urllib.parse.quote(subject_id, safe="") + "/uses"
        answer = self._answer(self._store._request("GET", path, params=params), "the report")
        try:
            return [LikenessUse.from_dict(item) for item in answer["uses"]]
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"manifest repository {self.origin} sent a bad report") from None


def _revocation(ref: str, data: dict[str, Any], reason: str) -> Revocation:
    try:
        revoked = dt.datetime.fromisoformat(str(data["revoked"]))
    except (KeyError, ValueError):
        raise StoreError("the repository sent a withdrawal without its time") from None
    return Revocation(ref, str(data.get("reason") or reason), revoked, data.get("by"))
