"""embed() and detect(): the public watermark operations, composed from the parts."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from .. import imageio
from ..errors import ImageTooSmallError, InvalidArgumentError, PayloadError
from . import _codec, _mask, _pattern, _projective, _statistic, _sync, _transform

PAYLOAD_BITS = _codec.PAYLOAD_BITS
MIN_SIZE = 256
"""Smallest short side (pixels) ``embed`` accepts: from 256 px on every mark of the
small-image benchmark is read back untouched (at 224 px, 0.96; at 128 px, 0.63). Surviving a
JPEG q75 re-encode takes more: 0.65 of marks at 256 px, 0.92 at 384, 0.96 from 416 px
(docs/watermark.md, "Small images")."""

AMPLITUDE = 1.9
"""RMS change per RGB channel (grey levels) at strength 1.0 (≈ 42.5 dB PSNR after rounding);
small images (``SMALL_BOOST``) and images that are texture all over (``_mask.strength_map``)
get more."""

SMALL_BOOST = 1.15
"""Most extra amplitude for an image smaller than a 512×512 working image (see ``_boost``)."""
_FULL_TILES = (_transform.WORK_SIZE / _pattern.TILE) ** 2

CHROMA_SHARE = 0.3
"""Fraction of the distortion budget spent in chroma on colour images (see ``planes``)."""
CHROMA_SHARE_GREY = 0.12
"""The same for black-and-white content stored as RGB: with no chroma detail to compete
with, a small share is already easy to find, and luma keeps more for surviving JPEG."""

_ROWS_PER_BLOCK = 256

INFORMED_PASSES = 2
"""Rounds of informed embedding: measure each bit as the detector will, re-balance gains."""
GAIN_RANGE = (0.5, 3.0)
REHEARSAL_QUALITY = 40
"""Informed embedding also measures each bit after this JPEG round trip and provisions for
whichever is worse, so bits that JPEG would flip get the energy to survive it."""

LATTICE_CANDIDATES = 4
SCALE_CANDIDATES = 3
ROTATION_CANDIDATES = 2
REFINE_Z = 6.0
REFINEMENTS = 3
"""Sync peaks above this (noise reaches ~5) are worth refining the lattice around."""
ORIENTATIONS_TRIED = 2
PROJECTIVE_HINT = 5.0
"""Whole-image sync peak a lattice needs before its blocks are searched for a homography.

Perspective smears the template over the whole image but rarely hides it: over 24 warps
(3 % and 5 %) of 12 marked photos, the lattices the homography search then recovered had
shown 4.6–5.9, while 48 warps of the unmarked photos peaked at 3.8–5.2 (median 4.3). Below
the hint the block search (~50 ms) is skipped, so an unmarked image almost never pays it;
the one recovery at 4.6 is the price.
"""
SOFT_DECODE_Z = 5.0
LAST_RESORT_Z = 7.0
"""Sync peak the clearest read needs before ``detect`` spends ~0.1 s decoding it deeper
(order 4, see ``_codec.LAST_RESORT_ORDER``) when every attempt failed. Unmarked images
stay below it (noise peaks near 5; the searched lattices of 465 unmarked images that reached
the search scored at most 6.2), so ruling one out never pays for it."""
SEARCH_GATE = 7.0
"""Sampler score a searched lattice needs before it is folded and decoded.

The score is the sync template's correlation peak (in standard deviations, best of the 8
orientations, every plane counted) read straight from the zero-padded spectrum: the same
test the fold runs, only cheaper. Over 343 images of the robustness benchmark the best
searched lattice of an unmarked image scored at most 6.1, and every mark the search
recovered scored 9.8 or more (docs/watermark.md). Skipping the geometries below the gate
costs no detection, while an unmarked image no longer pays for folding, aligning and
decoding every candidate.
"""

SCREEN_OVERSAMPLE = 2
SCREEN_GATE = 6.0
"""Score a searched geometry needs on the screening sampler before the full one is built.

