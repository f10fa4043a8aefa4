"""AI-disclosure metadata: byte-level writing, merging, reading, hostile input, exiftool interop."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import piexif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, PngImagePlugin, features

import aiwatermark
from aiwatermark import (
    AiWatermarkError,
    CorruptImageError,
    MetadataError,
    OutputExistsError,
    UnsupportedImageError,
    metadata,
    provenance,
)
from aiwatermark.metadata import _exif

TRAINED = metadata.TRAINED_ALGORITHMIC_MEDIA
COMPOSITE = metadata.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXIFTOOL = shutil.which("exiftool")


@pytest.fixture
def exiftool() -> str:
    """exiftool's path; skips without it, except in CI (``$CI`` set), where that fails."""
    if EXIFTOOL is None:
        message = "exiftool missing (apt-get install libimage-exiftool-perl)"
        if os.environ.get("CI"):
            pytest.fail(f"{message} — CI must run the exiftool interop tests", pytrace=False)
        pytest.skip(message)
    return EXIFTOOL


FOREIGN_XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Test Toolkit">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:acme="http://example.com/acme/1.0/"
    xmlns:iptcExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmp:CreatorTool="Old Camera App"
    photoshop:Credit="Jane Roe">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour at dawn</rdf:li></rdf:Alt></dc:title>
   <acme:Batch>42 &amp; counting</acme:Batch>
   <iptcExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture</iptcExt:DigitalSourceType>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA"))


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def small(mode: str = "RGB", size: tuple[int, int] = (37, 23)) -> Image.Image:
    """A small real-content image (a crop of the coffee photo), optionally with alpha."""
    with Image.open(Path(__file__).parent.parent / "fixtures" / "coffee.png") as im:
        out = im.convert("RGB").resize(size)
    if mode == "RGBA":
        out.putalpha(Image.linear_gradient("L").resize(size))
    return out.convert(mode)


def foreign_exif() -> bytes:
    return piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Make: b"Canon",
                piexif.ImageIFD.Model: b"EOS 5D",
                piexif.ImageIFD.Orientation: 6,
                piexif.ImageIFD.ImageDescription: b"Harbour at dawn",
                piexif.ImageIFD.Software: b"Old Camera App",
            },
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2021:06:01 05:30:00"},
            "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((51, 1),)},
        }
    )


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        chunks.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + size]
        assert data[pos + 8 + size : pos + 12 + size] == zlib.crc32(kind + body).to_bytes(4, "big")
        chunks.append((kind, body))
        pos += 12 + size
    return chunks


def exiftool_json(path: Path, *tags: str) -> dict[str, object]:
    assert EXIFTOOL is not None
    out = subprocess.run(
        [EXIFTOOL, "-j", "-G1", *tags, str(path)], capture_output=True, check=True, timeout=60
    )
    result: dict[str, object] = json.loads(out.stdout)[0]
    return result


# --- round trips on the real photographs -------------------------------------------------


