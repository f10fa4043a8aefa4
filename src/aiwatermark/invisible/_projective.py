"""Perspective: recover a homography from where the sync template sits in each part of the image.

A photo of a screen or a print, or a keystone correction, maps the tile through a
homography, not a lattice. Folding with the best lattice then keeps the template's low
frequencies (the sync peak is clear) but smears the high ones that carry most bits. Under a
homography the map from image to tile is locally affine, so the template's offset measured
in overlapping blocks, each folded with the current estimate, tells where that estimate is
wrong. A weighted fit of a homography to those points, a fold under it and a new
measurement converge in a few rounds.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from ._pattern import TILE, Pattern
from ._sync import (
    DIHEDRAL,
    Alignment,
    _locate,
    _oriented,
    _parabola,
    _signed,
    _wrap,
    align,
    splat,
)
from ._sync import fold as _sync_fold

ROUNDS = 4
"""Most homographies fitted (and decoded) per alignment from half-size blocks: each round's
sharper fold gives the blocks a clearer template to measure the next from."""
TILE_ROUNDS = 3
"""Most further homographies fitted (and decoded) from tile-sized blocks of the rectified
image, once the half-size blocks have done what they can (see ``_correct_by_tiles``)."""
MAX_ROUNDS = ROUNDS + TILE_ROUNDS
"""Most alignments :func:`_rounds` yields: what the false-positive bound counts per call."""
GRID = 3
"""Blocks per side: half the image's width and height each, overlapping."""
PERSPECTIVE_POINTS = 7
"""Blocks needed to fit the 8 parameters of a homography; fewer fit an affine map."""
BLOCK_Z = 4.5
"""Sync peak a block needs to be trusted (noise reaches about 4)."""
START_Z = 6.0
"""Sync peak the strongest block needs before a homography is searched at all: over the
blocks of 12 unmarked photos and 96 perspective-warped copies, noise stayed below 5.8."""


_NO_VALUES = np.zeros(0)
"""Bin values of an alignment that only locates the template and is never decoded."""


def homography(basis: np.ndarray) -> np.ndarray:
    """The 3×3 map from image (x, y, 1) to tile (u, v, 1) that folding with ``basis`` uses."""
    h = np.eye(3)
    h[:2, :2] = np.linalg.inv(basis) * TILE
    return h


