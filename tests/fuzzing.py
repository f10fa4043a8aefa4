"""The fuzz harness: seeds, mutators, targets and a sandboxed worker. No tests here.

Seeds are real photographs (fixtures/) shrunk to 256–320 px on the short side (from the
watermark's minimum, ``invisible.MIN_SIZE``) and encoded as JPEG, PNG and WebP, plain, with
a metadata disclosure, with a C2PA manifest signed by a test CA made on the fly, and fully
marked by :func:`aiwatermark.mark`. Each case applies one to three mutations
(:data:`MUTATORS`: flipped bits, overwritten spans, truncation, bogus chunk/segment/box
lengths, huge declared dimensions, duplicated or nested JUMBF, garbage or hostile XMP and
EXIF, foreign chunks, splices of two files) and hands the bytes to one target
(:data:`TARGETS`).

Every call runs in a :class:`Worker` process with an address-space limit (``RLIMIT_AS``)
and a time bound; the outcome is ``ok`` (returned), ``AiWatermarkError`` (refused with our
error), ``other`` (any other exception: a bug), ``timeout`` or ``crash`` (the worker died:
a bug). The worker is started with ``spawn``, so it imports this module by name: the
tests' folder must be on ``sys.path`` (pytest puts it there; ``benchmarks/fuzz.py`` adds
it).

Used by tests/test_fuzz.py, tests/test_reliability.py and benchmarks/fuzz.py (the long run
from the command line).
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.connection
import random
import resource
import struct
import time
import traceback
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pki import TestCA

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PHOTOS = ("astronaut.jpg", "coffee.png", "chelsea.webp")
FORMATS = ("JPEG", "PNG", "WEBP")
OUTCOMES = ("ok", "AiWatermarkError", "other", "timeout", "crash")

# --------------------------------------------------------------------------------------------
# Test CA (real certificates, so real signing and real validation)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestIdentity:
    """A throwaway root CA and one C2PA-profile ES256 signing certificate, as files."""

    root: Path
    chain: Path
    key: Path


def make_test_identity(folder: Path, *, organization: str = "Fuzz Test Newsroom") -> TestIdentity:
    """Write a root CA and a signing certificate valid for a month into ``folder``.

    The certificates come from the tests' PKI helper, ``tests/pki.py``.
    """
    ca = TestCA.create(folder, organization=organization, common_name="Fuzz Root CA")
    signer = ca.issue("Fuzz Signer")
    return TestIdentity(ca.root_path, signer.chain, signer.key)


# --------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str  # e.g. "coffee-200.png+c2pa"
    format: str
    data: bytes


def make_seeds(identity: TestIdentity, *, sizes: tuple[int, ...] = (256, 320)) -> list[Seed]:
    """Real photos (short side ``sizes``) as JPEG/PNG/WebP: plain, disclosed, signed, marked."""
    from PIL import Image

    import aiwatermark
    from aiwatermark import imageio, keys, metadata, provenance

    signer = keys.Signer.from_files(identity.chain, identity.key)
    seeds: list[Seed] = []
    for index, photo in enumerate(PHOTOS):
        with Image.open(FIXTURES / photo) as opened:
            image = opened.convert("RGB")
        size = sizes[index % len(sizes)]
        scale = size / min(image.size)  # the short side, so the watermark fits
        small = image.resize((round(image.width * scale), round(image.height * scale)))
        stem = f"{photo.split('.')[0]}-{size}"
        for fmt in FORMATS:
            plain = imageio.encode(small, fmt)
            suffix = f"{stem}.{fmt.lower()}"
            disclosed = metadata.disclose(plain, generator="Fuzz Diffusion 1")
            signed = provenance.sign(
                disclosed,
                format=fmt,
                signer=signer,
                generator="Fuzz Diffusion",
                soft_binding=bytes(range(8)),
            ).data
            marked = aiwatermark.mark(
                small, format=fmt, signer=signer, store=False, generator="Fuzz Diffusion"
            ).data
            assert marked is not None
            seeds += [
                Seed(suffix, fmt, plain),
                Seed(suffix + "+xmp", fmt, disclosed),
                Seed(suffix + "+c2pa", fmt, signed),
                Seed(suffix + "+mark", fmt, marked),
            ]
    rgba = Image.open(FIXTURES / "coffee.png").convert("RGBA").resize((180, 120))
    seeds.append(Seed("coffee-rgba.png", "PNG", imageio.encode(rgba, "PNG")))
    seeds.append(Seed("coffee-lossless.webp", "WEBP", imageio.encode(rgba, "WEBP", lossless=True)))
    grey = small.convert("L")
    progressive = io.BytesIO()
    grey.save(progressive, "JPEG", progressive=True, quality=80)
    seeds.append(Seed("grey-progressive.jpg", "JPEG", progressive.getvalue()))
    return seeds


# --------------------------------------------------------------------------------------------
# Container walking (deliberately lenient: it must cope with its own mutations)
# --------------------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, length) of each PNG chunk until the structure breaks."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        out.append((pos, data[pos + 4 : pos + 8], length))
        pos += 12 + length
    return out


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(offset of the 0xFF, marker, length field) of each JPEG header segment up to SOS."""
    out, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        out.append((pos, marker, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def riff_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, fourcc, length) of each RIFF chunk of a WebP."""
    out, pos = [], 12
    while pos + 8 <= len(data):
        length = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        out.append((pos, data[pos : pos + 4], length))
        pos += 8 + length + (length & 1)
    return out


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8"):
        return "JPEG"
    if data.startswith(b"\x89PNG"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def riff_chunk(fourcc: bytes, body: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def fix_riff_size(data: bytes) -> bytes:
    return data[:4] + struct.pack("<I", len(data) - 8) + data[8:]


def insert_block(data: bytes, kind: str, body: bytes, rng: random.Random) -> bytes:
    """Put an XMP / EXIF / JUMBF / unknown block where that format keeps such things."""
    fmt = sniff(data)
    if fmt == "JPEG":
        marker, prefix = {
            "xmp": (0xE1, b"http://ns.adobe.com/xap/1.0/\x00"),
            "exif": (0xE1, b"Exif\x00\x00"),
            "jumbf": (0xEB, b"JP\x00\x00\x00\x00\x00\x01"),
        }.get(kind, (rng.randrange(0xE0, 0xF0), b""))
        payload = (prefix + body)[:0xFFFD]
        segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
        segments = jpeg_segments(data)
        where = rng.choice([2] + [pos for pos, _, _ in segments])
        return data[:where] + segment + data[where:]
    if fmt == "PNG":
        chunk = {
            "xmp": lambda: png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + body),
            "exif": lambda: png_chunk(b"eXIf", body),
            "jumbf": lambda: png_chunk(b"caBX", body),
        }.get(kind, lambda: png_chunk(bytes(rng.choice(b"abcdefXYZ") for _ in range(4)), body))()
        chunks = png_chunks(data)
        where = rng.choice([pos for pos, _, _ in chunks[1:]] or [len(data)])
        return data[:where] + chunk + data[where:]
    if fmt == "WEBP":
        fourcc = {"xmp": b"XMP ", "exif": b"EXIF", "jumbf": b"C2PA"}.get(kind, b"JUNK")
        chunks = riff_chunks(data)
        where = rng.choice([pos for pos, _, _ in chunks[1:]] + [len(data)])
        return fix_riff_size(data[:where] + riff_chunk(fourcc, body) + data[where:])
    return data + body


def find_jumbf(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each whole segment/chunk that carries C2PA JUMBF."""
    fmt = sniff(data)
    if fmt == "JPEG":
        return [(p, p + 2 + n) for p, m, n in jpeg_segments(data) if m == 0xEB]
    if fmt == "PNG":
        return [(p, p + 12 + n) for p, k, n in png_chunks(data) if k == b"caBX"]
    if fmt == "WEBP":
        return [(p, p + 8 + n + (n & 1)) for p, k, n in riff_chunks(data) if k == b"C2PA"]
    return []


# --------------------------------------------------------------------------------------------
# Mutators: (rng, data, other seed's data) -> mutated data
# --------------------------------------------------------------------------------------------

Mutator = Callable[[random.Random, bytes, bytes], bytes]


def flip_bits(rng: random.Random, data: bytes, _: bytes) -> bytes:
    out = bytearray(data)
    for _i in range(rng.choice((1, 1, 2, 4, 16, 64))):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def overwrite_span(rng: random.Random, data: bytes, _: bytes) -> bytes:
    start = rng.randrange(len(data))
    span = min(rng.choice((2, 8, 64, 512)), len(data) - start)
    filler = rng.choice((b"\x00", b"\xff", bytes([rng.randrange(256)])))
    noise = rng.random() < 0.5
    patch = rng.randbytes(span) if noise else filler * span
    return data[:start] + patch + data[start + span :]


def truncate(rng: random.Random, data: bytes, _: bytes) -> bytes:
    # max(2, ...): an earlier mutation may have left a single byte.
    cut = rng.choice((rng.randrange(1, max(2, len(data))), rng.randrange(1, 64), len(data) - 1))
    return data[: max(1, cut)]


def _bogus_length(rng: random.Random, old: int, width: int) -> int:
    top = (1 << (8 * width)) - 1
    return rng.choice(
        (0, 1, 2, top, top - 1, min(top, old + 1), max(0, old - 1), rng.randrange(top + 1))
    )


def bogus_length(rng: random.Random, data: bytes, _: bytes) -> bytes:
    """Rewrite one structural length: a chunk, segment, RIFF or JUMBF box length."""
    out = bytearray(data)
    fmt = sniff(data)
    fields: list[tuple[int, int, str]] = []  # (offset, width, struct format)
    if fmt == "PNG":
        fields = [(pos, 4, ">I") for pos, _, _ in png_chunks(data)]
    elif fmt == "JPEG":
        fields = [(pos + 2, 2, ">H") for pos, _, _ in jpeg_segments(data)]
    elif fmt == "WEBP":
        fields = [(4, 4, "<I")] + [(pos + 4, 4, "<I") for pos, _, _ in riff_chunks(data)]
    boxes = [i - 4 for i in range(4, len(data) - 4) if data[i : i + 4] in (b"jumb", b"jumd")]
    fields += [(pos, 4, ">I") for pos in boxes if pos >= 0]
    if not fields:
        return truncate(rng, data, b"")
    offset, width, code = rng.choice(fields)
    old = struct.unpack(code, data[offset : offset + width])[0]
    struct.pack_into(code, out, offset, _bogus_length(rng, old, width))
    return bytes(out)


HUGE_SIDES = (0, 1, 16_383, 16_384, 30_000, 65_535, 100_000, 1 << 24, (1 << 31) - 1, (1 << 32) - 1)


def huge_dimensions(rng: random.Random, data: bytes, _: bytes) -> bytes:
    """Declare a giant (or zero) canvas in the image header, leaving the pixel data as is."""
    out = bytearray(data)
    fmt = sniff(data)

    def side(limit: int) -> int:
        return min(rng.choice(HUGE_SIDES), limit)

    if fmt == "PNG" and len(out) >= 24:
        struct.pack_into(">II", out, 16, side(0xFFFFFFFF), side(0xFFFFFFFF))
    elif fmt == "JPEG":
        for pos, marker, _n in jpeg_segments(data):
            if marker in (0xC0, 0xC1, 0xC2) and pos + 9 <= len(out):
                struct.pack_into(">HH", out, pos + 5, side(0xFFFF), side(0xFFFF))
    elif fmt == "WEBP":
        for pos, fourcc, _n in riff_chunks(data):
            body = pos + 8
            if fourcc == b"VP8X" and body + 10 <= len(out):
                out[body + 4 : body + 7] = (side(1 << 24) - 1 & 0xFFFFFF).to_bytes(3, "little")
                out[body + 7 : body + 10] = (side(1 << 24) - 1 & 0xFFFFFF).to_bytes(3, "little")
            elif fourcc == b"VP8 " and body + 10 <= len(out):
                struct.pack_into("<HH", out, body + 6, side(0x3FFF), side(0x3FFF))
            elif fourcc == b"VP8L" and body + 5 <= len(out):
                w, h = side(1 << 14) - 1 & 0x3FFF, side(1 << 14) - 1 & 0x3FFF
                bits = struct.unpack("<I", out[body + 1 : body + 5])[0] & ~((1 << 28) - 1)
                struct.pack_into("<I", out, body + 1, bits | w | (h << 14))
    return bytes(out)


def duplicate_jumbf(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Repeat, nest or transplant the C2PA manifest (or plant a JUMBF-looking box)."""
    found = find_jumbf(data)
    if found and rng.random() < 0.6:
        start, end = rng.choice(found)
        block = data[start:end]
        if rng.random() < 0.5:
            where = rng.choice((start, end, 2 if sniff(data) == "JPEG" else end))
            out = data[:where] + block + data[where:]
            return fix_riff_size(out) if sniff(data) == "WEBP" else out
        # nest the manifest store inside another jumb superbox
        store_at = data.find(b"jumb", start, end) - 4
        if store_at < 0:
            return data
        store = data[store_at:end]
        description = b"\x00\x00\x00\x19jumdc2pa\x00\x11\x00\x10\x80\x00\xaa\x008\x9bq\x03c2pa\x00"
        nested = struct.pack(">I", 8 + len(description) + len(store)) + b"jumb" + description
        return insert_block(data, "jumbf", nested + store, rng)
    donor = find_jumbf(other)
    if donor:
        start, end = rng.choice(donor)
        body = other[start:end]
        kind = sniff(other)
        payload = body[4:] if kind == "JPEG" else body[8:]  # drop marker+length / chunk header
        if kind == "PNG":
            payload = payload[:-4]
        return insert_block(data, "jumbf", payload if kind != "JPEG" else payload[2:], rng)
    return insert_block(data, "jumbf", b"\x00\x00\x00\x10jumb" + rng.randbytes(8), rng)


XMP_BODIES: dict[str, Callable[[random.Random], bytes]] = {
    "random": lambda rng: rng.randbytes(rng.randrange(1, 400)),
    "billion laughs": lambda rng: (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
        )
        + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&j;</x:xmpmeta>'
    ),
    "external entity": lambda rng: (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
        b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#">&e;</rdf:RDF></x:xmpmeta>'
    ),
    "deep": lambda rng: b"<a>" * rng.choice((70, 1000, 50_000)) + b"</a>" * 3,
    "bad encoding": lambda rng: b'<?xml version="1.0" encoding="x-nonsense"?><a/>',
    "utf16 junk": lambda rng: "\ufeff<x:xmpmeta>\ud7ff</x".encode("utf-16", "surrogatepass"),
    "valid but odd": lambda rng: (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
        b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        b'Iptc4xmpExt:DigitalSourceType="'
        + rng.randbytes(20).hex().encode()
        + b'"><Iptc4xmpExt:DigitalSourceType><rdf:Bag/></Iptc4xmpExt:DigitalSourceType>'
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    ),
}


def garbage_xmp(rng: random.Random, data: bytes, _: bytes) -> bytes:
    body = XMP_BODIES[rng.choice(sorted(XMP_BODIES))](rng)
    return insert_block(data, "xmp", body, rng)


def _tiff(rng: random.Random) -> bytes:
    """A TIFF/EXIF block with hostile offsets: loops, out-of-range, huge counts."""
    endian = rng.choice(("<", ">"))
    head = (b"II" if endian == "<" else b"MM") + struct.pack(endian + "HI", 42, 8)
    entries = []
    for _i in range(rng.randrange(1, 6)):
        tag = rng.choice((0x010E, 0x0131, 0x8769, 0x8825, 0x9286, 0x0112, rng.randrange(65536)))
        kind = rng.choice((1, 2, 3, 4, 5, 7, 12, 99))
        count = rng.choice((1, 4, 1000, 0xFFFFFFFF))
        value = rng.choice((8, 0, 0xFFFFFFF0, rng.randrange(1 << 32)))
        entries.append(struct.pack(endian + "HHII", tag, kind, count, value))
    ifd = struct.pack(endian + "H", len(entries)) + b"".join(entries)
    next_ifd = struct.pack(endian + "I", rng.choice((0, 8, 0xFFFFFFFF)))
    return head + ifd + next_ifd + rng.randbytes(rng.randrange(0, 64))


def garbage_exif(rng: random.Random, data: bytes, _: bytes) -> bytes:
    body = _tiff(rng) if rng.random() < 0.7 else rng.randbytes(rng.randrange(1, 200))
    return insert_block(data, "exif", body, rng)


def foreign_block(rng: random.Random, data: bytes, _: bytes) -> bytes:
    return insert_block(data, "other", rng.randbytes(rng.randrange(0, 300)), rng)


def splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    cut = rng.randrange(1, max(2, len(data)))
    start = rng.randrange(len(other))
    return data[:cut] + other[start : start + rng.randrange(1, 4096)] + data[cut:]


MUTATORS: dict[str, Mutator] = {
    "flip bits": flip_bits,
    "overwrite span": overwrite_span,
    "truncate": truncate,
    "bogus length": bogus_length,
    "huge dimensions": huge_dimensions,
    "duplicate jumbf": duplicate_jumbf,
    "garbage xmp": garbage_xmp,
    "garbage exif": garbage_exif,
    "foreign block": foreign_block,
    "splice": splice,
}


def mutate(rng: random.Random, seeds: list[Seed]) -> tuple[str, bytes]:
    """Pick a seed and apply 1–3 mutations; returns (description, bytes)."""
    seed = rng.choice(seeds)
    other = rng.choice(seeds).data
    data, names = seed.data, []
    for _i in range(rng.choice((1, 1, 1, 2, 3))):
        name = rng.choice(sorted(MUTATORS))
        data = MUTATORS[name](rng, data, other) or b"\x00"
        names.append(name)
    return f"{seed.name}: {' + '.join(names)}", data


# --------------------------------------------------------------------------------------------
# Targets, run in a worker process
# --------------------------------------------------------------------------------------------


def _targets(identity: TestIdentity) -> dict[str, Callable[[bytes], Any]]:
    import aiwatermark
    from aiwatermark import imageio, invisible, keys, metadata, provenance

    signer = keys.Signer.from_files(identity.chain, identity.key)
    return {
        "imageio.open": lambda data: imageio.open(data),
        "metadata.read_disclosure": metadata.read_disclosure,
        "metadata.disclose": lambda data: metadata.disclose(data, generator="Fuzz"),
        "provenance.read_provenance": lambda data: provenance.read_provenance(
            data, trust_anchors=identity.root.read_bytes()
        ),
        "invisible.detect": lambda data: invisible.detect(data),
        "verify": lambda data: aiwatermark.verify(
            data, store=False, trust_anchors=identity.root.read_bytes()
        ),
        "mark": lambda data: aiwatermark.mark(data, signer=signer, store=False),
    }


TARGETS = (
    "imageio.open",
    "metadata.read_disclosure",
    "metadata.disclose",
    "provenance.read_provenance",
    "invisible.detect",
    "verify",
    "mark",
)
HEAVY = frozenset({"invisible.detect", "verify", "mark"})
"""Targets that decode and analyse pixels (~0.3–1 s a call): they get fewer cases."""


def _serve(
    conn: multiprocessing.connection.Connection, identity: TestIdentity, memory_bytes: int
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # Pillow warns about odd EXIF; warnings are not failures, only exceptions are.
    warnings.simplefilter("ignore")
    from aiwatermark import AiWatermarkError

    targets = _targets(identity)
    while True:
        try:
            target, data = conn.recv()
        except EOFError:
            return
        started = time.perf_counter()
        try:
            targets[target](data)
            outcome, detail = "ok", ""
        except AiWatermarkError as exc:
            outcome, detail = "AiWatermarkError", f"{type(exc).__name__}: {exc}"[:300]
        except BaseException as exc:  # every other exception is what we are hunting
            outcome = "other"
            detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
        elapsed = time.perf_counter() - started
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send((outcome, detail, elapsed, rss_kb))


@dataclass(frozen=True)
class Result:
    outcome: str  # one of OUTCOMES
    detail: str
    seconds: float
    peak_rss_mb: float  # the worker's peak resident memory so far


class Worker:
    """A process that runs targets one call at a time, under a memory limit and a deadline.

    A call that overruns ``timeout`` or kills the process is reported and the worker is
    replaced, so one bad input cannot stall or poison the rest of the run.
    """

    def __init__(
        self, identity: TestIdentity, *, timeout: float = 10.0, memory_mb: int = 3072
    ) -> None:
        self.identity = identity
        self.timeout = timeout
        self.memory_bytes = memory_mb * 1024 * 1024
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Any = None
        self._warm = False

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve, args=(child, self.identity, self.memory_bytes), daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        self._warm = False

    def stop(self) -> None:
        if self._process is not None:
            self._conn.close()
            self._process.kill()
            self._process.join()
            self._process = None

    def run(self, target: str, data: bytes) -> Result:
        if self._process is None:
            self._start()
        started = time.perf_counter()
        self._conn.send((target, data))
        # A fresh worker's first call also pays for its imports.
        grace = 0.0 if self._warm else 30.0
        self._warm = True
        if not self._conn.poll(self.timeout + grace):
            self.stop()
            return Result("timeout", f"no answer in {self.timeout:.0f} s", self.timeout, 0.0)
        try:
            outcome, detail, seconds, rss_kb = self._conn.recv()
        except (EOFError, OSError):
            code = self._process.exitcode if self._process else None
            self.stop()
            return Result(
                "crash", f"worker died (exit code {code})", time.perf_counter() - started, 0.0
            )
        return Result(outcome, detail, seconds, rss_kb / 1024)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