The screen is the same search on a 2× (not 4×) zero-padded spectrum, a quarter of the FFT.
Reading the nearest bin of a coarser grid costs a mark a few percent of its score: over the
robustness benchmark (with rotated JPEG copies) every lattice that reached ``SEARCH_GATE``
kept at least 0.92 of its score on the screen, every scale at least 0.93 (0.89 without
the half-steps either side), so any geometry the full search would fold passes 6.0. Of 465
unmarked images that reached the search, 4 passed the screen (best 6.2) and paid for the
full search as well (docs/watermark.md). Geometries that pass are searched on the full
sampler exactly as before.
"""


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` found.

    ``p_value`` is an analytic upper bound on the probability that an unmarked image (or the
    wrong key) would produce this result; ``scale`` is input pixels per working-resolution
    pixel of the pattern; ``rotation`` is degrees counter-clockwise; ``offset`` is the tile
    shift (row, col) in pattern pixels.
    """

    detected: bool
    payload: bytes | None
    p_value: float
    bit_errors: int | None
    sync_score: float
    scale: float | None = None
    rotation: float | None = None
    flipped: bool | None = None
    offset: tuple[float, float] | None = None

    @property
    def confidence(self) -> float:
        """1 − p_value."""
        return 1.0 - self.p_value

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["payload"] = self.payload.hex() if self.payload is not None else None
        data["confidence"] = self.confidence
        return data

    def __repr__(self) -> str:
        if not self.detected:
            return f"Detection(detected=False, sync_score={self.sync_score:.1f})"
        return (
            f"Detection(detected=True, payload={self.payload.hex() if self.payload else None}, "
            f"p_value={self.p_value:.2g}, bit_errors={self.bit_errors}, "
            f"scale={self.scale:.3f}, rotation={self.rotation:.1f}, flipped={self.flipped})"
        )


def _check_payload(payload: object) -> bytes:
    if not isinstance(payload, (bytes, bytearray)):
        hint = " (for a hex string use bytes.fromhex(...))" if isinstance(payload, str) else ""
        raise PayloadError(
            f"payload must be {PAYLOAD_BITS // 8} bytes, not {type(payload).__name__}{hint}"
        )
    if len(payload) != PAYLOAD_BITS // 8:
        raise PayloadError(
            f"payload must be exactly {PAYLOAD_BITS // 8} bytes ({PAYLOAD_BITS} bits), "
            f"got {len(payload)}; e.g. os.urandom({PAYLOAD_BITS // 8}) or a hash prefix"
        )
    return bytes(payload)


def _check_key(key: str | bytes | None) -> bytes:
    if key is not None and not isinstance(key, (str, bytes, bytearray)):
        raise PayloadError(f"key must be str, bytes or None, not {type(key).__name__}")
    if key is not None and len(key) == 0:
        raise PayloadError("key must not be empty; use key=None for the public key")
    return _pattern.key_bytes(key)