def apply(h: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tile coordinates (u, v) of image points (x, y) under ``h``."""
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
    v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
    return u, v


def fold(residuals: list[np.ndarray], h: np.ndarray, top: int = 0, left: int = 0) -> np.ndarray:
    """Fold planes whose pixel (0, 0) sits at image (left, top) under ``h``: C×T×T."""
    rows, cols = residuals[0].shape
    xs = np.arange(left, left + cols, dtype=np.float64)[None, :]
    ys = np.arange(top, top + rows, dtype=np.float64)[:, None]
    u, v = apply(h, xs, ys)
    return splat(residuals, u.astype(np.float32), v.astype(np.float32))


def local_basis(h: np.ndarray, x: float, y: float) -> np.ndarray:
    """The lattice basis that best matches ``h`` around image point (x, y)."""
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    u, v = apply(h, np.array(x), np.array(y))
    jacobian = (h[:2, :2] - np.outer([float(u), float(v)], h[2, :2])) / w
    return np.asarray(np.linalg.inv(jacobian) * TILE)


def _fit(points: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """Weighted DLT: the homography taking ``points`` (x, y) to ``targets`` (u, v).

    Both sides are normalised (centroid at 0, mean distance √2) so the 9 unknowns are on
    one scale and the smallest singular vector is well conditioned.
    """

    def normaliser(p: np.ndarray) -> np.ndarray:
        centre = p.mean(axis=0)
        spread = float(np.mean(np.hypot(*(p - centre).T))) + 1e-12
        s = np.sqrt(2) / spread
        return np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1]])

    tp, tt = normaliser(points), normaliser(targets)
    p = points @ tp[:2, :2].T + tp[:2, 2]
    t = targets @ tt[:2, :2].T + tt[:2, 2]
    rows = []
    for (x, y), (u, v), w in zip(p, t, np.sqrt(weights), strict=True):
        rows.append(w * np.array([x, y, 1, 0, 0, 0, -u * x, -u * y, -u]))
        rows.append(w * np.array([0, 0, 0, x, y, 1, -v * x, -v * y, -v]))
    _, _, vt = np.linalg.svd(np.array(rows))
    h = np.linalg.inv(tt) @ vt[-1].reshape(3, 3) @ tp
    if abs(h[2, 2]) < 1e-12:
        return None
    return np.asarray(h / h[2, 2])


def _blocks(shape: tuple[int, int]) -> Iterator[tuple[slice, slice]]:
    h, w = shape
    bh, bw = h // 2, w // 2
    for i in range(GRID):
        for j in range(GRID):
            top = (h - bh) * i // (GRID - 1)
            left = (w - bw) * j // (GRID - 1)
            yield slice(top, top + bh), slice(left, left + bw)


def _correct(
    residuals: list[np.ndarray], h: np.ndarray, alignment: Alignment, pat: Pattern
) -> np.ndarray | None:
    """``h`` refitted to the template's offset in each block, or None if too few show it."""
    d = DIHEDRAL[alignment.dihedral]
    points, targets, weights = [], [], []
    for rows, cols in _blocks(residuals[0].shape):
        folded = fold([r[rows, cols] for r in residuals], h, rows.start, cols.start)
        cy, cx, z = _locate(_oriented(np.fft.fft2(folded), pat, alignment.dihedral), pat)
        if z < BLOCK_Z:
            continue
        # Where the template sits in this block, relative to the whole image, in fold
        # (row, col): how far the tile coordinates ``h`` gives here are from the truth.
        drift = d.T @ (np.array([cy, cx]) - np.array(alignment.offset))
        drift = _wrap(drift)
        x, y = (cols.start + cols.stop - 1) / 2, (rows.start + rows.stop - 1) / 2
        u, v = apply(h, np.array(x), np.array(y))
        points.append((x, y))
        targets.append((float(u) + drift[1], float(v) + drift[0]))
        weights.append(z - BLOCK_Z + 1.0)
    if len(points) < 4:
        return None
    if len(points) < PERSPECTIVE_POINTS:
        return _affine(np.array(points), np.array(targets), np.array(weights))
    return _fit(np.array(points), np.array(targets), np.array(weights))


def _rounds(
    residuals: list[np.ndarray], h: np.ndarray, alignment: Alignment, pat: Pattern
) -> Iterator[tuple[np.ndarray, Alignment]]:
    """Refit ``h`` to the blocks and re-align while the sync peak grows: ``ROUNDS`` at most
    from half-size blocks, then ``TILE_ROUNDS`` from tile-sized blocks of the image
    rectified by ``h``."""
    centre = ((residuals[0].shape[1] - 1) / 2, (residuals[0].shape[0] - 1) / 2)
    for correct, rounds in ((_correct, ROUNDS), (_correct_by_tiles, TILE_ROUNDS)):
        for _ in range(rounds):
            corrected = correct(residuals, h, alignment, pat)
            if corrected is None:
                break
            again = align(fold(residuals, corrected), pat, len(DIHEDRAL))
            better = next(a for a in again if a.dihedral == alignment.dihedral)
            if better.sync_z < alignment.sync_z - 0.5:
                break  # the blocks misled the fit; a smeared peak would only mislead them more
            h, alignment = corrected, better
            yield local_basis(h, *centre), alignment


def _rectify(residuals: list[np.ndarray], h: np.ndarray) -> tuple[list[np.ndarray], float, float]:
    """The planes resampled onto tile coordinates under ``h`` (bilinear), and the tile
    coordinates (u, v) of their pixel (0, 0)."""
    rows, cols = residuals[0].shape
    u, v = apply(h, np.array([0.0, cols - 1, 0, cols - 1]), np.array([0.0, 0, rows - 1, rows - 1]))
    u0, v0 = float(np.floor(u.min())), float(np.floor(v.min()))
    size = (int(np.ceil(u.max() - u0)) + 1, int(np.ceil(v.max() - v0)) + 1)
    inverse = np.linalg.inv(h) @ np.array([[1.0, 0, u0], [0, 1, v0], [0, 0, 1]])
    coefficients = tuple((inverse / inverse[2, 2]).ravel()[:8])
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(r, dtype=np.float32), "F").transform(
                size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
            ),
            dtype=np.float32,
        )
        for r in residuals
    ]
    return planes, u0, v0