@pytest.mark.parametrize("name", ["astronaut.jpg", "coffee.png", "chelsea.webp"])
def test_fixture_round_trip_keeps_pixels_and_input(fixtures_dir: Path, name: str) -> None:
    original = (fixtures_dir / name).read_bytes()
    before = bytes(original)
    out = metadata.disclose(original, generator="Example Diffusion 2.1")
    assert original == before
    assert out != original
    np.testing.assert_array_equal(pixels(out), pixels(original))
    info = metadata.read_disclosure(out)
    assert info.ai_generated
    assert info.digital_source_type == TRAINED
    assert info.generator == "Example Diffusion 2.1"
    expected = ("xmp", "png-text") if name.endswith(".png") else ("xmp", "exif")
    assert info.found_in == expected
    assert info.warnings == ()
    assert info.format == {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[name.rsplit(".", 1)[1]]
    json.dumps(info.to_dict())


def test_plain_files_report_no_disclosure(photo_paths: list[Path]) -> None:
    for path in photo_paths:
        info = metadata.read_disclosure(path)
        assert not info.ai_generated
        assert info.digital_source_type is None
        assert info.found_in == ()


def test_jpeg_entropy_data_is_byte_identical(fixtures_dir: Path) -> None:
    original = (fixtures_dir / "astronaut.jpg").read_bytes()
    out = metadata.disclose(original)
    sos = original.index(b"\xff\xda")
    assert out.endswith(original[sos:])
    assert out.startswith(original[:20])  # SOI + JFIF APP0 stay first


def test_png_image_chunks_are_identical_and_metadata_precedes_idat(fixtures_dir: Path) -> None:
    original = (fixtures_dir / "coffee.png").read_bytes()
    out = metadata.disclose(original, generator="Gen")
    before, after = png_chunks(original), png_chunks(out)
    assert [c for c in after if c[0] not in (b"tEXt", b"iTXt")] == before
    kinds = [kind for kind, _ in after]
    assert kinds[0] == b"IHDR"
    assert max(i for i, k in enumerate(kinds) if k in (b"tEXt", b"iTXt")) < kinds.index(b"IDAT")
    texts = {body.split(b"\0")[0]: body for kind, body in after if kind in (b"tEXt", b"iTXt")}
    assert texts[b"DigitalSourceType"] == b"DigitalSourceType\0" + TRAINED.encode()
    assert texts[b"Software"] == b"Software\0Gen"
    assert b"XML:com.adobe.xmp" in texts


def test_edited_writes_composite_source_type(fixtures_dir: Path) -> None:
    for name in ("astronaut.jpg", "coffee.png", "chelsea.webp"):
        out = metadata.disclose((fixtures_dir / name).read_bytes(), edited=True)
        info = metadata.read_disclosure(out)
        assert info.ai_generated
        assert info.digital_source_type == COMPOSITE
        assert all(f.digital_source_type == COMPOSITE for f in info.findings)
        assert info.generator is None


def test_disclose_is_idempotent_and_switching_edited_replaces(fixtures_dir: Path) -> None:
    original = (fixtures_dir / "astronaut.jpg").read_bytes()
    once = metadata.disclose(original, generator="G")
    assert metadata.disclose(once, generator="G") == once
    switched = metadata.disclose(once, edited=True)
    info = metadata.read_disclosure(switched)
    assert info.digital_source_type == COMPOSITE
    assert info.generator == "G"  # generator=None keeps the earlier one
    exif = piexif.load(switched)
    description = exif["0th"][piexif.ImageIFD.ImageDescription].decode()
    assert description.count("AI-") == 1 and "compositeWithTrainedAlgorithmicMedia" in description
    assert switched.count(b"<Iptc4xmpExt:DigitalSourceType>") == 1
    assert switched.count(b"http://ns.adobe.com/xap/1.0/\0") == 1
    assert switched.count(b"Exif\0\0") == 1


# --- generated images: WebP variants, PNG modes, progressive JPEG -------------------------


@pytest.mark.parametrize(
    ("mode", "params", "first_chunk"),
    [
        ("RGB", {"quality": 80}, b"VP8 "),
        ("RGB", {"lossless": True}, b"VP8L"),
        ("RGBA", {"lossless": True}, b"VP8L"),
        ("RGBA", {"quality": 80}, b"VP8X"),
    ],
    ids=["simple-lossy", "simple-lossless", "lossless-alpha", "extended-alpha"],
)
def test_webp_variants(mode: str, params: dict[str, object], first_chunk: bytes) -> None:
    im = small(mode, (97, 61))
    original = encode(im, "WEBP", **params)
    assert original[12:16] == first_chunk
    out = metadata.disclose(original, generator="Gen")
    np.testing.assert_array_equal(pixels(out), pixels(original))
    chunks = riff_chunks(out)
    assert int.from_bytes(out[4:8], "little") == len(out) - 8
    fourccs = [fourcc for fourcc, _ in chunks]
    assert fourccs[0] == b"VP8X"
    assert fourccs.count(b"EXIF") == 1 and fourccs.count(b"XMP ") == 1
    vp8x = chunks[0][1]
    assert vp8x[0] & 0x0C == 0x0C  # EXIF and XMP flags
    assert bool(vp8x[0] & 0x10) == (mode == "RGBA")  # alpha flag follows the bitstream
    assert int.from_bytes(vp8x[4:7], "little") + 1 == 97
    assert int.from_bytes(vp8x[7:10], "little") + 1 == 61
    with Image.open(io.BytesIO(out)) as decoded:
        assert decoded.size == (97, 61)
        assert decoded.info["xmp"]
    assert metadata.read_disclosure(out).found_in == ("xmp", "exif")


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "LA", "I;16"])
def test_png_modes(mode: str) -> None:
    im = small("RGBA" if mode in ("RGBA", "LA") else "RGB")
    im = im.convert("P") if mode == "P" else im.convert(mode)
    original = encode(im, "PNG")
    out = metadata.disclose(original, generator="Gen")
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(out)) as b:
        assert a.mode == b.mode
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert metadata.read_disclosure(out).ai_generated