def embed(
    image: imageio.ImageSource,
    payload: bytes,
    key: str | bytes | None = None,
    *,
    strength: float = 1.0,
) -> Image.Image:
    """Embed ``payload`` (``PAYLOAD_BITS // 8`` bytes) as an invisible, robust watermark.

    ``key=None`` uses the documented public key (:data:`PUBLIC_KEY`), so any verifier can
    detect the disclosure; a secret key makes the content ID readable only by its holders,
    though the mark can still be copied or removed by estimating it from marked images
    (docs/threat-model.md). Alpha, size, mode and ``image.info`` (ICC/EXIF/XMP) are kept; the input
    object is never modified.

    Example:
        >>> import numpy as np
        >>> from aiwatermark import invisible
        >>> rng = np.random.default_rng(0)
        >>> photo = (rng.random((256, 256, 3)) * 255).astype("uint8")
        >>> marked = invisible.embed(photo, b"\\x01" * 8)
        >>> invisible.detect(marked).payload
        b'\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01'
    """
    payload = _check_payload(payload)
    pat = _pattern.pattern(_check_key(key))
    if (
        not isinstance(strength, (int, float))
        or isinstance(strength, bool)
        or not (0.0 < strength <= 10.0)
    ):
        raise InvalidArgumentError(f"strength must be a number in (0, 10], not {strength!r}")
    opened = imageio.open_for_reading(image)
    colour, alpha = imageio.split_alpha(opened)
    width, height = colour.size
    if min(width, height) < MIN_SIZE:
        raise ImageTooSmallError(
            f"{imageio.describe(image)}: {width}×{height} is below the watermark's minimum "
            f"of {MIN_SIZE} pixels on the short side (a smaller mark is not reliably read "
            f"back); mark the full-size image, or upscale this one to at least {MIN_SIZE} px "
            "on the short side first"
        )
    info = dict(opened.info)
    scale = _transform.working_scale(height, width)
    work_h, work_w = max(1, round(height * scale)), max(1, round(width * scale))
    work_luma = _transform.work_planes(colour, work_h, work_w)[0]
    coded = _codec.encode(payload)
    reps = (-(-work_h // _pattern.TILE), -(-work_w // _pattern.TILE))
    envelope = (AMPLITUDE * strength * _boost(work_h, work_w)) * _mask.strength_map(work_luma)
    if colour.mode == "L":
        share = 0.0
    else:
        share = CHROMA_SHARE_GREY if _transform.is_grey(colour) else CHROMA_SHARE
    luma_gain, chroma_gain = math.sqrt(1 - share), math.sqrt(share)
    gains = np.ones(_codec.CODE_BITS)
    expected = _pattern.signs(pat, coded)
    for _ in range(INFORMED_PASSES):
        signal = np.tile(_pattern.tile(pat, coded, gains), reps)[:work_h, :work_w]
        marked_luma = work_luma + luma_gain * envelope * signal
        worst = None
        for version in (marked_luma, _jpeg_luma(marked_luma, REHEARSAL_QUALITY)):
            soft = _soft_bits([version], np.eye(2) * _pattern.TILE, pat, scale)
            margin = soft * expected
            unit = float(np.median(margin / gains))
            if unit <= 0:
                continue
            need = 1.0 - (margin - unit * gains) / unit
            worst = need if worst is None else np.maximum(worst, need)
        if worst is None:
            break
        gains = np.clip(worst, *GAIN_RANGE)
    signal = np.tile(_pattern.tile(pat, coded, gains), reps)[:work_h, :work_w]
    work_delta = envelope * signal
    channel_gains = np.float32(luma_gain) + np.float32(chroma_gain) * _transform.CHROMA_DIRECTION
    # Band by band, so no full-size array ever exists beside the input and the output: at
    # 150 megapixels one float plane is 600 MB.
    marked = Image.new(colour.mode, (width, height))
    for start in range(0, height, _ROWS_PER_BLOCK):
        stop = min(height, start + _ROWS_PER_BLOCK)
        block = np.asarray(colour.crop((0, start, width, stop)), dtype=np.float32)
        delta = _transform.resize_rows(work_delta, height, width, start, stop)
        if block.ndim == 2:
            block += delta
        else:
            block += delta[:, :, None] * channel_gains
        np.clip(np.rint(block, out=block), 0, 255, out=block)
        marked.paste(Image.fromarray(block.astype(np.uint8), colour.mode), (0, start))
    marked.info = info
    return imageio.merge_alpha(marked, alpha)


def detect(image: imageio.ImageSource, key: str | bytes | None = None) -> Detection:
    """Look for the watermark and read its payload, after crops, resizes, rotation, JPEG...

    Returns a :class:`Detection`; ``detected`` is true only when the payload decoded with a
    valid checksum, so its false-positive probability is at most ``p_value``.

    Example:
        >>> import numpy as np
        >>> from aiwatermark import invisible
        >>> invisible.detect(np.full((300, 300), 128, dtype="uint8")).detected
        False
    """
    pat = _pattern.pattern(_check_key(key))
    colour, _ = imageio.split_alpha(imageio.open_for_reading(image))
    width, height = colour.size
    if min(height, width) < 64:
        return Detection(False, None, 1.0, None, 0.0)
    scale = _transform.working_scale(height, width)
    work_h, work_w = max(1, round(height * scale)), max(1, round(width * scale))
    max_lag = int(min(0.62 * min(work_h, work_w), 2.6 * _pattern.TILE))
    spectra = [
        _transform.Spectrum(plane, max_lag)
        for plane in _transform.work_planes(colour, work_h, work_w)
    ]
    residuals = [_transform.normalise(spectrum.residual()) for spectrum in spectra]
    pat_message = ~pat.is_sync
    best_sync = 0.0

    def candidates() -> Iterator[np.ndarray]:
        # Cheapest first: the untouched geometry (the common case), then small turns at the
        # marked scale, then lattices from the autocorrelation, then the coherent scale
        # search for luma-only, resized copies. Searched lattices are scored before they are
        # folded (SEARCH_GATE).
        yield np.eye(2) * _pattern.TILE
        tried = [np.eye(2) * _pattern.TILE]
        # Every searched geometry is screened on a cheap sampler first (SCREEN_GATE); only
        # one that passes pays for the full sampler, which then decides as it always did.
        screen = _sync.Sampler(residuals, pat, SCREEN_OVERSAMPLE)

        @functools.cache
        def sampler() -> _sync.Sampler:
            return _sync.Sampler(residuals, pat)

        # A small turn at the marked scale (a straightened photo, re-encoded): cheap to test
        # coherently, and the autocorrelation misses it once JPEG has taken the chroma.
        for basis in _sync.rotation_search(screen, ROTATION_CANDIDATES):
            if screen.score(basis) < SCREEN_GATE:
                continue
            # Only a repeat of a tried geometry is skipped: half a degree already matters.
            if sampler().score(basis) >= SEARCH_GATE and not any(
                np.allclose(basis, other, atol=0.5) for other in tried
            ):
                tried.append(basis)
                yield basis
        acfs = [spectrum.autocorrelation() for spectrum in spectra]
        for basis in _sync.lattices(acfs, max_lag, LATTICE_CANDIDATES):
            if screen.polish(basis)[1] < SCREEN_GATE:
                continue
            basis, score = sampler().polish(basis)
            if score >= SEARCH_GATE:
                tried.append(basis)
                yield basis
        shape = (work_h, work_w)
        # The screen's periods can be off by a fraction of a step where the full search's
        # are not, so it also looks half a step either side.
        steps = (1 - _sync.SCALE_STEP / 2, 1.0, 1 + _sync.SCALE_STEP / 2)
        coarse = _sync.scale_search(screen, shape, SCALE_CANDIDATES)
        if all(screen.score(basis * step) < SCREEN_GATE for basis in coarse for step in steps):
            return
        for basis in _sync.scale_search(sampler(), shape, SCALE_CANDIDATES):
            # Ranked on luma alone, gated on every plane: a cropped colour copy keeps its
            # mark in chroma (one recovered copy scored 7.3 on luma, 13.9 on both).
            if sampler().score(basis) >= SEARCH_GATE and not any(
                np.allclose(basis, other, rtol=0.01) for other in tried
            ):
                yield basis

    def attempts() -> Iterator[tuple[np.ndarray, _sync.Alignment]]:
        nonlocal best_sync
        hinted = []
        for basis in candidates():
            alignments = _sync.align(_sync.fold(residuals, basis), pat, ORIENTATIONS_TRIED)
            if alignments[0].sync_z >= PROJECTIVE_HINT:
                hinted.append(basis)
            for alignment in alignments:
                best_sync = max(best_sync, alignment.sync_z)
                yield from _refinements(residuals, basis, alignment, pat)
        # Last: only a photo of a marked image (perspective) gets this far with a mark to find.
        for basis in hinted:
            yield from _projective.search(residuals, basis, pat)
        # Perspective too strong for any whole or half-image fold to hint at: the template's
        # drift over tile-sized blocks of the untouched lattice.
        yield from _projective.local_search(residuals, pat)

    def found(decoded: _codec.Decoded, geometry: np.ndarray, aligned: _sync.Alignment) -> Detection:
        return Detection(
            True,
            decoded.payload,
            _statistic.false_positive_bound(decoded.bit_errors or 0, _max_attempts()),
            decoded.bit_errors,
            aligned.sync_z,
            *_geometry(geometry, aligned, scale),
        )

    clearest: tuple[np.ndarray, np.ndarray, _sync.Alignment] | None = None
    for geometry, aligned in attempts():
        soft = np.bincount(
            pat.bit_of[pat_message], weights=aligned.values[pat_message], minlength=255
        ) * (1.0 - 2.0 * pat.scramble)
        # Soft decoding costs a few milliseconds; spend them where the template
        # stood out of the noise (which peaks near 5).
        decoded = _codec.decode(soft, aligned.sync_z > SOFT_DECODE_Z)
        if decoded.payload is not None:
            return found(decoded, geometry, aligned)
        if clearest is None or aligned.sync_z > clearest[2].sync_z:
            clearest = (soft, geometry, aligned)
    if clearest is not None and clearest[2].sync_z >= LAST_RESORT_Z:
        # A mark is plainly there but no attempt could read it: one deeper decoding of the
        # clearest read. The same word is decoded again, so the bound is unchanged.
        soft, geometry, aligned = clearest
        decoded = _codec.decode(soft, order=_codec.LAST_RESORT_ORDER)
        if decoded.payload is not None:
            return found(decoded, geometry, aligned)
    return Detection(False, None, 1.0, None, best_sync)


def _refinements(
    residuals: list[np.ndarray],
    basis: np.ndarray,
    alignment: _sync.Alignment,
    pat: _pattern.Pattern,
) -> Iterator[tuple[np.ndarray, _sync.Alignment]]:
    """The alignment as found, then — while its sync peak is clear — with the lattice refined,
    then under homographies fitted around it."""
    yield basis, alignment
    for _ in range(REFINEMENTS):
        if alignment.sync_z <= REFINE_Z:
            return
        refined = _sync.refine(residuals, basis, alignment, pat)
        again = _sync.align(_sync.fold(residuals, refined), pat, len(_sync.DIHEDRAL))
        same = [a for a in again if a.dihedral == alignment.dihedral]
        if not same:
            break
        basis, alignment = refined, same[0]
        yield basis, alignment
    if alignment.sync_z > REFINE_Z:
        # The lattice shows the template but cannot read it, as under perspective.
        yield from _projective.refinements(residuals, basis, alignment, pat)


def _boost(work_h: int, work_w: int) -> float:
    """Amplitude factor that keeps small images as detectable as large ones.

    The detector averages every tile the image holds; an image with fewer tiles than a
    512×512 one (16) gets less averaging gain, so it is marked up to ``SMALL_BOOST`` times
    stronger (at most 1.2 dB lower PSNR), growing as the fourth root of the missing tiles.
    """
    tiles = work_h * work_w / _pattern.TILE**2
    return float(np.clip((_FULL_TILES / tiles) ** 0.25, 1.0, SMALL_BOOST))


def _jpeg_luma(plane: np.ndarray, quality: int) -> np.ndarray:
    """``plane`` after a JPEG round trip: the rehearsal of a social upload."""
    buffer = io.BytesIO()
    grey = Image.fromarray(np.clip(np.rint(plane), 0, 255).astype(np.uint8), "L")
    grey.save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer), dtype=np.float32)