def _correct_by_tiles(
    residuals: list[np.ndarray], h: np.ndarray, alignment: Alignment, pat: Pattern
) -> np.ndarray | None:
    """``h`` refitted to the template's offset in tile-sized blocks of the image rectified
    by ``h``, or None if too few blocks show it (or the template is not upright).

    Half-size blocks stop improving a homography once what is left of its error bends
    within a block: the sync peak is clear, yet the high bins that carry most bits stay
    smeared (china at 5 % perspective: 10 σ and 55–61 bit errors). Rectified by ``h``,
    every tile-sized block is nearly an untouched lattice, dozens of them measure what is
    left, and a homography fitted to all of them reads such marks.
    """
    if alignment.dihedral != 0:
        return None  # the blocks are measured in the untouched orientation only
    planes, u0, v0 = _rectify(residuals, h)
    peaks = _tile_peaks(planes, pat)
    peaks = peaks[peaks[:, 4] >= LOCAL_Z]
    if len(peaks) < PERSPECTIVE_POINTS:
        return None
    drift = _wrap(peaks[:, 2:4] + np.array([v0, u0]) - np.array(alignment.offset))
    # Only how the offset changes from block to block says where ``h`` is wrong; a common
    # shift is the alignment's to find.
    drift = _wrap(drift - np.median(drift, axis=0))
    near = np.hypot(*drift.T) < 2 * LOCAL_TOLERANCE
    if near.sum() < PERSPECTIVE_POINTS:
        return None
    u, v = peaks[near, 0] + u0, peaks[near, 1] + v0
    x, y = apply(np.linalg.inv(h), u, v)
    targets = np.column_stack([u + drift[near, 1], v + drift[near, 0]])
    return _fit(np.column_stack([x, y]), targets, peaks[near, 4] - LOCAL_Z + 1.0)


def refinements(
    residuals: list[np.ndarray], basis: np.ndarray, alignment: Alignment, pat: Pattern
) -> Iterator[tuple[np.ndarray, Alignment]]:
    """Alignments under homographies fitted around a lattice whose sync peak is clear, each
    with the basis it matches at the image centre."""
    yield from _rounds(residuals, homography(basis), alignment, pat)


def search(
    residuals: list[np.ndarray], basis: np.ndarray, pat: Pattern
) -> Iterator[tuple[np.ndarray, Alignment]]:
    """Alignments under homographies found from blocks of the image folded with ``basis``.

    For when no fold of the whole image shows the template: a few percent of perspective
    already smears it, while a block, nearly affine on its own, may still show it. The
    blocks whose template agrees in orientation give an affine start for :func:`_rounds`.
    An unmarked image pays nine half-size folds and alignments here (the fast whole-pixel
    fold for the untouched lattice) and stops: no block reaches ``START_Z`` by chance.
    """
    h, w = residuals[0].shape
    inverse = np.linalg.inv(basis) * TILE
    found = []
    for rows, cols in _blocks((h, w)):
        top, left = rows.start, cols.start
        best = _peak(_sync_fold([r[rows, cols] for r in residuals], basis), pat)
        # The block was folded from its own corner: move its offset to the image origin,
        # in fold (row, col) coordinates.
        shift = inverse @ np.array([left, top], dtype=float)
        offset = DIHEDRAL[best.dihedral].T @ np.array(best.offset) - shift[::-1]
        centre = ((cols.start + cols.stop - 1) / 2, (rows.start + rows.stop - 1) / 2)
        found.append((best, offset, centre))
    found.sort(key=lambda item: item[0].sync_z, reverse=True)
    reference, reference_offset, _ = found[0]
    agree = [
        item
        for item in found
        if item[0].dihedral == reference.dihedral and item[0].sync_z >= BLOCK_Z
    ]
    if len(agree) < 2 or reference.sync_z < START_Z:
        return
    points, targets, weights = [], [], []
    for block, offset, (x, y) in agree:
        drift = _wrap(offset - reference_offset)
        u, v = inverse @ np.array([x, y])
        points.append((x, y))
        targets.append((u + drift[1], v + drift[0]))
        weights.append(block.sync_z - BLOCK_Z + 1.0)
    start = homography(basis)
    if len(points) >= 3:
        start = _affine(np.array(points), np.array(targets), np.array(weights))
    again = align(fold(residuals, start), pat, len(DIHEDRAL))
    alignment = next(a for a in again if a.dihedral == reference.dihedral)
    yield local_basis(start, (w - 1) / 2, (h - 1) / 2), alignment
    # The blocks, not this fold (which may still be too smeared to show it), say where the
    # template sits.
    anchor = np.mod(DIHEDRAL[reference.dihedral] @ reference_offset, TILE)
    yield from _rounds(
        residuals,
        start,
        Alignment(reference.dihedral, (anchor[0], anchor[1]), reference.sync_z, _NO_VALUES),
        pat,
    )