def test_progressive_jpeg_without_jfif() -> None:
    original = encode(small(), "JPEG", progressive=True, quality=90)
    # strip the JFIF APP0 so the file starts with a non-APP0 segment
    app0_end = 4 + int.from_bytes(original[4:6], "big")
    assert original[2:4] == b"\xff\xe0"
    original = b"\xff\xd8" + original[app0_end:]
    out = metadata.disclose(original)
    assert out[2:4] == b"\xff\xe1" and out[6:12] == b"Exif\0\0"
    np.testing.assert_array_equal(pixels(out), pixels(original))


# --- merging with existing metadata -------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_existing_exif_and_xmp_survive(fmt: str) -> None:
    original = encode(small(), fmt, exif=foreign_exif(), xmp=FOREIGN_XMP, quality=90)
    out = metadata.disclose(original, generator="Example Diffusion")
    np.testing.assert_array_equal(pixels(out), pixels(original))

    exif = piexif.load(out)
    zeroth = exif["0th"]
    assert zeroth[piexif.ImageIFD.Make] == b"Canon"
    assert zeroth[piexif.ImageIFD.Model] == b"EOS 5D"
    assert zeroth[piexif.ImageIFD.Orientation] == 6
    assert zeroth[piexif.ImageIFD.Software] == b"Example Diffusion"
    assert zeroth[piexif.ImageIFD.ImageDescription] == (
        b"AI-generated image (trainedAlgorithmicMedia). Harbour at dawn"
    )
    assert exif["Exif"][piexif.ExifIFD.DateTimeOriginal] == b"2021:06:01 05:30:00"
    assert exif["GPS"][piexif.GPSIFD.GPSLatitudeRef] == b"N"
    comment = exif["Exif"][piexif.ExifIFD.UserComment]
    assert comment.startswith(b"ASCII\0\0\0AI-generated image (trainedAlgorithmicMedia).")

    with Image.open(io.BytesIO(out)) as im:
        xmp = im.info["xmp"]
    root = ET.fromstring(xmp)
    description = root.find(f"{{{RDF}}}RDF/{{{RDF}}}Description")
    assert description is not None
    ns = {
        "dc": "http://purl.org/dc/elements/1.1/",
        "acme": "http://example.com/acme/1.0/",
        "ext": metadata.IPTC_EXT_NS,
        "xmp": "http://ns.adobe.com/xap/1.0/",
    }
    assert description.findtext("dc:title/rdf:Alt/rdf:li", namespaces={**ns, "rdf": RDF}) == (
        "Harbour at dawn"
    )
    assert description.findtext("acme:Batch", namespaces=ns) == "42 & counting"
    assert description.get("{http://ns.adobe.com/photoshop/1.0/}Credit") == "Jane Roe"
    assert [e.text for e in root.iter(f"{{{metadata.IPTC_EXT_NS}}}DigitalSourceType")] == [TRAINED]
    assert [e.text for e in root.iter("{http://ns.adobe.com/xap/1.0/}CreatorTool")] == [
        "Example Diffusion"
    ]
    assert "{http://ns.adobe.com/xap/1.0/}CreatorTool" not in description.attrib
    # the source's own prefixes are kept
    assert b"<iptcExt:DigitalSourceType>" in xmp and b"acme:Batch" in xmp
    assert root.get("{adobe:ns:meta/}xmptk") == "Test Toolkit"


def test_existing_png_text_and_xmp_survive() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", FOREIGN_XMP.decode())
    info.add_text("Author", "Jane Roe")
    info.add_text("Description", "Harbour at dawn")
    info.add_text("Software", "Old Camera App", zip=True)
    original = encode(small(), "PNG", pnginfo=info)
    out = metadata.disclose(original)  # no generator: Software stays
    with Image.open(io.BytesIO(out)) as im:
        assert im.text["Author"] == "Jane Roe"
        assert (
            im.text["Description"]
            == "AI-generated image (trainedAlgorithmicMedia). Harbour at dawn"
        )
        assert im.text["Software"] == "Old Camera App"
        assert im.text["DigitalSourceType"] == TRAINED
        assert b"Harbour at dawn" in im.info["xmp"]
    found = metadata.read_disclosure(out)
    assert found.generator == "Old Camera App"  # from the kept xmp:CreatorTool
    assert found.found_in == ("xmp", "png-text")


def test_foreign_non_ai_source_type_is_reported_but_not_ai() -> None:
    original = encode(small(), "JPEG", xmp=FOREIGN_XMP)
    info = metadata.read_disclosure(original)
    assert not info.ai_generated
    assert info.digital_source_type.endswith("/digitalCapture")  # type: ignore[union-attr]
    assert info.generator == "Old Camera App"
    assert info.found_in == ("xmp",)


