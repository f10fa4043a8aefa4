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

from ._pattern import TILE, Pattern
from ._sync import DIHEDRAL, Alignment, _locate, _oriented, align, splat
from ._sync import fold as _sync_fold

ROUNDS = 4
"""Most homographies fitted (and decoded) per alignment: each round's sharper fold gives
the blocks a clearer template to measure the next from."""
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
        drift = (drift + TILE / 2) % TILE - TILE / 2
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
    """Refit ``h`` to the blocks and re-align while the sync peak grows, ``ROUNDS`` at most."""
    centre = ((residuals[0].shape[1] - 1) / 2, (residuals[0].shape[0] - 1) / 2)
    for _ in range(ROUNDS):
        corrected = _correct(residuals, h, alignment, pat)
        if corrected is None:
            return
        again = align(fold(residuals, corrected), pat, len(DIHEDRAL))
        better = next(a for a in again if a.dihedral == alignment.dihedral)
        if better.sync_z < alignment.sync_z - 0.5:
            return  # the blocks misled the fit; a smeared peak would only mislead them more
        h, alignment = corrected, better
        yield local_basis(h, *centre), alignment


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
        drift = (offset - reference_offset + TILE / 2) % TILE - TILE / 2
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
