"""Reliability guarantees: bombs refused, inputs untouched, writes atomic, nobody fooled.

Everything runs on real files with real codecs and real signatures (a throwaway test CA).
The fuzzing itself lives in tests/test_fuzz.py and benchmarks/fuzz.py (their shared harness
is tests/fuzzing.py); docs/reliability.md states the guarantees these tests hold the library to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import os
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import aiwatermark
from aiwatermark import (
    AiWatermarkError,
    ImageTooLargeError,
    KeyFileError,
    OutputExistsError,
    imageio,
    invisible,
    keys,
    metadata,
    provenance,
    visible,
)
from fuzzing import (
    FORMATS,
    PHOTOS,
    XMP_BODIES,
    bogus_length,
    find_jumbf,
    fix_riff_size,
    insert_block,
    make_test_identity,
    png_chunk,
    riff_chunk,
    sniff,
    truncate,
)

ROOT = Path(__file__).resolve().parent.parent


# --- shared fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_test_identity(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def signer(identity: Any) -> keys.Signer:
    return keys.Signer.from_files(identity.chain, identity.key)


@pytest.fixture(scope="module")
def small_photos() -> dict[str, Image.Image]:
    """The bundled photographs, 256 px on the short side (big enough for the watermark)."""
    out = {}
    for name in PHOTOS:
        with Image.open(ROOT / "fixtures" / name) as opened:
            image = opened.convert("RGB")
        scale = 256 / min(image.size)
        out[name] = image.resize((round(image.width * scale), round(image.height * scale)))
    return out


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The dev identity and the manifest store must never land in the real user config.
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiwatermark", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


# --- decompression bombs and giant images ---------------------------------------------------


def _png_declaring(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def _jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(imageio.encode(Image.new("RGB", (16, 16), "gray"), "JPEG"))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def _webp_declaring(width: int, height: int) -> bytes:
    """A lossy 16×16 WebP whose VP8X canvas claims ``width × height``."""
    simple = imageio.encode(Image.new("RGB", (16, 16), "gray"), "WEBP")
    assert simple[12:16] == b"VP8 "
    vp8x = riff_chunk(
        b"VP8X", bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return fix_riff_size(simple[:12] + vp8x + simple[12:])


BOMBS = {
    "png 100000x100000": lambda: _png_declaring(100_000, 100_000),
    "jpeg 65535x65535 SOF": lambda: _jpeg_declaring(65_535, 65_535),
    "webp 16384x16384 VP8X": lambda: _webp_declaring(16_384, 16_384),
}

PIXEL_ENTRY_POINTS: dict[str, Callable[[Any], object]] = {
    "imageio.open": imageio.open,
    "invisible.detect": invisible.detect,
    "invisible.embed": lambda src: invisible.embed(src, bytes(8)),
    "visible.add_label": lambda src: visible.add_label(src, "AI-generated"),
    "visible.detect_label": lambda src: visible.detect_label(src),
    "aiwatermark.mark": lambda src: aiwatermark.mark(src, signer=False, store=False),
    "aiwatermark.verify": lambda src: aiwatermark.verify(src, store=False),
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
@pytest.mark.parametrize("entry", sorted(PIXEL_ENTRY_POINTS))
@pytest.mark.parametrize("as_path", [False, True], ids=["bytes", "path"])
def test_giant_image_is_refused_fast_before_decoding(
    bomb: str, entry: str, as_path: bool, tmp_path: Path
) -> None:
    data = BOMBS[bomb]()
    assert len(data) < 2000  # tiny file, giant claim
    src: object = data
    if as_path:
        src = tmp_path / f"bomb.{bomb.split()[0]}"
        src.write_bytes(data)
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError) as caught:
        PIXEL_ENTRY_POINTS[entry](src)
    assert time.perf_counter() - started < 1.0
    message = str(caught.value)
    if as_path:
        assert "bomb." in message  # names the file
    # Says how to proceed when the file is trusted.
    assert "set_max_pixels" in message and "AIWATERMARK_MAX_PIXELS" in message


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_giant_image_through_byte_level_readers_is_quick(bomb: str) -> None:
    """Metadata and C2PA readers never decode pixels: they answer at once either way."""
    data = BOMBS[bomb]()
    for read in (metadata.read_disclosure, provenance.read_provenance, metadata.disclose):
        started = time.perf_counter()
        with contextlib.suppress(AiWatermarkError):
            read(data)
        assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_giant_image_through_the_cli(bomb: str, tmp_path: Path) -> None:
    name = f"bomb.{bomb.split()[0]}"
    (tmp_path / name).write_bytes(BOMBS[bomb]())
    for args in (["verify", name], ["mark", name, "--out-dir", "out", "--no-c2pa"]):
        result = _run_cli(*args, cwd=tmp_path)
        assert result.returncode != 0
        assert name in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_pixel_limit_is_configurable(photo_paths: list[Path]) -> None:
    photo = photo_paths[0]
    try:
        imageio.set_max_pixels(10_000)
        with pytest.raises(ImageTooLargeError, match="10,000"):
            aiwatermark.verify(photo, store=False)
        # A limit above Pillow's own bomb guard is honoured too: the header passes the check
        # and the (absent) pixel data is what fails.
        imageio.set_max_pixels(1_000_000_000)
        with pytest.raises(AiWatermarkError) as caught:
            imageio.open(_png_declaring(20_000, 20_000))
        assert not isinstance(caught.value, ImageTooLargeError)
    finally:
        imageio.set_max_pixels(imageio.DEFAULT_MAX_PIXELS)
    with pytest.raises(ValueError):
        imageio.set_max_pixels(0)


def test_pixel_limit_from_the_environment(tmp_path: Path, photo_paths: list[Path]) -> None:
    script = (
        "import aiwatermark, sys\n"
        "try:\n"
        f"    aiwatermark.imageio.open({str(photo_paths[0])!r})\n"
        "except aiwatermark.ImageTooLargeError as exc:\n"
        "    print('refused', exc)\n"
    )
    env = {**os.environ, "AIWATERMARK_MAX_PIXELS": "1000"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stdout.startswith("refused"), result.stderr
    assert "1,000" in result.stdout


# --- nothing lost: inputs unchanged, atomic writes, batch failures named ----------------------


def test_inputs_are_never_modified(
    tmp_path: Path, photo_paths: list[Path], signer: keys.Signer, identity: Any
) -> None:
    inputs = []
    for path in photo_paths:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        inputs.append(copy)
    signed = tmp_path / "signed.jpg"
    provenance.sign_file(inputs[0], signed, signer=signer)
    inputs.append(signed)
    before = {path: _sha(path) for path in inputs}
    out = tmp_path / "out"
    for index, path in enumerate(inputs):
        imageio.open(path)
        metadata.read_disclosure(path)
        provenance.read_provenance(path, trust_anchors=identity.root)
        aiwatermark.verify(path, store=False)
        metadata.write_disclosure(path, out / f"d{index}{path.suffix}")
        provenance.sign_file(path, out / f"s{index}{path.suffix}", signer=signer)
        aiwatermark.mark(path, out / f"m{index}{path.suffix}", signer=signer, store=False)
        with pytest.raises(OutputExistsError):
            aiwatermark.mark(path, path, signer=False, store=False)
        with pytest.raises(OutputExistsError):
            metadata.write_disclosure(path, path)
    cli = _run_cli(
        "mark", *map(str, inputs), "--out-dir", str(tmp_path / "cli"), "--no-c2pa", cwd=tmp_path
    )
    assert cli.returncode == 0, cli.stderr
    assert _run_cli("verify", *map(str, inputs), cwd=tmp_path).returncode in (0, 3)
    assert {path: _sha(path) for path in inputs} == before


_WRITER = textwrap.dedent(
    """
    import hashlib, os, sys
    from aiwatermark import imageio, metadata
    mode, dst, src = sys.argv[1], sys.argv[2], sys.argv[3]
    source = open(src, "rb").read()
    n = 0
    while True:
        n += 1
        if mode == "atomic":
            body = os.urandom(1 << 20) * 24  # 24 MB, slow enough to be caught mid-write
            digest = hashlib.sha256(body).digest()
            imageio.write_atomic(digest + body, dst, overwrite=True)
        else:
            metadata.write_disclosure(src, dst, generator=f"run {n}", overwrite=True)
        print(n, flush=True)
    """
)


def _check_complete(mode: str, dst: Path) -> None:
    data = dst.read_bytes()
    if mode == "atomic":
        assert hashlib.sha256(data[32:]).digest() == data[:32], "partial file at destination"
    else:
        assert imageio.open(data).size  # decodes fully
        assert metadata.read_disclosure(data).ai_generated


@pytest.mark.parametrize("mode", ["atomic", "disclosure"])
def test_killed_writer_leaves_old_or_complete_file(
    mode: str, tmp_path: Path, small_photos: dict[str, Image.Image]
) -> None:
    src = tmp_path / "big.png"
    # A large PNG so that the disclosure rewrite takes a while.
    noise = np.random.default_rng(0).integers(0, 256, size=(1500, 1500, 3), dtype=np.uint8)
    src.write_bytes(imageio.encode(Image.fromarray(noise), "PNG"))
    dst = tmp_path / "out" / "result.png"
    rng = random.Random(mode)
    kills = 0
    for _ in range(6):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, mode, str(dst), str(src)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert writer.stdout is not None
        writer.stdout.readline()  # at least one write finished: dst exists from here on
        time.sleep(rng.uniform(0.0, 0.4))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        kills += 1
        assert writer.returncode == -signal.SIGKILL
        _check_complete(mode, dst)
        # Leftovers are hidden temporary files, never something named like the destination.
        assert [p.name for p in dst.parent.iterdir() if not p.name.startswith(".")] == [dst.name]
    assert kills == 6


def test_batch_reports_every_failure_by_name(tmp_path: Path, photo_paths: list[Path]) -> None:
    (tmp_path / "good.jpg").write_bytes(photo_paths[0].read_bytes())
    (tmp_path / "truncated.jpg").write_bytes(photo_paths[0].read_bytes()[:3000])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.webp").write_bytes(b"this is text, not an image")
    (tmp_path / "bomb.png").write_bytes(_png_declaring(100_000, 100_000))
    names = ["good.jpg", "truncated.jpg", "empty.png", "notes.webp", "bomb.png"]
    result = _run_cli("mark", *names, "--out-dir", "out", "--no-c2pa", cwd=tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for bad in names[1:]:
        assert bad in output
    assert "Traceback" not in output
    assert (tmp_path / "out" / "good.jpg").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.jpg"]


# --- nobody fooled ------------------------------------------------------------------------------


def _random_crops(count: int, seed: int) -> Iterator[Image.Image]:
    rng = np.random.default_rng(seed)
    photos = [Image.open(ROOT / "fixtures" / name).convert("RGB") for name in PHOTOS]
    for index in range(count):
        photo = photos[index % len(photos)]
        side = int(rng.integers(128, 200))
        left = int(rng.integers(0, photo.width - side))
        top = int(rng.integers(0, photo.height - side))
        yield photo.crop((left, top, left + side, top + side))


def test_unmarked_images_are_not_detected() -> None:
    hits = [
        crop_index
        for crop_index, crop in enumerate(_random_crops(16, seed=1))
        if invisible.detect(crop, None if crop_index % 2 else f"k{crop_index}").detected
    ]
    assert hits == []


def test_wrong_key_never_detects(small_photos: dict[str, Image.Image]) -> None:
    """Marked with one key, read with another (public ↔ secret, secret ↔ secret)."""
    photo = small_photos["astronaut.jpg"]
    marked = invisible.embed(photo, b"payload!", "right")
    assert invisible.detect(marked, "right").payload == b"payload!"
    for trial in range(12):
        assert not invisible.detect(marked, f"wrong-{trial}").detected
    public = invisible.embed(photo, b"payload!")
    assert invisible.detect(public).detected
    for trial in range(12):
        assert not invisible.detect(public, f"secret-{trial}").detected


@pytest.mark.slow
def test_false_positives_many_trials() -> None:
    for index, crop in enumerate(_random_crops(500, seed=2)):
        key = None if index % 2 else f"k{index}"
        assert not invisible.detect(crop, key).detected, index
        marked = invisible.embed(crop.resize((256, 256)), bytes(8), f"mark-{index}")
        assert not invisible.detect(marked, key).detected, index


def test_manifest_copied_onto_another_image_is_invalid(
    small_photos: dict[str, Image.Image], signer: keys.Signer, identity: Any
) -> None:
    for fmt in FORMATS:
        original = imageio.encode(small_photos["astronaut.jpg"], fmt)
        other = imageio.encode(small_photos["chelsea.webp"], fmt)
        signed = provenance.sign(original, format=fmt, signer=signer, generator="Gen")
        anchors = identity.root.read_bytes()
        assert provenance.read_provenance(signed.data, trust_anchors=anchors).state == "Trusted"
        # As a detached manifest read against the other image...
        detached = provenance.read_provenance(
            other, manifest=signed.manifest, trust_anchors=anchors
        )
        assert detached.present and detached.state == "Invalid"
        # ...and physically transplanted into the other file's container.
        start, end = find_jumbf(signed.data)[0]
        block = signed.data[start:end]
        if fmt == "JPEG":
            transplant = other[:2] + block + other[2:]
        elif fmt == "PNG":
            ihdr_end = 8 + 12 + 13
            transplant = other[:ihdr_end] + block + other[ihdr_end:]
        else:
            transplant = fix_riff_size(other + block)
        embedded = provenance.read_provenance(transplant, trust_anchors=anchors)
        assert embedded.present and embedded.state == "Invalid", fmt
        report = aiwatermark.verify(transplant, store=False, trust_anchors=anchors)
        assert report.tampered and not report.trusted, fmt


def test_expired_likeness_consent_is_flagged(
    small_photos: dict[str, Image.Image], signer: keys.Signer
) -> None:
    today = dt.date.today()
    consent = provenance.Likeness(
        subject="Jane Example",
        rights_holder="Jane Example",
        consent_ref="CONSENT-1",
        valid_from=today - dt.timedelta(days=400),
        valid_until=today - dt.timedelta(days=1),
    )
    jpeg = imageio.encode(small_photos["coffee.png"], "JPEG")
    signed = provenance.sign(jpeg, format="JPEG", signer=signer, likeness=consent)
    report = provenance.read_provenance(signed.data)
    assert report.likeness is not None and report.consent_expired
    assert "EXPIRED" in report.summary()
    assert aiwatermark.verify(signed.data, store=False).likeness_expired is True


def test_development_certificate_is_never_trusted(
    tmp_path: Path, small_photos: dict[str, Image.Image]
) -> None:
    dev = keys.init_dev_identity(tmp_path / "dev")
    dev_signer = keys.dev_signer(tmp_path / "dev")
    png = imageio.encode(small_photos["coffee.png"], "PNG")
    signed = provenance.sign(png, format="PNG", signer=dev_signer)
    # Even when someone passes the development root as a trust anchor.
    for anchors in (None, dev.root_certificate, dev.root_certificate.read_bytes()):
        report = provenance.read_provenance(signed.data, trust_anchors=anchors)
        assert report.is_dev_identity and report.intact
        assert report.state != "Trusted" and not report.trusted
        assert not aiwatermark.verify(signed.data, store=False, trust_anchors=anchors).trusted


# --- hostile XMP --------------------------------------------------------------------------------


@pytest.mark.parametrize("attack", ["billion laughs", "external entity", "deep"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_xmp_entity_attacks_are_harmless(
    attack: str, fmt: str, small_photos: dict[str, Image.Image]
) -> None:
    body = XMP_BODIES[attack](random.Random(50_000))
    plain = imageio.encode(small_photos["coffee.png"], fmt)
    hostile = insert_block(plain, "xmp", body, random.Random(0))
    assert sniff(hostile) == fmt
    started = time.perf_counter()
    try:
        disclosure = metadata.read_disclosure(hostile)
    except AiWatermarkError as exc:
        text = str(exc)
    else:
        assert not disclosure.ai_generated
        text = repr(disclosure.to_dict())
    assert time.perf_counter() - started < 1.0
    assert "root:" not in text and "aaaaaaaaaa" * 10 not in text  # nothing expanded or read
    # Writing a disclosure over it must not expand it either: the hostile packet is refused
    # or replaced, never copied out expanded.
    try:
        out = metadata.disclose(hostile)
    except AiWatermarkError:
        return
    assert b"aaaaaaaaaa" * 10 not in out and b"root:" not in out
    assert metadata.read_disclosure(out).ai_generated


# --- private keys -------------------------------------------------------------------------------


def test_world_readable_key_is_refused(identity: Any, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(identity.key.read_bytes())
    key.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600") as caught:
        keys.Signer.from_files(identity.chain, key)
    assert str(key) in str(caught.value)
    key.chmod(0o600)
    assert keys.Signer.from_files(identity.chain, key).subject


def test_key_material_never_logged(
    identity: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    small_photos: dict[str, Image.Image],
) -> None:
    pem = identity.key.read_text()
    body_lines = [line for line in pem.splitlines() if line and "-----" not in line]
    caplog.set_level(logging.DEBUG)
    signer = keys.Signer.from_files(identity.chain, identity.key)
    jpeg = imageio.encode(small_photos["astronaut.jpg"], "JPEG")
    provenance.sign(jpeg, format="JPEG", signer=signer, generator="Gen")
    aiwatermark.mark(jpeg, signer=signer, store=False)
    dev = keys.dev_signer(tmp_path / "dev")
    provenance.sign(jpeg, format="JPEG", signer=dev)
    bad = tmp_path / "bad.pem"
    bad.write_text(pem.replace(body_lines[1], body_lines[1][::-1]))
    bad.chmod(0o600)
    with pytest.raises(AiWatermarkError) as caught:
        keys.Signer.from_files(identity.chain, bad)
    cli = _run_cli(
        "mark",
        str(ROOT / "fixtures" / "coffee.png"),
        "-o",
        str(tmp_path / "c.png"),
        "--cert",
        str(identity.chain),
        "--private-key",
        str(identity.key),
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    out, err = capfd.readouterr()
    dev_key = (tmp_path / "dev" / "dev-key.pem").read_text()
    dev_lines = [line for line in dev_key.splitlines() if line and "-----" not in line]
    seen = "\n".join(
        [
            caplog.text,
            out,
            err,
            cli.stdout,
            cli.stderr,
            str(caught.value),
            repr(signer),
            repr(dev),
            str(signer.__slots__),
        ]
    )
    for line in body_lines + dev_lines:
        assert line not in seen


def test_public_key_does_not_forge_a_secret_key_mark(small_photos: dict[str, Image.Image]) -> None:
    """Knowing the public key (it is in the source) lets anyone mark with the public key only."""
    photo = small_photos["chelsea.webp"]
    forged = invisible.embed(photo, b"forged!!")  # public key: what a forger can do
    assert invisible.detect(forged).payload == b"forged!!"
    assert not invisible.detect(forged, "the producer's secret").detected
    genuine = invisible.embed(photo, b"genuine!", "the producer's secret")
    assert invisible.detect(genuine, "the producer's secret").payload == b"genuine!"
    assert not invisible.detect(genuine).detected
    assert invisible.PUBLIC_KEY in Path(invisible.__file__).with_name("_pattern.py").read_text()


def test_inputs_unchanged_after_fuzzed_failures(tmp_path: Path, photo_paths: list[Path]) -> None:
    """A failing call leaves its input exactly as it was, too."""
    rng = random.Random(5)
    data = photo_paths[1].read_bytes()
    for index in range(6):
        damaged = truncate(rng, data, b"") if index % 2 else bogus_length(rng, data, b"")
        path = tmp_path / f"damaged{index}.png"
        path.write_bytes(damaged)
        marked, disclosed = tmp_path / f"o{index}.png", tmp_path / f"w{index}.png"
        with contextlib.suppress(AiWatermarkError):
            aiwatermark.mark(path, marked, signer=False, store=False, overwrite=True)
        with contextlib.suppress(AiWatermarkError):
            metadata.write_disclosure(path, disclosed, overwrite=True)
        with contextlib.suppress(AiWatermarkError):
            aiwatermark.verify(path, store=False)
        assert path.read_bytes() == damaged


def test_bytes_and_file_object_inputs_are_not_consumed(photo_paths: list[Path]) -> None:
    data = photo_paths[2].read_bytes()
    buffer = bytearray(data)
    aiwatermark.verify(buffer, store=False)
    assert bytes(buffer) == data
    stream = io.BytesIO(data)
    metadata.read_disclosure(stream)
    assert stream.getvalue() == data


def test_copying_the_public_certificate_does_not_let_anyone_sign(
    identity: Any, small_photos: dict[str, Image.Image]
) -> None:
    """The certificate chain (public) without its private key yields no valid manifest."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    impostor = ec.generate_private_key(ec.SECP256R1())
    impostor_pem = impostor.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFileError, match="does not belong"):
        keys.Signer.from_pem(identity.chain.read_bytes(), impostor_pem)
    # A KMS-style callback that signs with the wrong key produces a manifest that fails.
    forger = keys.Signer.from_callback(
        lambda data: impostor.sign(data, ec.ECDSA(hashes.SHA256())), identity.chain, "es256"
    )
    jpeg = imageio.encode(small_photos["astronaut.jpg"], "JPEG")
    try:
        forged = provenance.sign(jpeg, format="JPEG", signer=forger, generator="Forged")
    except AiWatermarkError:
        return  # refused at signing time: also fine
    report = provenance.read_provenance(forged.data, trust_anchors=identity.root.read_bytes())
    assert report.state == "Invalid" and not report.trusted
