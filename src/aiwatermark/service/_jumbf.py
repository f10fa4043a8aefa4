"""Just enough JUMBF (ISO/IEC 19566-5) to take the active manifest out of a manifest store.

A C2PA manifest store is one ``jumb`` superbox labelled ``c2pa``: a ``jumd`` description box,
then one ``jumb`` superbox per manifest (``c2ma``, or ``c2um`` for an update manifest), the
active manifest last. The SBR API's ``returnActiveManifest=true`` asks for a store holding
only that one, which is the same superbox with the other manifests left out. Every length is
checked against its parent before it is used: the bytes come from a store that anyone with
a write token fills.

Example:
    >>> import struct
    >>> from aiwatermark.service import active_manifest_store
    >>> from aiwatermark.service._jumbf import MANIFEST_UUID, STORE_UUID, manifest_labels
    >>> def box(kind, body):
    ...     return struct.pack(">I4s", 8 + len(body), kind) + body
    >>> def superbox(uuid, label, *children):
    ...     description = box(b"jumd", uuid + b"\\x03" + label.encode() + b"\\x00")
    ...     return box(b"jumb", description + b"".join(children))
    >>> store = superbox(
    ...     STORE_UUID, "c2pa", superbox(MANIFEST_UUID, "urn:c2pa:1"),
    ...     superbox(MANIFEST_UUID, "urn:c2pa:2"))
    >>> manifest_labels(store), manifest_labels(active_manifest_store(store))
    (['urn:c2pa:1', 'urn:c2pa:2'], ['urn:c2pa:2'])
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import AiWatermarkError

STORE_UUID = bytes.fromhex("6332706100110010800000aa00389b71")
"""The JUMBF content type of a C2PA manifest store (``c2pa`` + the ISO fixed suffix)."""

MANIFEST_UUID = bytes.fromhex("63326d6100110010800000aa00389b71")
"""The JUMBF content type of a standard manifest (``c2ma``)."""

MANIFEST_UUIDS = frozenset({MANIFEST_UUID, bytes.fromhex("6332756d00110010800000aa00389b71")})
"""The JUMBF content types of a manifest inside a store: ``c2ma``, and ``c2um`` (update)."""

_HEADER = struct.Struct(">I4s")
_LARGE = struct.Struct(">Q")
_LABEL_PRESENT = 0x02


class JumbfError(AiWatermarkError):
    """The bytes are not a well-formed C2PA manifest store."""


@dataclass(frozen=True)
class Box:
    """One box: its type and where its header, payload and end are in the buffer.

    Example:
        >>> from aiwatermark.service._jumbf import read_boxes
        >>> read_boxes(b"\\x00\\x00\\x00\\x0cjumbdata")
        [Box(type=b'jumb', start=0, payload=8, end=12)]
    """

    type: bytes
    start: int
    payload: int
    end: int


def read_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """The boxes laid one after another in ``data[start:end]``, each checked to fit.

    Raises:
        JumbfError: a header is truncated, a length is impossible or runs past ``end``.

    Example:
        >>> from aiwatermark.service._jumbf import read_boxes
        >>> [b.type for b in read_boxes(b"\\x00\\x00\\x00\\x08jumd\\x00\\x00\\x00\\x08free")]
        [b'jumd', b'free']
    """
    end = len(data) if end is None else end
    if not 0 <= start <= end <= len(data):
        raise JumbfError(f"box range {start}..{end} is outside the {len(data)} bytes")
    boxes: list[Box] = []
    offset = start
    while offset < end:
        left = end - offset
        if left < _HEADER.size:
            raise JumbfError(
                f"a box header at offset {offset} runs past the end ({left} bytes left)"
            )
        length, kind = _HEADER.unpack_from(data, offset)
        header = _HEADER.size
        if length == 1:  # the real length follows as 64 bits
            if left < _HEADER.size + _LARGE.size:
                raise JumbfError(f"the large box header at offset {offset} is truncated")
            (length,) = _LARGE.unpack_from(data, offset + _HEADER.size)
            header += _LARGE.size
        elif length == 0:  # the box runs to the end of its parent
            length = left
        if length < header:
            raise JumbfError(
                f"the box at offset {offset} claims {length} bytes, less than its header"
            )
        if length > left:
            raise JumbfError(
                f"the {kind.decode('latin-1')!r} box at offset {offset} claims {length} bytes; "
                f"only {left} are left"
            )
        boxes.append(Box(kind, offset, offset + header, offset + length))
        offset += length
    return boxes


def _describe(data: bytes, superbox: Box) -> tuple[bytes, str | None, list[Box]]:
    """A superbox's content type UUID, label (if any) and children (description first)."""
    children = read_boxes(data, superbox.payload, superbox.end)
    if not children or children[0].type != b"jumd":
        raise JumbfError(f"the superbox at offset {superbox.start} has no description box")
    description = children[0]
    body = data[description.payload : description.end]
    if len(body) < 17:
        raise JumbfError(f"the description box at offset {description.start} is truncated")
    uuid, toggles = body[:16], body[16]
    label = None
    if toggles & _LABEL_PRESENT:
        terminator = body.find(b"\x00", 17)
        if terminator < 0:
            raise JumbfError(f"the label at offset {description.payload + 17} is not terminated")
        label = body[17:terminator].decode("utf-8", errors="replace")
    return uuid, label, children