def _soft_bits(
    planes: list[np.ndarray], basis: np.ndarray, pat: _pattern.Pattern, scale: float
) -> np.ndarray:
    """Per coded bit, the detector's matched-filter output at a known geometry and offset."""
    residuals = [_transform.normalise(_transform.Spectrum(p, 0).residual()) for p in planes]
    folded = _sync.fold(residuals, basis)[0]
    values = (np.fft.fft2(folded)[pat.ky, pat.kx] * np.conj(pat.phase)).real
    message = ~pat.is_sync
    return np.bincount(pat.bit_of[message], weights=values[message], minlength=_codec.CODE_BITS)


def _max_attempts() -> int:
    """Decoding attempts in the worst case: the union bound's multiplier."""
    refinements = 1 + REFINEMENTS + _projective.MAX_ROUNDS
    bases = LATTICE_CANDIDATES + 1 + SCALE_CANDIDATES + ROTATION_CANDIDATES
    local = 1 + _projective.MAX_ROUNDS  # _projective.local_search: one start, then its rounds
    return int(bases * (ORIENTATIONS_TRIED * refinements + 1 + _projective.MAX_ROUNDS) + local)


FALSE_POSITIVE_RATE = _statistic.false_positive_bound(_codec.MAX_ERRORS, _max_attempts())
"""Analytic bound on the per-image probability that :func:`detect` reports a false mark."""


def _geometry(
    basis: np.ndarray, alignment: _sync.Alignment, scale: float
) -> tuple[float, float, bool, tuple[float, float]]:
    swap = np.array([[0, 1], [1, 0]])
    d_xy = swap @ _sync.DIHEDRAL[alignment.dihedral] @ swap
    linear = basis @ d_xy.T / _pattern.TILE / scale
    det = float(np.linalg.det(linear))
    flipped = det < 0
    if flipped:
        linear = linear @ np.diag([-1.0, 1.0])
    angle = math.degrees(math.atan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1]))
    return (
        math.sqrt(abs(det)),
        -angle,
        flipped,
        (round(alignment.offset[0], 2), round(alignment.offset[1], 2)),
    )