def test_other_tools_disclosure_forms_are_read() -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="' + RDF.encode() + b'">'
        b'<rdf:Description rdf:about="" xmlns:I="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        b' I:DigitalSourceType="https://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"'
        b"/></rdf:RDF></x:xmpmeta>"
    )
    info = metadata.read_disclosure(encode(small(), "WEBP", xmp=xmp))
    assert info.ai_generated
    assert info.digital_source_type == metadata.ALGORITHMIC_MEDIA
    assert metadata.ALGORITHMIC_MEDIA in metadata.AI_SOURCE_TYPES


def test_xmp_is_wellformed_rdf_with_the_standard_iptc_namespace(fixtures_dir: Path) -> None:
    out = metadata.disclose((fixtures_dir / "coffee.png").read_bytes(), generator="G")
    with Image.open(io.BytesIO(out)) as im:
        packet = im.info["xmp"]
    assert packet.startswith(b"<?xpacket begin=") and packet.endswith(b'<?xpacket end="w"?>')
    root = ET.fromstring(packet)
    assert root.tag == "{adobe:ns:meta/}xmpmeta"
    description = root.find(f"{{{RDF}}}RDF/{{{RDF}}}Description")
    assert description is not None and description.get(f"{{{RDF}}}about") == ""
    assert metadata.IPTC_EXT_NS == "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    assert description.findtext(f"{{{metadata.IPTC_EXT_NS}}}DigitalSourceType") == TRAINED


# --- write_disclosure ---------------------------------------------------------------------


