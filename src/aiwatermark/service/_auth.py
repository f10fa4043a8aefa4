"""Bearer tokens: who may register manifests, and (optionally) who may look them up."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ..errors import KeyFileError


def _token_lines(path: str | os.PathLike[str]) -> Iterator[tuple[str, int, str]]:
    """(file name, line number, line) of a token file's lines that are not blank or ``#``."""
    name = repr(os.fspath(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyFileError(f"token file {name}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"token file {name}: not UTF-8 text") from None
    found = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.strip().startswith("#"):
            found = True
            yield name, number, line.strip()
    if not found:
        # A repository started with an empty token file would refuse everyone, which is
        # never what was meant.
        raise KeyFileError(f"token file {name}: holds no token")


def load_tokens(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The tokens in a token file: one per line; blank lines and ``#`` comment lines skipped.

    Raises:
        aiwatermark.KeyFileError: the file is missing, unreadable, not text, or holds no
            token.

    Example:
        >>> import pathlib, tempfile
        >>> from aiwatermark.service import load_tokens
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tokens.txt"
        >>> _ = path.write_text("# studio uploaders\\nf2b1c0ffee\\n\\n9a7d5e11ad\\n")
        >>> load_tokens(path)
        ('f2b1c0ffee', '9a7d5e11ad')
    """
    tokens = []
    for name, number, token in _token_lines(path):
        if any(char.isspace() for char in token):
            # An Authorization header cannot carry it, so it could never match.
            raise KeyFileError(f"token file {name}, line {number}: a token holds no spaces")
        tokens.append(token)
    return tuple(tokens)


def load_holder_tokens(path: str | os.PathLike[str]) -> dict[str, tuple[str, ...]]:
    """Rights holders' tokens from a file of ``TOKEN rights holder name`` lines.

    The name is the consent records' ``rights_holder``, exactly; ``#`` lines are comments.

    Raises:
        aiwatermark.KeyFileError: the file is missing, unreadable, or a line has no name.

    Example:
        >>> import pathlib, tempfile
        >>> from aiwatermark.service import load_holder_tokens
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "holders.txt"
        >>> _ = path.write_text("# token  rights holder\\n7f3a9c Ava Example\\n")
        >>> load_holder_tokens(path)
        {'Ava Example': ('7f3a9c',)}
    """
    holders: dict[str, tuple[str, ...]] = {}
    for name, number, line in _token_lines(path):
        token, _, holder = line.partition(" ")
        if not holder.strip():
            raise KeyFileError(
                f"token file {name}, line {number}: write the token, a space, then the rights "
                "holder's name as the consent records spell it"
            )
        holders[holder.strip()] = (*holders.get(holder.strip(), ()), token)
    return holders


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", errors="surrogateescape")).digest()


class Tokens:
    """A set of bearer tokens, checked in constant time.

    Tokens are kept as SHA-256 digests and every one is compared, so neither the time an
    answer takes nor a memory dump gives a token away.

    Example:
        >>> from aiwatermark.service._auth import Tokens
        >>> tokens = Tokens(["f2b1c0ffee"])
        >>> tokens.allows({"authorization": "Bearer f2b1c0ffee"}), tokens.allows({})
        (True, False)
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = tuple(_digest(token) for token in tokens)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __or__(self, other: Tokens) -> Tokens:
        union = Tokens(())
        union._digests = self._digests + other._digests
        return union

    def allows(self, headers: Mapping[str, str]) -> bool:
        """True when ``headers`` carry ``Authorization: Bearer <one of the tokens>``."""
        presented = bearer(headers)
        if presented is None:
            return False
        digest = _digest(presented)
        allowed = False
        for known in self._digests:  # no early exit: every check takes as long
            allowed |= hmac.compare_digest(digest, known)
        return allowed


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None.

    Example:
        >>> from aiwatermark.service._auth import bearer
        >>> bearer({"authorization": "bearer abc"}), bearer({"authorization": "Basic eA=="})
        ('abc', None)
    """
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