def _peak(folded: np.ndarray, pat: Pattern) -> Alignment:
    """The orientation whose sync peak is highest, without the bin values ``align`` adds:
    the cheap test a lattice that hints at a mark pays for in :func:`search`."""
    spectrum = np.fft.fft2(folded)
    peaks = []
    for index in range(len(DIHEDRAL)):
        cy, cx, z = _locate(_oriented(spectrum, pat, index), pat)
        peaks.append(Alignment(index, (cy, cx), z, _NO_VALUES))
    return max(peaks, key=lambda a: a.sync_z)


def _affine(points: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares affine map taking ``points`` to ``targets``, as a homography."""
    design = np.column_stack([points, np.ones(len(points))]) * np.sqrt(weights)[:, None]
    solution, *_ = np.linalg.lstsq(design, targets * np.sqrt(weights)[:, None], rcond=None)
    h = np.eye(3)
    h[:2] = solution.T
    return h


LOCAL_STRIDE = TILE // 2
"""Step between the tile-sized blocks of :func:`local_search` (they overlap by half)."""
MAX_LOCAL_BLOCKS = 96
"""Most blocks looked at: a long panorama gets a coarser step instead of a longer search."""
LOCAL_Z = 4.2
"""Sync peak a tile-sized block needs to take part in the consensus (noise peaks near 4).
From 4.5 down to 4.2 the search read one more of 26 marks at perspective 5 % and one more
after camera recapture, with unmarked consensus unchanged (see ``LOCAL_AGREE``); at 4.0,
one fewer."""
LOCAL_CANDIDATES = 14
"""Strongest blocks whose triples propose an affine drift: 364 proposals at most."""
LOCAL_TOLERANCE = 3.0
"""Pixels a block's template may sit from the proposed drift and still agree with it. A
homography is not affine: over the image, 5 % of perspective bends the drift by a few pixels
from the best affine one."""
LOCAL_SKEW = 0.12
"""Largest entry of the proposed map's linear part minus identity: 5 % corner moves bend
the local lattice by at most about 8 %."""
LOCAL_STILL = 0.002
"""Drift slopes below this are the untouched lattice (0.2 % is 0.3 px over a tile)."""
HOMOGRAPHY_REFITS = 2
"""Rounds of refitting the consensus as a homography (and regathering its blocks): on the
benchmark's 26 marks the search alone read 20 (not 19) at perspective 5 % and 9 (not 8)
after camera recapture with them."""
LOCAL_AGREE = 5
"""Blocks that must agree on one affine drift before it is folded and decoded.

Any three blocks define an affine drift, so three agree by construction. Over the 104
unmarked images of the robustness benchmark's ``all`` set (the 26 photos and their
perspective 3 %, 5 % and camera-recapture copies), each read with the public key and 20
others (2,184 reads), no fourth block ever agreed; every mark this search recovered there
had 5 to 44 blocks agree. Below the gate an unmarked image pays only the blocks' transforms
(about 10 ms at 512²).
"""


def _tile_peaks(residuals: list[np.ndarray], pat: Pattern) -> np.ndarray:
    """Per tile-sized block: centre (x, y), the template's offset (row, col) relative to the
    image origin in the untouched orientation, and its sync peak z; n×5.

    A tile-sized block spans one period, so under a few percent of perspective (a few pixels
    of drift across the block) its template still shows where a larger block's is smeared;
    and every block is its own fold. The template lies below a quarter of the sampling rate,
    so the planes are first halved (band-limited, through their spectrum): the blocks'
    transforms and correlation surfaces then cost a quarter as much, and the surface comes
    on the 2-pixel grid the samplers use.
    """
    h, w = (residuals[0].shape[0] // 2) * 2, (residuals[0].shape[1] // 2) * 2
    size = TILE // 2
    stride = LOCAL_STRIDE // 2
    while ((h // 2 - size) // stride + 1) * ((w // 2 - size) // stride + 1) > MAX_LOCAL_BLOCKS:
        stride += LOCAL_STRIDE // 4
    tops = np.arange(0, h // 2 - size + 1, stride)
    lefts = np.arange(0, w // 2 - size + 1, stride)
    if len(tops) == 0 or len(lefts) == 0:
        return np.zeros((0, 5))
    full = np.fft.rfft2(np.stack([r[:h, :w] for r in residuals]).astype(np.float32, copy=False))
    cropped = np.concatenate([full[:, : h // 4], full[:, h - h // 4 :]], axis=1)
    planes = np.fft.irfft2(cropped[:, :, : w // 4 + 1], s=(h // 2, w // 2)).astype(np.float32)
    blocks = np.stack(
        [planes[:, top : top + size, left : left + size] for top in tops for left in lefts]
    )
    spectrum = np.fft.rfft2(blocks)  # n×C×size×(size/2+1)
    sync = pat.is_sync
    ky, kx = _signed(pat.ky)[sync], _signed(pat.kx)[sync]
    mirror = kx < 0
    rows = np.where(mirror, -ky, ky) % size
    cols = np.abs(kx)
    values = spectrum[:, :, rows, cols]
    values = np.where(mirror, np.conj(values), values) * np.conj(pat.phase[sync]).astype(
        np.complex64
    )
    # The correlation surface Re(FFT2(z)) over every offset, z being the products at the
    # sync bins and their conjugates at -k: an inverse real FFT of the conjugate half.
    half = np.zeros(spectrum.shape, dtype=np.complex64)
    half[:, :, rows, cols] = np.where(mirror, values, np.conj(values))
    edge = cols == 0
    half[:, :, (-rows[edge]) % size, 0] = values[:, :, edge]
    surface = np.fft.irfft2(half, s=(size, size))
    # No sync bin sits at DC: every surface has mean 0 and, by Parseval, variance
    # 2·sum|values|² / size⁴.
    spread = np.sqrt(2 * np.sum(np.abs(values) ** 2, axis=2)) / size**2 + 1e-12
    surface /= spread[:, :, None, None]
    # Planes weighted as _sync._locate weighs them: by how clearly each shows a peak.
    weight = np.maximum(surface.max(axis=(2, 3)) - 4.5, 0.05)
    combined = np.einsum("nc,ncij->nij", weight, surface)
    combined /= combined.std(axis=(1, 2), keepdims=True) + 1e-12
    flat = combined.reshape(len(blocks), -1)
    peak = flat.argmax(axis=1)
    z = flat[np.arange(len(blocks)), peak]
    py, px = np.divmod(peak, size)
    index = np.arange(len(blocks))
    dy = _parabola(combined[index, (py - 1) % size, px], z, combined[index, (py + 1) % size, px])
    dx = _parabola(combined[index, py, (px - 1) % size], z, combined[index, py, (px + 1) % size])
    # Back to full-resolution pixels.
    top = 2.0 * np.repeat(tops, len(lefts))
    left = 2.0 * np.tile(lefts, len(tops))
    return np.column_stack(
        [
            left + (TILE - 1) / 2,
            top + (TILE - 1) / 2,
            (2 * (py + dy) - top) % TILE,
            (2 * (px + dx) - left) % TILE,
            z,
        ]
    )


def _consensus(peaks: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The homography (an affine map) under which the most blocks' templates agree, and
    how many do; None if fewer than three blocks show a template.

    Under a mild homography the template's offset drifts smoothly over the image, nearly
    affinely; noise puts each block's peak anywhere. Every triple of the strongest blocks
    proposes an affine drift; the one most blocks agree with is refitted on them.
    """
    candidates = peaks[peaks[:, 4] >= LOCAL_Z]
    candidates = candidates[np.argsort(candidates[:, 4])[::-1]]
    if len(candidates) < 3:
        return None
    design = np.column_stack([candidates[:, :2], np.ones(len(candidates))])
    offsets = candidates[:, 2:4]
    strongest = min(len(candidates), LOCAL_CANDIDATES)
    i, j, k = np.array([(i, j, k) for i in range(strongest) for j in range(i) for k in range(j)]).T
    triples = design[np.stack([i, j, k], axis=1)]  # m×3×3
    relative = _wrap(offsets[np.stack([i, j, k], axis=1)] - offsets[i][:, None])  # m×3×2
    usable = np.abs(np.linalg.det(triples)) > 1.0
    if not usable.any():
        return None
    maps = np.linalg.solve(triples[usable], relative[usable])  # m×3×2: drift per (x, y, 1)
    plausible = np.abs(maps[:, :2]).max(axis=(1, 2)) <= LOCAL_SKEW
    if not plausible.any():
        return None
    maps, anchors = maps[plausible], offsets[i[usable][plausible]]
    predicted = np.einsum("bk,mkd->mbd", design, maps) + anchors[:, None]
    error = np.hypot(*np.moveaxis(_wrap(offsets[None] - predicted), -1, 0))
    agree = error < LOCAL_TOLERANCE
    best = int(np.argmax(agree.sum(axis=1)))
    inliers = agree[best]
    weights = np.sqrt(candidates[inliers, 4] - LOCAL_Z + 1.0)[:, None]
    reference = offsets[inliers][0]
    drift, *_ = np.linalg.lstsq(
        design[inliers] * weights, _wrap(offsets[inliers] - reference) * weights, rcond=None
    )
    # Tile coordinates: the template sits at ``reference`` wherever the drift is undone,
    # u = x + col drift, v = y + row drift.
    if np.abs(drift[:2]).max() < LOCAL_STILL:
        # The untouched lattice, folded first of all, already saw this: a template read
        # with the wrong key shows its cross-correlation with the real one in every block.
        return None
    h = np.eye(3)
    h[0] += drift[:, 1]
    h[1] += drift[:, 0]
    count = int(inliers.sum())
    # Perspective bends the drift away from affine towards the corners: with enough blocks,
    # a homography refitted to them (and to the blocks it then agrees with) starts closer.
    for _ in range(HOMOGRAPHY_REFITS):
        if inliers.sum() < PERSPECTIVE_POINTS:
            break
        points = candidates[inliers, :2]
        targets = points + _wrap(offsets[inliers] - reference)[:, ::-1]
        fitted = _fit(points, targets, candidates[inliers, 4] - LOCAL_Z + 1.0)
        if fitted is None:
            break
        u, v = apply(fitted, candidates[:, 0], candidates[:, 1])
        predicted = np.column_stack([v - candidates[:, 1], u - candidates[:, 0]]) + reference
        inliers = np.hypot(*_wrap(offsets - predicted).T) < LOCAL_TOLERANCE
        h = fitted
    return h, count


def local_search(
    residuals: list[np.ndarray], pat: Pattern
) -> Iterator[tuple[np.ndarray, Alignment]]:
    """Alignments under a homography found from tile-sized blocks of the untouched lattice.

    For perspective that smears the template in every fold of the whole image and of half
    images, so no lattice hints at it: each tile-sized block still shows it, at an offset
    that drifts over the image; when ``LOCAL_AGREE`` blocks agree on an affine drift
    (noise cannot), the fold under that drift starts :func:`_rounds`.
    """
    found = _consensus(_tile_peaks(residuals, pat))
    if found is None or found[1] < LOCAL_AGREE:
        return
    start = found[0]
    h, w = residuals[0].shape
    again = align(fold(residuals, start), pat, len(DIHEDRAL))
    alignment = next(a for a in again if a.dihedral == 0)
    yield local_basis(start, (w - 1) / 2, (h - 1) / 2), alignment
    yield from _rounds(residuals, start, alignment, pat)