def test_write_disclosure_refuses_to_overwrite_without_permission(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    src = tmp_path / "in.jpg"
    shutil.copy(fixtures_dir / "astronaut.jpg", src)
    before = src.read_bytes()
    dst = metadata.write_disclosure(src, tmp_path / "out.jpg", generator="G")
    assert metadata.read_disclosure(dst).generator == "G"
    with pytest.raises(OutputExistsError, match="already exists"):
        metadata.write_disclosure(src, dst)
    with pytest.raises(OutputExistsError, match="input file"):
        metadata.write_disclosure(src, src)
    assert src.read_bytes() == before
    assert metadata.write_disclosure(src, src, overwrite=True, edited=True) == src
    assert metadata.read_disclosure(src).digital_source_type == COMPOSITE
    np.testing.assert_array_equal(pixels(src.read_bytes()), pixels(before))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jpg", "out.jpg"]  # no temp files


def test_write_disclosure_from_file_object_and_suffix_check(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    with open(fixtures_dir / "chelsea.webp", "rb") as handle:
        out = metadata.write_disclosure(handle, tmp_path / "c.webp")
    assert metadata.read_disclosure(out).ai_generated
    with pytest.raises(UnsupportedImageError, match="suffix"):
        metadata.write_disclosure(fixtures_dir / "chelsea.webp", tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


# --- bad input ----------------------------------------------------------------------------


def test_unsupported_and_empty_input(tmp_path: Path) -> None:
    gif = encode(small().convert("P"), "GIF")
    for data in (gif, b"not an image at all", encode(small(), "BMP")):
        with pytest.raises(UnsupportedImageError, match="JPEG, PNG or WebP"):
            metadata.disclose(data)
        with pytest.raises(UnsupportedImageError):
            metadata.read_disclosure(data)
    with pytest.raises(CorruptImageError):
        metadata.read_disclosure(b"")
    with pytest.raises(UnsupportedImageError, match="no such file"):
        metadata.read_disclosure(tmp_path / "missing.png")
    with pytest.raises(UnsupportedImageError, match="bytes"):
        metadata.disclose(str(tmp_path / "x.jpg"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "generator", ["", "   ", "tab\there", "nul\0", "x" * 2000, "bad\ufffe", 42]
)
def test_bad_generator_is_refused(generator: object) -> None:
    with pytest.raises(MetadataError, match="generator"):
        metadata.disclose(encode(small(), "PNG"), generator=generator)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_files(fmt: str) -> None:
    disclosed = metadata.disclose(encode(small(), fmt), generator="G")
    # cut inside the image data: metadata still readable, writing refused
    cut = disclosed[: len(disclosed) - 40]
    if fmt == "JPEG":  # a JPEG's structure ends at SOS, so truncated entropy data is not seen
        cut = disclosed[: disclosed.index(b"\xff\xda") + 5]
    info = metadata.read_disclosure(cut)
    assert info.ai_generated and info.generator == "G"
    assert info.warnings
    with pytest.raises(CorruptImageError, match="damaged"):
        metadata.disclose(cut)
    # cut inside the signature/header: nothing readable
    with pytest.raises((CorruptImageError, UnsupportedImageError)):
        metadata.read_disclosure(disclosed[:5])


def test_garbage_xmp_and_exif_do_not_crash_and_are_replaced() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>'
    )
    deep = b"<a>" * 5000 + b"</a>" * 5000
    bad_exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x0e\x00\x02\xff\xff\xff\xff\x00\x00\x00\x1a"
    for xmp in (bomb, deep, b"<unclosed", b"\xff\xfe garbage", b"<root/>"):
        original = encode(small(), "WEBP", xmp=xmp, exif=bad_exif)
        info = metadata.read_disclosure(original)
        assert not info.ai_generated
        assert any("XMP ignored" in w for w in info.warnings)
        assert any("EXIF ignored" in w for w in info.warnings)
        out = metadata.disclose(original, generator="G")
        after = metadata.read_disclosure(out)
        assert after.ai_generated and after.warnings == () and after.found_in == ("xmp", "exif")
        assert b"lollol" not in out


def test_png_zip_bomb_text_is_skipped() -> None:
    bomb = zlib.compress(b"\0" * (40 * 1024 * 1024), 9)
    original = encode(small(), "PNG")
    body = b"Description\0\0" + bomb
    chunk = len(body).to_bytes(4, "big") + b"zTXt" + body
    chunk += zlib.crc32(b"zTXt" + body).to_bytes(4, "big")
    at = original.index(b"IDAT") - 4
    hostile = original[:at] + chunk + original[at:]
    info = metadata.read_disclosure(hostile)
    assert any("zTXt" in w for w in info.warnings)
    assert metadata.read_disclosure(metadata.disclose(hostile)).ai_generated


@pytest.mark.parametrize(
    ("fmt", "patch"),
    [
        ("JPEG", lambda d: d[:2] + b"\xff\xe1\xff\xff" + d[2:]),  # segment longer than the file
        ("PNG", lambda d: d[:8] + b"\x7f\xff\xff\xff" + d[12:]),  # 2 GB IHDR
        ("WEBP", lambda d: d[:16] + b"\xff\xff\xff\x7f" + d[20:]),  # 2 GB VP8 chunk
        ("WEBP", lambda d: d[:4] + b"\xff\xff\xff\xff" + d[8:]),  # 4 GB RIFF
    ],
)
def test_huge_declared_lengths(fmt: str, patch: object) -> None:
    hostile = patch(encode(small(), fmt))  # type: ignore[operator]
    with pytest.raises(CorruptImageError):
        metadata.disclose(hostile)
    with contextlib.suppress(CorruptImageError):
        metadata.read_disclosure(hostile)


def test_exif_with_huge_value_count_is_bounded() -> None:
    # one BYTE tag claiming 4 billion values: piexif alone would build a 4 GB format string
    exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x0e\x00\x01\xff\xff\xff\xff\x00\x00\x00\x1a"
    original = encode(small(), "JPEG", exif=b"Exif\0\0" + exif)
    assert metadata.read_disclosure(original).warnings
    assert metadata.read_disclosure(metadata.disclose(original)).ai_generated


# --- exiftool interop ---------------------------------------------------------------------


@pytest.mark.usefixtures("exiftool")
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exiftool_reads_what_we_write(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    original = encode(small(), fmt, exif=foreign_exif()) if fmt != "PNG" else encode(small(), fmt)
    path.write_bytes(metadata.disclose(original, generator='Gen <&> "ü" 画像', edited=True))
    tags = exiftool_json(
        path, "-XMP-iptcExt:DigitalSourceType", "-XMP-xmp:CreatorTool", "-Software", "-Make"
    )
    assert tags["XMP-iptcExt:DigitalSourceType"] == COMPOSITE
    assert tags["XMP-xmp:CreatorTool"] == 'Gen <&> "ü" 画像'
    if fmt != "PNG":
        assert tags["IFD0:Software"] == 'Gen <&> "ü" 画像'
        assert tags["IFD0:Make"] == "Canon"
    validation = exiftool_json(path, "-validate", "-error")
    assert "ExifTool:Error" not in validation


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_we_read_what_exiftool_writes(exiftool: str, fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(encode(small(), fmt))
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            f"-XMP-iptcExt:DigitalSourceType={TRAINED}",
            "-XMP-xmp:CreatorTool=Other Tool",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    info = metadata.read_disclosure(path)
    assert info.ai_generated and info.generator == "Other Tool" and "xmp" in info.found_in
    # and we merge into exiftool's packet rather than replacing it
    out = metadata.disclose(path.read_bytes(), edited=True)
    assert metadata.read_disclosure(out).generator == "Other Tool"


def exiftool_warnings(exiftool: str, path: Path) -> list[str]:
    """What ``exiftool -validate -warning -a`` says is wrong with ``path``."""
    out = subprocess.run(
        [exiftool, "-validate", "-warning", "-a", "-s", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = out.stdout.splitlines()
    assert any(line.startswith("Validate") for line in lines), out.stdout
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Warning")]


def _camera_jpeg() -> bytes:
    """A camera-style JPEG: EXIF with GPS and a thumbnail, an ICC profile, 300 dpi."""
    photo = small(size=(320, 256))
    thumbnail = encode(photo.resize((32, 24)), "JPEG")
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.Orientation: 6},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2021:06:01 05:30:00"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((51, 1), (30, 1), (0, 1)),
            },
            "1st": {piexif.ImageIFD.Compression: 6},
            "thumbnail": thumbnail,
        }
    )
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(photo, "JPEG", exif=exif, icc_profile=icc, dpi=(300, 300))


_MARK_SOURCES = {
    "photo": lambda: (FIXTURES / "astronaut.jpg").read_bytes(),
    "camera": _camera_jpeg,
    "grey": lambda: encode(small("L", size=(320, 256)), "PNG"),
    "alpha": lambda: encode(small("RGBA", size=(320, 256)), "PNG"),
}
# exiftool (12.57, Debian bookworm) files the blocks of PNG chunks by their offset inside
# the chunk, not in the file, so an eXIf IFD0 at offset 8 "references" the C2PA JUMBF box
# that also starts 8 bytes into its chunk. Nothing in the file points anywhere wrong.
_EXIFTOOL_PNG_FALSE_ALARM = "IFD0 pointer references previous JUMBFBox directory"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"] + ["AVIF"] * features.check("avif"))
@pytest.mark.parametrize("source", sorted(_MARK_SOURCES))
def test_marked_files_pass_exiftool_validate(
    exiftool: str, source: str, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))
    path = tmp_path / f"marked.{fmt.lower()}"
    aiwatermark.mark(_MARK_SOURCES[source](), path, generator="Gen 画像 2", store=False)
    warnings = exiftool_warnings(exiftool, path)
    if fmt == "PNG" and source == "camera":
        warnings.remove(_EXIFTOOL_PNG_FALSE_ALARM)
    assert warnings == []
    # Valid, and still saying everything: the disclosure in every location, the manifest intact.
    info = metadata.read_disclosure(path)
    assert info.ai_generated and info.generator == "Gen 画像 2" and info.warnings == ()
    assert info.found_in == (("xmp", "png-text") if fmt == "PNG" else ("xmp", "exif"))
    assert provenance.read_provenance(path.read_bytes()).intact
    if fmt == "JPEG" and source == "camera":
        tags = exiftool_json(path, "-Make", "-GPSLatitude#", "-ExifImageWidth")
        assert tags["IFD0:Make"] == "Canon" and tags["GPS:GPSLatitude"] == 51.5
        assert tags["ExifIFD:ExifImageWidth"] == 256  # the upright size, not the camera's


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"] + ["AVIF"] * features.check("avif"))
def test_marked_files_carry_no_stale_thumbnail(fmt: str) -> None:
    # Upright, so Pillow leaves the camera's EXIF (and its thumbnail) as it was.
    photo = small(size=(320, 256))
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Canon"},
            "1st": {piexif.ImageIFD.Compression: 6},
            "thumbnail": encode(photo.resize((32, 24)), "JPEG"),
        }
    )
    result = aiwatermark.mark(
        encode(photo, "JPEG", exif=exif), format=fmt, signer=False, store=False
    )
    assert result.data is not None
    with Image.open(io.BytesIO(result.data)) as marked:
        written = piexif.load(marked.info["exif"])
    assert written["0th"][piexif.ImageIFD.Make] == b"Canon"
    assert written["thumbnail"] is None  # it showed the picture without its label


