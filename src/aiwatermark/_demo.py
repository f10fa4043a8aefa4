"""``aiwatermark demo``: mark the bundled sample, share it like a social network, verify both."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import TextIO

from . import _pipeline, imageio
from .store import SQLiteManifestStore, open_store

SHARED_SIZE = 1080
SHARED_QUALITY = 75


def share_like_a_platform(data: bytes) -> bytes:
    """What a social network does on upload: fit 1080 px, JPEG quality 75, metadata gone."""
    image = imageio.open(data)
    image.thumbnail((SHARED_SIZE, SHARED_SIZE))
    image.info = {}  # Pillow would otherwise carry the ICC profile and XMP along
    return imageio.encode(image, "JPEG", quality=SHARED_QUALITY, keep_metadata=False, subsampling=2)


def run_demo(out_dir: Path, out: TextIO) -> None:
    """Write the demo images to ``out_dir`` and explain each step on ``out``."""
    sample = (importlib.resources.files("aiwatermark") / "data" / "sample.jpg").read_bytes()
    original = imageio.write_atomic(sample, out_dir / "sample-original.jpg", overwrite=True)
    marked_path = out_dir / "sample-marked.jpg"
    shared_path = out_dir / "sample-shared.jpg"

    result = _pipeline.mark(sample, marked_path, generator="aiwatermark demo", overwrite=True)
    store = open_store(None)
    where = store.path if isinstance(store, SQLiteManifestStore) else store
    width, height = imageio.open(sample).size
    out.write(f"aiwatermark demo: {width}×{height} sample photo → {out_dir}/\n\n")
    out.write(f"1. Marked {original.name} → {marked_path.name}\n")
    steps = {
        "label": 'visible label      "AI-generated" drawn in the bottom-right corner',
        "watermark": f"invisible watermark content ID {result.content_id} hidden in the pixels",
        "disclosure": "metadata           IPTC digital source type trainedAlgorithmicMedia",
        "c2pa": f"C2PA               signed manifest {result.manifest_label} "
        "(development identity)",
    }
    for layer in result.layers:
        out.write(f"   {steps[layer]}\n")
    if result.stored:
        out.write(
            f"   manifest store     registered under the content ID and fingerprint in {where}\n"
        )

    shared = share_like_a_platform(marked_path.read_bytes())
    imageio.write_atomic(shared, shared_path, overwrite=True)
    out.write(
        f"\n2. Shared it like a social network → {shared_path.name}: fitted into "
        f"{SHARED_SIZE} px, re-encoded as JPEG quality {SHARED_QUALITY}, all metadata "
        "stripped\n"
    )

    for step, path in ((3, marked_path), (4, shared_path)):
        report = _pipeline.verify(path)
        out.write(f"\n{step}. Verify {path.name}\n")
        out.write("".join(f"   {line}\n" for line in report.summary().splitlines()))
    out.write(
        f"\nOpen the images in {out_dir}/ to compare them; run "
        f"'aiwatermark verify {shared_path}' to check again.\n"
    )
