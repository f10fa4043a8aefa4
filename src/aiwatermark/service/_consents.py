"""The repository's consent endpoints: public consent state, registration, withdrawal, and
the per-use report that only the rights holder may read."""

from __future__ import annotations

import datetime as dt
import functools
import json
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import consent
from ..errors import InvalidArgumentError
from ._auth import Tokens
from ._errors import ForbiddenError, NotFoundError, UnauthorizedError

if TYPE_CHECKING:
    from ._app import _Repository

_RECORD_LIMIT = 64 * 1024  # a consent record is a few hundred bytes


class ConsentEndpoints:
    """``/consents`` and ``/subjects/{id}/uses`` over the store's consent registry."""

    def __init__(self, repository: _Repository, holders: Mapping[str, Tokens]) -> None:
        self.repository = repository
        self.holders = dict(holders)

    def _registry(self) -> consent.ConsentRegistry:
        registry = consent.registry_of(self.repository.store)
        if registry is None:
            raise NotFoundError("this repository's store keeps no consent registry")
        return registry

    async def _io(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.repository.pool.io(functools.partial(call, *args, **kwargs))

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await self.repository._body(request, _RECORD_LIMIT))
        except (ValueError, RecursionError):
            raise InvalidArgumentError("the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise InvalidArgumentError("the body must be a JSON object")
        return body

    def _holders_of(self, request: Request) -> list[str]:
        """The rights holders whose token the request carries."""
        return [name for name, tokens in self.holders.items() if tokens.allows(request.headers)]

    async def show(self, request: Request) -> Response:
        """``GET /consents/{consentRef}``: every version, public fields only, and whether
        (not why) it was withdrawn."""
        ref = request.path_params["consent_ref"]
        registry = self._registry()
        versions = await self._io(registry.versions, ref)
        if not versions:
            raise NotFoundError(f"no consent {ref!r:.200} in this repository")
        revocation = await self._io(registry.revocation, ref)
        return JSONResponse(
            {
                "consent_ref": ref,
                "versions": [item.public_dict() for item in versions],
                "revocation": None if revocation is None else revocation.to_dict(public=True),
            }
        )

    async def register(self, request: Request) -> Response:
        """``POST /consents`` (write token): register a record, or a new version of it."""
        record = consent.Consent.from_dict(await self._json(request))
        stored = await self._io(self._registry().register, record)
        location = "/consents/" + urllib.parse.quote(stored.consent_ref, safe="")
        return JSONResponse(
            {"consent_ref": stored.consent_ref, "version": stored.version},
            status_code=201,
            headers={"Location": location},
        )

    async def revoke(self, request: Request) -> Response:
        """``POST /consents/{consentRef}/revocation``: the rights holder (or a writer)
        withdraws a consent; the body is ``{"reason": "..."}``."""
        ref = request.path_params["consent_ref"]
        registry = self._registry()
        record = await self._io(registry.get, ref)
        writer = self.repository.write_tokens.allows(request.headers)
        holders = self._holders_of(request)
        if not writer and not holders:
            raise UnauthorizedError("withdrawing needs the rights holder's or a write token")
        if record is None:
            raise NotFoundError(f"no consent {ref!r:.200} in this repository")
        if not writer and record.rights_holder not in holders:
            raise ForbiddenError(f"only {record.rights_holder}'s token may withdraw {ref}")
        reason = (await self._json(request)).get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidArgumentError('the body must say why: {"reason": "..."}')
        by = "writer" if writer else record.rights_holder
        revocation = await self._io(registry.revoke, ref, reason, by=by)
        return JSONResponse(revocation.to_dict(), status_code=201)

    async def uses(self, request: Request) -> Response:
        """``GET /subjects/{subjectId}/uses?from=&to=`` (the rights holder's token): every
        registered image of the twin under the consents that holder holds."""
        holders = self._holders_of(request)
        if not holders:
            raise UnauthorizedError("the per-use report needs the rights holder's token")
        subject = request.path_params["subject_id"]
        params = request.query_params
        start, end = _day(params.get("from"), "from"), _day(params.get("to"), "to")
        registry = self._registry()
        found = await self._io(registry.uses, subject, start, end)
        held: dict[str, bool] = {}
        for ref in {use.consent_ref for use in found}:
            record = await self._io(registry.get, ref)
            held[ref] = record is not None and record.rights_holder in holders
        # Another holder's subject reads as one without uses: the answer must not tell
        # whether someone else's twin is in use.
        mine = tuple(use for use in found if held.get(use.consent_ref))
        report = consent.UsageReport(subject, start, end, mine)
        return JSONResponse(report.to_dict())


def _day(text: str | None, name: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(
            f"{name} must be a date like 2026-12-31, not {text!r:.40}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