def test_disclosed_camera_jpeg_keeps_its_exif_and_passes_validate(
    exiftool: str, tmp_path: Path
) -> None:
    original = _camera_jpeg()
    path = tmp_path / "disclosed.jpg"
    path.write_bytes(metadata.disclose(original, generator="G"))
    assert exiftool_warnings(exiftool, path) == []
    before, after = piexif.load(original), piexif.load(path.read_bytes())
    assert after["thumbnail"] == before["thumbnail"]
    # Offsets change with the layout; description and software are ours to replace.
    moved = {piexif.ImageIFD.ExifTag, piexif.ImageIFD.GPSTag, piexif.ImageIFD.JPEGInterchangeFormat}
    replaced = {piexif.ImageIFD.ImageDescription, piexif.ImageIFD.Software}
    for ifd in ("0th", "Exif", "GPS", "1st"):
        kept = {tag: value for tag, value in before[ifd].items() if tag not in moved | replaced}
        assert kept.items() <= after[ifd].items()
    tags = exiftool_json(path, "-XResolution", "-ColorSpace#", "-ExifImageHeight")
    # 300 dpi from JFIF; an ICC profile means the colours are not promised to be sRGB
    assert tags["IFD0:XResolution"] == 300 and tags["ExifIFD:ColorSpace"] == 0xFFFF
    assert tags["ExifIFD:ExifImageHeight"] == 256


