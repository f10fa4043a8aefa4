"""XMP packets: parse safely (no DTDs, no entities), read our properties, merge them in.

Existing packets are edited, not rebuilt: every other property and namespace survives, and
original prefixes are kept (ElementTree's own serialiser would rename them ``ns0``...).
"""

from __future__ import annotations

import contextlib
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defusedxml.ElementTree import iterparse

X_NS = "adobe:ns:meta/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
XMP_NS = "http://ns.adobe.com/xap/1.0/"

DIGITAL_SOURCE_TYPE = f"{{{IPTC_EXT_NS}}}DigitalSourceType"
CREATOR_TOOL = f"{{{XMP_NS}}}CreatorTool"
_DESCRIPTION = f"{{{RDF_NS}}}Description"
_RDF = f"{{{RDF_NS}}}RDF"
_RESOURCE = f"{{{RDF_NS}}}resource"
_ABOUT = f"{{{RDF_NS}}}about"

_PREFERRED_PREFIXES = {X_NS: "x", RDF_NS: "rdf", IPTC_EXT_NS: "Iptc4xmpExt", XMP_NS: "xmp"}

MAX_PACKET = 16 * 1024 * 1024
MAX_DEPTH = 64
"""Real XMP nests a dozen levels; deeper input is hostile and would recurse too far."""

_PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_END = '\n<?xpacket end="w"?>'


class XmpError(Exception):
    """The packet is not usable XMP (malformed, DTD/entities, too deep, no rdf:RDF)."""


@dataclass(frozen=True)
class XmpFields:
    digital_source_type: str | None
    creator_tool: str | None


@dataclass
class _Packet:
    root: ET.Element
    rdf: ET.Element
    prefixes: dict[str, str]  # namespace URI -> prefix used in the source


def _parse(packet: bytes) -> _Packet:
    if len(packet) > MAX_PACKET:
        raise XmpError(f"XMP packet is {len(packet):,} bytes, over the {MAX_PACKET:,} limit")
    text = packet.rstrip(b"\x00 \t\r\n")
    prefixes: dict[str, str] = {}
    root: ET.Element | None = None
    depth = 0
    try:
        events = iterparse(io.BytesIO(text), events=("start", "end", "start-ns"), forbid_dtd=True)
        for event, item in events:
            if event == "start-ns":
                prefix, uri = item
                if prefix and uri not in prefixes:
                    prefixes[uri] = prefix
            elif event == "start":
                depth += 1
                if depth > MAX_DEPTH:
                    raise XmpError(f"XMP nests deeper than {MAX_DEPTH} levels")
                if root is None:
                    root = item
            else:
                depth -= 1
    # defusedxml's refusals are ValueErrors; a bad encoding declaration raises LookupError.
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise XmpError(f"XMP is not well-formed XML ({exc})") from None
    if root is None:  # pragma: no cover - iterparse raises on empty input
        raise XmpError("XMP packet is empty")
    rdf = root if root.tag == _RDF else root.find(f".//{_RDF}")
    if rdf is None:
        raise XmpError("XMP has no rdf:RDF element")
    return _Packet(root, rdf, prefixes)


def _property(rdf: ET.Element, name: str) -> str | None:
    for description in rdf.findall(_DESCRIPTION):
        if name in description.attrib:
            return description.attrib[name].strip() or None
        element = description.find(name)
        if element is not None:
            value = (element.text or "").strip() or element.get(_RESOURCE, "").strip()
            return value or None
    return None


def read(packet: bytes) -> XmpFields:
    """Our two properties from a packet; raises :class:`XmpError` if it cannot be parsed."""
    parsed = _parse(packet)
    return XmpFields(
        _property(parsed.rdf, DIGITAL_SOURCE_TYPE), _property(parsed.rdf, CREATOR_TOOL)
    )


def _fresh() -> _Packet:
    root = ET.Element(f"{{{X_NS}}}xmpmeta", {f"{{{X_NS}}}xmptk": "aiwatermark"})
    rdf = ET.SubElement(root, _RDF)
    return _Packet(root, rdf, {})