def manifest_labels(data: bytes) -> list[str]:
    """The labels of the manifests in a manifest store, in order (the active one last).

    Raises:
        JumbfError: ``data`` is not a well-formed C2PA manifest store.

    Example:
        >>> from aiwatermark.service._jumbf import JumbfError, manifest_labels
        >>> try:
        ...     manifest_labels(b"")
        ... except JumbfError as exc:
        ...     print(exc)
        not a C2PA manifest store: it is empty
    """
    _, manifests = _store(data)
    return [label or "" for _, label in manifests]


def _store(data: bytes) -> tuple[Box, list[tuple[Box, str | None]]]:
    try:
        if not data:
            raise JumbfError("it is empty")
        boxes = read_boxes(data)
        if len(boxes) != 1 or boxes[0].type != b"jumb":
            raise JumbfError("it is not a single JUMBF superbox")
        uuid, _, children = _describe(data, boxes[0])
        if uuid != STORE_UUID:
            raise JumbfError(f"its content type is {uuid.hex()}, not c2pa")
        manifests = []
        for child in children[1:]:
            if child.type != b"jumb":
                continue
            kind, label, _ = _describe(data, child)
            if kind in MANIFEST_UUIDS:
                manifests.append((child, label))
        if not manifests:
            raise JumbfError("it holds no manifest")
    except JumbfError as exc:
        raise JumbfError(f"not a C2PA manifest store: {exc}") from None
    return boxes[0], manifests


def active_manifest_store(data: bytes) -> bytes:
    """A manifest store holding only the active (last) manifest of ``data``.

    The store's own description box is kept as it is and the active manifest's superbox is
    copied byte for byte, so its signature still verifies; the other manifests (those of
    ingredients) are left out, which is what the client asked for: a validator reads the
    same active manifest and notes each ingredient's as missing
    (``ingredient.manifest.missing``).

    Raises:
        JumbfError: ``data`` is not a well-formed C2PA manifest store.

    Example:
        >>> from aiwatermark.service import JumbfError, active_manifest_store
        >>> try:
        ...     active_manifest_store(b"\\x00\\x00\\x00\\x40jumb")
        ... except JumbfError as exc:
        ...     print(exc)
        not a C2PA manifest store: the 'jumb' box at offset 0 claims 64 bytes; only 8 are left
    """
    store, manifests = _store(data)
    active, _ = manifests[-1]
    description = read_boxes(data, store.payload, store.end)[0]
    body = data[description.start : description.end] + data[active.start : active.end]
    if _HEADER.size + len(body) <= 0xFFFFFFFF:
        return _HEADER.pack(_HEADER.size + len(body), b"jumb") + body
    size = _HEADER.size + _LARGE.size + len(body)  # over 4 GiB: the 64-bit length form
    return _HEADER.pack(1, b"jumb") + _LARGE.pack(size) + body