# --- property tests -----------------------------------------------------------------------

GENERATORS = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip())

_BASES = {fmt: encode(small(size=(16, 16)), fmt) for fmt in ("JPEG", "PNG", "WEBP")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generator=GENERATORS, fmt=st.sampled_from(sorted(_BASES)), edited=st.booleans())
def test_any_generator_round_trips(generator: str, fmt: str, edited: bool) -> None:
    out = metadata.disclose(_BASES[fmt], generator=generator, edited=edited)
    info = metadata.read_disclosure(out)
    assert info.generator == generator.strip()
    assert info.digital_source_type == (COMPOSITE if edited else TRAINED)
    assert info.findings[0].location == "xmp"
    assert all(f.generator == generator.strip() for f in info.findings[1:])


def _only_our_errors(data: bytes) -> None:
    with contextlib.suppress(AiWatermarkError):
        metadata.read_disclosure(data)
    with contextlib.suppress(AiWatermarkError):
        metadata.disclose(data, generator="G")


_DISCLOSED = {
    fmt: metadata.disclose(encode(small(size=(16, 16)), fmt, exif=foreign_exif()), generator="G")
    if fmt != "PNG"
    else metadata.disclose(data, generator="G")
    for fmt, data in _BASES.items()
}


@settings(max_examples=200, deadline=None)
@given(
    fmt=st.sampled_from(sorted(_DISCLOSED)),
    edits=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.sampled_from("sdit")),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_files_raise_only_our_errors(fmt: str, edits: list[tuple[int, int, str]]) -> None:
    data = bytearray(_DISCLOSED[fmt])
    for position, value, action in edits:
        at = position % (len(data) + 1)
        if action == "s":
            data[at : at + 1] = bytes([value])
        elif action == "d":
            del data[at : at + value]
        elif action == "i":
            data[at:at] = bytes([value]) * (value % 7 + 1)
        else:
            del data[at:]
    _only_our_errors(bytes(data))


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.sampled_from(
        [
            b"\xff\xd8\xff",
            b"\x89PNG\r\n\x1a\n",
            b"RIFF\x00\x00\x00\x00WEBP",
            b"RIFF\xff\xff\xff\xffWEBPVP8X",
        ]
    ),
    rest=st.binary(max_size=300),
)
def test_random_bytes_raise_only_our_errors(prefix: bytes, rest: bytes) -> None:
    _only_our_errors(prefix + rest)


@settings(max_examples=100, deadline=None)
@given(rest=st.binary(max_size=200), count=st.integers(0, 2**32 - 1), kind=st.integers(0, 14))
def test_random_exif_raises_only_our_errors(rest: bytes, count: int, kind: int) -> None:
    entry = b"\x01\x0e" + kind.to_bytes(2, "big") + count.to_bytes(4, "big") + b"\x00\x00\x00\x1a"
    exif = b"Exif\0\0MM\x00\x2a\x00\x00\x00\x08\x00\x01" + entry + rest
    jpeg = _BASES["JPEG"]
    segment = b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
    _only_our_errors(jpeg[:2] + segment + jpeg[2:])


@settings(max_examples=100, deadline=None)
@given(body=st.text(max_size=200))
def test_random_xmp_raises_only_our_errors(body: str) -> None:
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="'
        + RDF
        + '">'
        + body
        + "</rdf:RDF></x:xmpmeta>"
    ).encode("utf-8", errors="replace")
    data = encode(small(size=(16, 16)), "WEBP", xmp=xmp)
    _only_our_errors(data)


_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8, 11: 4, 12: 8}
_OFFSET_TAGS = {0x0111, 0x0117, 0x0144, 0x0145, 0x014A, 0x0201, 0x0202, 0x8769, 0x8825, 0xA005}