def merge(packet: bytes | None, digital_source_type: str, creator_tool: str | None) -> bytes:
    """A packet with our properties set: ``packet``'s content kept, ours replaced.

    An unparseable ``packet`` is replaced by a fresh one: its content could not be read by
    anyone anyway. ``creator_tool=None`` leaves an existing CreatorTool alone.
    """
    parsed = _fresh()
    if packet is not None:
        with contextlib.suppress(XmpError):
            parsed = _parse(packet)
    ours = {DIGITAL_SOURCE_TYPE: digital_source_type}
    if creator_tool is not None:
        ours[CREATOR_TOOL] = creator_tool
    descriptions = parsed.rdf.findall(_DESCRIPTION)
    for description in descriptions:
        for name in ours:
            description.attrib.pop(name, None)
            for element in description.findall(name):
                description.remove(element)
    if descriptions:
        target = descriptions[0]
    else:
        target = ET.SubElement(parsed.rdf, _DESCRIPTION, {_ABOUT: ""})
    for name, value in ours.items():
        ET.SubElement(target, name).text = value
    return (_PACKET_BEGIN + _serialise(parsed) + _PACKET_END).encode("utf-8")


def _split(name: str) -> tuple[str | None, str]:
    if name.startswith("{"):
        uri, _, local = name[1:].partition("}")
        return uri, local
    return None, name


def _namespaces(element: ET.Element) -> set[str]:
    names = [element.tag, *element.attrib]
    return {uri for uri, _ in map(_split, names) if uri is not None and uri != XML_NS}


def _assign_prefixes(packet: _Packet) -> dict[str, str]:
    used: set[str] = set()
    for element in packet.root.iter():
        used |= _namespaces(element)
    assigned: dict[str, str] = {}
    taken = {"xml"}
    for uri in sorted(used, key=lambda u: (u not in packet.prefixes, u)):
        prefix = packet.prefixes.get(uri) or _PREFERRED_PREFIXES.get(uri) or "ns"
        if prefix in taken or prefix.lower().startswith("xml"):
            number = 1
            while f"{prefix}{number}" in taken:
                number += 1
            prefix = f"{prefix}{number}"
        assigned[uri] = prefix
        taken.add(prefix)
    return assigned


def _escape(text: str, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Char references keep these exactly; a literal CR (or, in attributes, any whitespace)
    # would be normalised away by the next parser.
    text = text.replace("\r", "&#13;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def _serialise(packet: _Packet) -> str:
    prefixes = _assign_prefixes(packet)
    out: list[str] = []

    def qualified(name: str) -> str:
        uri, local = _split(name)
        if uri is None:
            return local
        return f"xml:{local}" if uri == XML_NS else f"{prefixes[uri]}:{local}"

    def write(element: ET.Element, in_scope: frozenset[str]) -> None:
        # rdf:Description declares every namespace its properties use, as XMP writers do.
        needed = set(_namespaces(element))
        if element.tag == _DESCRIPTION:
            for child in element.iter():
                needed |= _namespaces(child)
        new = sorted(needed - in_scope, key=lambda u: prefixes[u])
        scope = in_scope | frozenset(new)
        parts = [qualified(element.tag)]
        parts += [f'xmlns:{prefixes[uri]}="{_escape(uri, True)}"' for uri in new]
        parts += [f'{qualified(k)}="{_escape(v, True)}"' for k, v in element.attrib.items()]
        out.append("<" + " ".join(parts))
        if not element.text and len(element) == 0:
            out.append("/>")
        else:
            out.append(">" + _escape(element.text or ""))
            for child in element:
                write(child, scope)
            out.append(f"</{qualified(element.tag)}>")
        # The root's tail lies outside the document.
        if element is not packet.root:
            out.append(_escape(element.tail or ""))

    write(packet.root, frozenset())
    return "".join(out)