@st.composite
def _entries(draw: st.DrawFn, min_size: int = 1) -> dict[int, _exif._Value]:
    tags = st.integers(0, 0xFFFF).filter(lambda tag: tag not in _OFFSET_TAGS)
    entries = {}
    for tag in draw(st.lists(tags, min_size=min_size, max_size=8, unique=True)):
        kind = draw(st.sampled_from(sorted(_TYPE_SIZES)))
        count = draw(st.integers(1, 12))
        entries[tag] = _exif._Value(
            kind,
            count,
            draw(st.binary(min_size=count * _TYPE_SIZES[kind], max_size=count * _TYPE_SIZES[kind])),
        )
    return entries


@st.composite
def _exif_blocks(draw: st.DrawFn) -> _exif._Exif:
    ifds = {"IFD0": draw(_entries(min_size=0))}
    for name in ("Exif", "Interop", "GPS"):
        if draw(st.booleans()) and (name != "Interop" or "Exif" in ifds):
            ifds[name] = draw(_entries())
    if draw(st.booleans()):
        ifds["IFD1"] = draw(_entries(min_size=0))
    thumbnail = draw(st.binary(min_size=1, max_size=40)) if "IFD1" in ifds else None
    return _exif._Exif(draw(st.sampled_from("<>")), ifds, thumbnail)


def _layout_problems(block: bytes) -> list[str]:
    """Independent of the writer: IFDs and values word-aligned, inside, and never overlapping."""
    endian = "<" if block[:2] == b"II" else ">"

    def number(fmt: str, at: int) -> int:
        value: int = struct.unpack_from(endian + fmt, block, at)[0]
        return value

    used: list[tuple[int, int, str]] = [(0, 8, "header")]
    pending = [("IFD0", number("L", 4))]
    problems = []
    while pending:
        name, at = pending.pop()
        count = number("H", at)
        used.append((at, at + 2 + 12 * count + 4, name))
        if at % 2:
            problems.append(f"{name} at odd offset {at}")
        for index in range(count):
            entry = at + 2 + 12 * index
            tag, kind, n = number("H", entry), number("H", entry + 2), number("L", entry + 4)
            size = _TYPE_SIZES.get(kind, 1) * n
            if tag in (0x8769, 0x8825, 0xA005):
                pending.append((f"{name}->{tag:#06x}", number("L", entry + 8)))
            elif tag == 0x0201:
                start, length = number("L", entry + 8), number("L", entry + 20)  # 0x0202 next
                used.append((start, start + length, "thumbnail"))
            elif size > 4:
                start = number("L", entry + 8)
                used.append((start, start + size, f"{name} {tag:#06x}"))
                if start % 2:
                    problems.append(f"{name} {tag:#06x} value at odd offset {start}")
        if (following := number("L", at + 2 + 12 * count)) and name == "IFD0":
            pending.append(("IFD1", following))
        elif following:
            problems.append(f"{name} links to another IFD")
    reach, reached_by = 0, ""
    for start, end, what in sorted(used):
        if start < reach:
            problems.append(f"{what} overlaps {reached_by}")
        if end > len(block):
            problems.append(f"{what} ends past the block")
        if end > reach:
            reach, reached_by = end, what
    return problems


@settings(max_examples=200, deadline=None)
@given(original=_exif_blocks(), generator=st.none() | GENERATORS, jpeg=st.booleans())
def test_exif_merge_lays_out_and_keeps_every_tag(
    original: _exif._Exif, generator: str | None, jpeg: bool
) -> None:
    generator = None if generator is None else generator.strip()  # as disclose() passes it
    block = _exif._serialise(original)
    assert _layout_problems(block) == []
    assert _exif._parse(block).ifds == original.ifds
    frame = _exif.JpegFrame(300, 200, 3, False, None) if jpeg else None
    merged = _exif.merge(block, TRAINED, generator, jpeg=frame)
    assert _layout_problems(merged) == []
    assert merged[:2] == block[:2]  # the block's own byte order is kept
    result = _exif._parse(merged)
    ours = {_exif.IMAGE_DESCRIPTION, _exif.SOFTWARE, _exif.USER_COMMENT}
    if jpeg:
        ours |= {_exif.PIXEL_X_DIMENSION, _exif.PIXEL_Y_DIMENSION}
    for name, entries in original.ifds.items():
        assert {t: v for t, v in entries.items() if t not in ours}.items() <= (
            result.ifds[name].items()
        )
    assert result.thumbnail == original.thumbnail
    fields = _exif.read(merged)
    assert fields.user_comment is not None and TRAINED in fields.user_comment
    if generator is not None:
        assert fields.software == generator
    piexif.load(b"Exif\0\0" + merged)  # another reader walks it too
    assert _exif.merge(merged, TRAINED, generator, jpeg=frame) == merged  # a fixed point
