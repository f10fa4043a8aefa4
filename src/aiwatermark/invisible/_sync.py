"""Synchronisation: recover the tile lattice (scale, rotation, aspect, flip) and its offset.

1. The autocorrelation of the whitened image peaks on the lattice spanned by the two tile
   period vectors, whatever resize, rotation or aspect change the image went through.
   :func:`lattices` finds those peaks and fits the best-scoring basis.
2. :func:`fold` averages the image modulo that lattice into one T×T tile (every crop still
   holds whole periods, so cropping costs only averaging gain).
3. A square lattice cannot tell its 8 orientations apart (90° turns and mirror images), so
   :func:`align` tries all 8 against the keyed sync template and finds the cyclic offset
   from the correlation peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._pattern import TILE, Pattern
from ._transform import box_mean, fast_length

MIN_LAG = 20
ZMAP_STRIDE = 3
MIN_PERIOD = 40.0
MAX_PERIOD = 2.6 * TILE
PENALTY = 2.5
"""Subtracted per lattice point: above the ~2.0 a 5×5 maximum of pure noise reaches."""
# Every signed permutation of (row, col): the symmetries of a square lattice.
DIHEDRAL = tuple(
    np.array(m, dtype=np.int64)
    for m in (
        [[1, 0], [0, 1]],
        [[-1, 0], [0, 1]],
        [[1, 0], [0, -1]],
        [[-1, 0], [0, -1]],
        [[0, 1], [1, 0]],
        [[0, -1], [1, 0]],
        [[0, 1], [-1, 0]],
        [[0, -1], [-1, 0]],
    )
)


def _lag_window(acf: np.ndarray, max_lag: int) -> np.ndarray:
    # The padded ACF is longer than 2·max_lag + 1 on both axes, so the lags never wrap
    # onto each other: two slices per axis instead of a fancy-indexed gather.
    rows = np.concatenate([acf[-max_lag:], acf[: max_lag + 1]])
    return np.concatenate([rows[:, -max_lag:], rows[:, : max_lag + 1]], axis=1)


def _zmap(acf: np.ndarray, max_lag: int) -> np.ndarray:
    """Robust z-scores of the autocorrelation over the lag window [-L, L]²."""
    window = _lag_window(acf, max_lag)
    # Median and spread from every third lag on each axis (~45,000 values at L = 317): the
    # estimates move by well under 1 %, and lattices() removes any offset and scale again
    # (sharp peaks over their local level and spread), so a ninth of the sorting is enough.
    lags = np.arange(-max_lag, max_lag + 1, ZMAP_STRIDE)
    radius = np.hypot(lags[None, :], lags[:, None])
    values = window[::ZMAP_STRIDE, ::ZMAP_STRIDE][(radius >= MIN_LAG) & (radius <= max_lag)]
    median = float(np.median(values))
    spread = float(np.median(np.abs(values - median))) * 1.4826 + 1e-12
    return ((window - median) / spread).astype(np.float32)


def _max_filter(z: np.ndarray, radius: int) -> np.ndarray:
    """Maximum over a (2r+1)² window; outside the map counts as -inf."""
    out = z
    for axis in (0, 1):
        n = out.shape[axis]
        padded = np.pad(
            out,
            [(radius, radius) if a == axis else (0, 0) for a in (0, 1)],
            mode="constant",
            constant_values=-np.inf,
        )
        shifted = [
            padded[k : k + n] if axis == 0 else padded[:, k : k + n] for k in range(2 * radius + 1)
        ]
        out = shifted[0].copy()
        for view in shifted[1:]:
            np.maximum(out, view, out=out)
    return out


def lattices(acfs: list[np.ndarray], max_lag: int, count: int = 4) -> list[np.ndarray]:
    """Candidate lattice bases (2×2, columns = period vectors as (x, y) pixels), best first.

    A template search: every rotation and scale of a square lattice (and every rectangle,
    for aspect changes) is scored by summing the autocorrelation's z-scores at its lattice
    points — many weak peaks add up where no single one would stand out. Denser false
    lattices pay for their empty points, sparser ones miss the ones in between.
    """
    z = sum(_zmap(acf, max_lag) for acf in acfs) / np.sqrt(len(acfs))
    # Only sharp peaks count: broad bumps of the photo's own autocorrelation near the origin
    # would otherwise reward dense lattices that pile points onto them.
    sharp = z - box_mean(z, 6)
    # Noise in the autocorrelation grows with the lag (less overlap); rescale locally so a
    # peak counts by how much it stands out of its own neighbourhood.
    sharp = sharp / np.sqrt(box_mean(sharp**2, 12) + 1e-6)
    tolerant = np.clip(_max_filter(sharp, 2), -3.0, 8.0)
    a, b = np.meshgrid(np.arange(-7, 8), np.arange(0, 8))
    keep = (b > 0) | (a > 0)
    a, b = a[keep].astype(np.float64), b[keep].astype(np.float64)
    norm = np.hypot(a, b)
    reach = max_lag - 3
    side = 2 * max_lag + 1
    flat = tolerant.ravel()

    def scores(v1x: np.ndarray, v1y: np.ndarray, v2x: np.ndarray, v2y: np.ndarray) -> np.ndarray:
        # Every basis tried is orthogonal, so point (a, b) lies at least shortest·|(a, b)|
        # from the origin: trials are taken in chunks of similar period, and a chunk only
        # computes the points that can fall inside the window (a few, for long periods).
        shortest = np.minimum(np.hypot(v1x, v1y), np.hypot(v2x, v2y))
        order = np.argsort(shortest)
        result = np.empty(len(order), dtype=flat.dtype)
        for chunk in np.array_split(order, -(-len(order) // 512)):
            near = norm * shortest[chunk[0]] <= reach * (1 + 1e-9)
            ca, cb = a[near], b[near]
            px = ca[None, :] * v1x[chunk, None] + cb[None, :] * v2x[chunk, None]
            py = ca[None, :] * v1y[chunk, None] + cb[None, :] * v2y[chunk, None]
            r2 = px * px + py * py
            inside = (r2 >= MIN_LAG**2) & (r2 <= reach**2)
            # Inside points are within the window, so only outside ones need clipping.
            index = np.where(inside, np.rint(py) * side + np.rint(px), 0).astype(np.int64)
            gain = np.where(inside, flat[index + (max_lag * side + max_lag)] - PENALTY, 0.0)
            result[chunk] = gain.sum(axis=1)
        return result

    top = min(reach / 1.2, MAX_PERIOD)
    periods = np.geomspace(MIN_PERIOD, top, 90)
    angles = np.radians(np.arange(0.0, 90.0, 1.5))
    p, t = (m.ravel() for m in np.meshgrid(periods, angles))
    square = scores(p * np.cos(t), p * np.sin(t), -p * np.sin(t), p * np.cos(t))
    # Refine the best coarse cells on a finer grid (rotation ±1°, scale ±2%).
    best = np.argsort(square)[::-1][:12]
    dp, dt = np.meshgrid(np.linspace(0.98, 1.02, 9), np.radians(np.linspace(-1.0, 1.0, 9)))
    p = (p[best][:, None] * dp.ravel()[None, :]).ravel()
    t = (t[best][:, None] + dt.ravel()[None, :]).ravel()
    square = scores(p * np.cos(t), p * np.sin(t), -p * np.sin(t), p * np.cos(t))
    px_, py_ = (m.ravel() for m in np.meshgrid(periods, periods))
    plausible = np.abs(np.log(px_ / py_)) < np.log(1.6)
    px_, py_ = px_[plausible], py_[plausible]
    zero = np.zeros_like(px_)
    rect = scores(px_, zero, zero, py_)

    def basis_at(index: int) -> np.ndarray:
        if index < len(p):
            c, s = np.cos(t[index]), np.sin(t[index])
            return np.array([[p[index] * c, -p[index] * s], [p[index] * s, p[index] * c]])
        index -= len(p)
        return np.array([[px_[index], 0.0], [0.0, py_[index]]])

    all_scores = np.concatenate([square, rect])
    chosen: list[np.ndarray] = []
    for index in np.argsort(all_scores)[::-1]:
        if all_scores[index] <= 0 or len(chosen) >= count:
            break
        basis = basis_at(int(index))
        if any(_same_lattice(basis, other) for other in chosen):
            continue
        chosen.append(basis)
    return [_refine(z, basis, max_lag) for basis in chosen]


def _same_lattice(a: np.ndarray, b: np.ndarray) -> bool:
    """True when the two bases span (nearly) the same lattice."""
    coords = np.linalg.solve(b, a)
    return (
        bool(np.allclose(coords, np.rint(coords), atol=0.08))
        and abs(abs(np.linalg.det(a)) / abs(np.linalg.det(b)) - 1) < 0.08
    )


def _refine(z: np.ndarray, basis: np.ndarray, max_lag: int) -> np.ndarray:
    """Least-squares fit of the basis to sub-pixel peak positions of its lattice points."""
    coeffs, targets, weights = [], [], []
    for a in range(-4, 5):
        for b in range(-4, 5):
            point = a * basis[:, 0] + b * basis[:, 1]
            x, y = round(float(point[0])), round(float(point[1]))
            r = np.hypot(x, y)
            if r < MIN_LAG or r > max_lag - 3 or not (y > 0 or (y == 0 and x > 0)):
                continue
            patch = z[y + max_lag - 2 : y + max_lag + 3, x + max_lag - 2 : x + max_lag + 3]
            iy, ix = np.unravel_index(int(np.argmax(patch)), patch.shape)
            peak = patch[iy, ix]
            if peak < 3.0 or iy in (0, 4) or ix in (0, 4):
                continue
            dx = float(_parabola(patch[iy, ix - 1], peak, patch[iy, ix + 1]))
            dy = float(_parabola(patch[iy - 1, ix], peak, patch[iy + 1, ix]))
            coeffs.append((a, b))
            targets.append((x + ix - 2 + dx, y + iy - 2 + dy))
            weights.append(min(float(peak), 12.0))
    if len(coeffs) < 3:
        return basis
    c = np.array(coeffs, dtype=float)
    if np.linalg.matrix_rank(c) < 2:
        return basis
    w = np.sqrt(np.array(weights))[:, None]
    solution, *_ = np.linalg.lstsq(c * w, np.array(targets) * w, rcond=None)
    return np.asarray(solution.T)


def _parabola(left: ArrayLike, centre: ArrayLike, right: ArrayLike) -> np.ndarray:
    """Sub-pixel offset of a parabola's vertex through three samples (elementwise), clipped
    to ±0.5; 0 where the samples do not bend down around the centre."""
    left, centre, right = np.asarray(left), np.asarray(centre), np.asarray(right)
    denom = left - 2 * centre + right
    safe = np.where(denom < 0, denom, -1.0)
    result: np.ndarray = np.where(denom < 0, np.clip(0.5 * (left - right) / safe, -0.5, 0.5), 0.0)
    return result


def fold(residuals: list[np.ndarray], basis: np.ndarray) -> np.ndarray:
    """Average each plane modulo the lattice into a T×T tile (bilinear splatting): C×T×T."""
    h, w = residuals[0].shape
    if np.array_equal(basis, np.eye(2) * TILE):
        return _fold_aligned(residuals)
    inverse = (np.linalg.inv(basis) * TILE).astype(np.float32)
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)[:, None]
    u = inverse[0, 0] * xs + inverse[0, 1] * ys
    v = inverse[1, 0] * xs + inverse[1, 1] * ys
    return splat(residuals, u, v)


def splat(residuals: list[np.ndarray], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Average each plane into a T×T tile at tile coordinates (u, v) mod T, per pixel: C×T×T.

    Bilinear splatting; ``u`` and ``v`` (column, row) have the planes' shape, so any map
    from image to tile, not only a lattice, can be folded.
    """
    size = TILE
    u = u % size
    v = v % size
    u0 = np.minimum(u.astype(np.int64), size - 1)
    v0 = np.minimum(v.astype(np.int64), size - 1)
    fu = (u - u0).ravel()
    fv = (v - v0).ravel()
    base = (v0 * size + u0).ravel()
    right = np.where(u0.ravel() == size - 1, 1 - size, 1)
    down = np.where(v0.ravel() == size - 1, size - size * size, size)
    index = np.concatenate([base, base + right, base + down, base + right + down])
    weight = np.concatenate([(1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv])
    cells = size * size
    weights = np.bincount(index, weights=weight, minlength=cells)
    tiles = np.empty((len(residuals), cells))
    for c, residual in enumerate(residuals):
        values = np.tile(residual.ravel(), 4) * weight
        tiles[c] = np.bincount(index, weights=values, minlength=cells)
    tiles /= np.maximum(weights, 1e-9)
    tiles[:, weights < 1e-9] = 0.0
    return tiles.reshape(len(residuals), size, size)


def _fold_aligned(residuals: list[np.ndarray]) -> np.ndarray:
    """The common no-geometry case: whole-pixel periods, so folding is a reshape and a sum."""
    h, w = residuals[0].shape
    rows, cols = -(-h // TILE) * TILE, -(-w // TILE) * TILE
    counts = np.zeros((rows, cols), dtype=np.float32)
    counts[:h, :w] = 1
    counts_t = counts.reshape(rows // TILE, TILE, cols // TILE, TILE).sum(axis=(0, 2))
    out = np.empty((len(residuals), TILE, TILE))
    for c, residual in enumerate(residuals):
        padded = np.zeros((rows, cols), dtype=np.float32)
        padded[:h, :w] = residual
        out[c] = padded.reshape(rows // TILE, TILE, cols // TILE, TILE).sum(axis=(0, 2))
    result: np.ndarray = out / np.maximum(counts_t, 1)
    return result


@dataclass(frozen=True)
class Alignment:
    dihedral: int  # index into DIHEDRAL
    offset: tuple[float, float]  # (row, col) cyclic shift in tile pixels
    sync_z: float  # correlation peak in standard deviations
    values: np.ndarray  # per pattern bin: folded spectrum · conj(keyed phase), channels combined


_DIHEDRAL_T = np.stack([m.T for m in DIHEDRAL])
"""The transposes D^T of :data:`DIHEDRAL`, stacked once for the samplers' batches."""


def _wrap(offset: np.ndarray) -> np.ndarray:
    """Offsets (pixels) wrapped onto one period around 0: [-T/2, T/2)."""
    wrapped: np.ndarray = (offset + TILE / 2) % TILE - TILE / 2
    return wrapped


def _signed(index: np.ndarray) -> np.ndarray:
    """DFT bin indices 0..T-1 as signed frequencies -T/2..T/2-1."""
    signed: np.ndarray = np.where(index >= TILE // 2, index - TILE, index)
    return signed


def _surface(q: np.ndarray, pat: Pattern) -> np.ndarray:
    sy, sx = pat.ky[pat.is_sync], pat.kx[pat.is_sync]
    z = np.zeros((TILE, TILE), dtype=np.complex128)
    products = q[pat.is_sync] * np.conj(pat.phase[pat.is_sync])
    z[sy, sx] = products
    z[(-sy) % TILE, (-sx) % TILE] = np.conj(products)
    return np.fft.fft2(z).real


def _locate(qs: np.ndarray, pat: Pattern) -> tuple[float, float, float]:
    """(row, col, peak z) of the sync template, from each plane's values at the pattern bins.

    Planes are weighted by how clearly each shows the template on its own, so a plane an
    attack wiped out (chroma after JPEG) adds almost no noise.
    """
    combined = np.zeros((TILE, TILE))
    for q in qs:
        surface = _surface(q, pat)
        normed = (surface - surface.mean()) / (surface.std() + 1e-12)
        combined += max(float(normed.max()) - 4.5, 0.05) * normed
    peak = np.unravel_index(int(np.argmax(combined)), combined.shape)
    py, px = int(peak[0]), int(peak[1])
    dy = float(
        _parabola(combined[(py - 1) % TILE, px], combined[py, px], combined[(py + 1) % TILE, px])
    )
    dx = float(
        _parabola(combined[py, (px - 1) % TILE], combined[py, px], combined[py, (px + 1) % TILE])
    )
    z = float((combined[py, px] - combined.mean()) / (combined.std() + 1e-12))
    return py + dy, px + dx, z


def _oriented(spectrum: np.ndarray, pat: Pattern, dihedral: int) -> np.ndarray:
    """Each plane's folded spectrum (``np.fft.fft2`` of the fold) at the pattern bins, read
    in one of the 8 orientations."""
    source = (DIHEDRAL[dihedral].T @ np.stack([pat.ky, pat.kx])) % TILE
    values: np.ndarray = spectrum[:, source[0], source[1]]
    return values


def refine(
    residuals: list[np.ndarray], basis: np.ndarray, alignment: Alignment, pat: Pattern
) -> np.ndarray:
    """Correct a slightly wrong basis by locating the sync template in each half image.

    A basis that is off by a fraction of a percent keeps the low frequencies coherent (so
    the template is found) but smears the high ones that carry most bits. The offset
    measured per half drifts linearly with position by exactly that error; a
    least-squares fit of the drift gives the correction.
    """
    h, w = residuals[0].shape
    d = DIHEDRAL[alignment.dihedral]
    centres, drifts = [], []
    halves = (
        (slice(0, h), slice(0, w // 2)),
        (slice(0, h), slice(w // 2, w)),
        (slice(0, h // 2), slice(0, w)),
        (slice(h // 2, h), slice(0, w)),
    )
    inverse = np.linalg.inv(basis) * TILE
    for rows, cols in halves:
        # Folding a half in place moves the origin to its corner; undo that shift.
        shift = inverse @ np.array([cols.start, rows.start], dtype=float)
        folded = fold([r[rows, cols] for r in residuals], basis)
        cy, cx, z = _locate(_oriented(np.fft.fft2(folded), pat, alignment.dihedral), pat)
        if z < 4.5:
            continue
        local = d.T @ (np.array([cy, cx]) - np.array(alignment.offset))  # fold (row, col)
        local = _wrap(local - np.array([shift[1], shift[0]]))
        centres.append(((cols.start + cols.stop) / 2, (rows.start + rows.stop) / 2))
        drifts.append(local)
    if len(centres) < 3:
        return basis
    x = np.column_stack([np.array(centres), np.ones(len(centres))])
    solution, *_ = np.linalg.lstsq(x, np.array(drifts), rcond=None)
    jacobian = solution[:2].T  # d(row, col) / d(x, y)
    correction = jacobian[::-1]  # rows become (u: col, v: row)
    inverse = np.linalg.inv(basis) * TILE + correction
    return np.asarray(np.linalg.inv(inverse) * TILE)


def align(folded: np.ndarray, pat: Pattern, keep: int = 2) -> list[Alignment]:
    """Best orientations of the folded planes against the sync template, strongest first.

    The planes' bin values are combined by maximal-ratio combining (signal over noise
    variance, both measured on the sync bins), so a plane an attack wiped out adds almost
    no noise.
    """
    phase = np.conj(pat.phase)
    spectrum = np.fft.fft2(folded)  # one transform serves all 8 orientations
    results = []
    for index in range(len(DIHEDRAL)):
        qs = _oriented(spectrum, pat, index)
        cy, cx, sync_z = _locate(qs, pat)
        # Signed frequencies: a fractional shift turns bin -k by the opposite phase of bin k.
        shift = np.exp(-2j * np.pi * (_signed(pat.ky) * cy + _signed(pat.kx) * cx) / TILE)
        values = np.zeros(pat.ky.size)
        for q in qs:
            v = q * shift * phase
            signal = float(np.mean(v.real[pat.is_sync]))
            noise = float(np.mean(v.imag[pat.is_sync] ** 2)) + 1e-12
            if signal > 0:
                values += (signal / noise) * v.real
        results.append(Alignment(index, (cy, cx), sync_z, values))
    results.sort(key=lambda a: a.sync_z, reverse=True)
    return results[:keep]


OVERSAMPLE = 4
GRID = TILE // 2
BATCH = 32
SCALE_STEP = 0.004
"""Log-period step of the scale search."""
MAX_ROTATION = 10.0
"""Largest turn (degrees, either way) the rotation search tries at the marked scale."""
ROTATION_STEP = 0.5
"""Angle step of the rotation search's first pass; its best angles are then refined to 0.05°."""
POLISH_ORIENTATIONS = 2
"""Orientations the polish carries from its 4 central cells to the other 32. In 98 polishes
that reached 6 on marked, attacked copies of 17 photos (rotations, crops, resizes, aspect,
screenshot, upload, perspective), the best orientation on the central cells was always the
best anywhere: one would have kept every score, two leave a margin."""


class Sampler:
    """Scores candidate lattices without folding, straight from a zero-padded spectrum.

    Folding with basis V and reading tile bin k is the same as reading the image spectrum at
    frequency V^-T k. One 4× zero-padded FFT per plane therefore lets any lattice, in any
    of its 8 orientations, be tested against the sync template for the price of a 64² FFT
    (the offset search runs on 2-pixel steps: enough to tell a peak from noise).
    """

    def __init__(
        self, residuals: list[np.ndarray], pat: Pattern, oversample: int = OVERSAMPLE
    ) -> None:
        h, w = residuals[0].shape
        self.size = (fast_length(oversample * h), fast_length(oversample * w))
        # Single precision throughout: scores only need to tell peaks of ~10 from noise of
        # ~5, and halving the bytes moved nearly halves the cost of a search.
        self.spectra = [
            np.fft.rfft2(r.astype(np.float32, copy=False), s=self.size).astype(np.complex64)
            for r in residuals
        ]
        sync = pat.is_sync
        self.bins = np.stack([_signed(pat.ky)[sync], _signed(pat.kx)[sync]])  # (row, col)
        self.phase = np.conj(pat.phase[sync]).astype(np.complex64)
        self.centre = (h / 2, w / 2)
        self._columns = self.spectra[0].shape[1]
        rows, cols = self.bins
        self._mirror = cols < 0
        self._rows = np.where(self._mirror, -rows, rows) % GRID
        self._cols = np.abs(cols)
        self._edge = self._cols == 0

    def scores(
        self, bases: np.ndarray, dihedrals: np.ndarray, planes: int | None = None
    ) -> np.ndarray:
        """Peak z of the sync correlation for each (lattice, orientation) trial, batched."""
        # In batches small enough for the correlation surfaces (16 kB a trial) to stay in
        # cache through the passes over them: a third faster than one large batch.
        return np.concatenate(
            [
                self._scores(bases[i : i + BATCH], dihedrals[i : i + BATCH], planes)
                for i in range(0, len(bases), BATCH)
            ]
        )

    def _scores(self, bases: np.ndarray, dihedrals: np.ndarray, planes: int | None) -> np.ndarray:
        d = _DIHEDRAL_T[dihedrals]  # D^T, n×2×2
        k = d @ self.bins  # D^T m: fold bins (row, col), n×2×B
        inverse_t = np.linalg.inv(bases).transpose(0, 2, 1)  # V^-T, n×2×2
        f = inverse_t @ k[:, ::-1]  # image frequency (x, y)
        fx, fy = f[:, 0], f[:, 1]
        valid = (np.abs(fx) < 0.5) & (np.abs(fy) < 0.5)  # beyond Nyquist: aliased, dropped
        # rfft2 holds fx >= 0 only; the rest is the complex conjugate at -f.
        flip = fx < 0
        sign = np.where(flip, -1.0, 1.0)
        fx, fy = fx * sign, fy * sign
        ny, nx = np.rint(fy * self.size[0]), np.rint(fx * self.size[1])
        # The nearest bin is a fraction of a bin off; for content spread around the image
        # centre that error is, to first order, a phase ramp we can undo. conj(x · ramp) is
        # conj(x) · conj(ramp), so the flip folds into one factor shared by every plane.
        # The ramp's angle is a fraction of a turn: single precision is plenty for its
        # sine and cosine, and twice as fast.
        angle = (
            (2 * np.pi)
            * (
                (ny / self.size[0] - fy) * self.centre[0]
                + (nx / self.size[1] - fx) * self.centre[1]
            )
        ).astype(np.float32)
        factor = np.empty(angle.shape, dtype=np.complex64)
        factor.real = np.cos(angle)
        factor.imag = np.sin(angle) * sign.astype(np.float32)
        factor *= self.phase
        factor *= valid
        # One flat index serves every plane: a 1-D take is cheaper than 2-D fancy indexing.
        flat = (ny.astype(np.int64) % self.size[0]) * self._columns + np.minimum(
            nx.astype(np.int64), self.size[1] // 2
        )
        combined = None
        mixed = np.zeros((len(bases), self.bins.shape[1]), dtype=np.complex64)
        for spectrum in self.spectra[:planes]:
            values = spectrum.ravel().take(flat)
            np.conjugate(values, out=values, where=flip)
            values *= factor
            spread = _spread(values)
            surface = self._surface(values)
            # Each plane's surface in its own standard deviations, weighted by how clearly
            # it peaks: one scale factor per trial, applied in a single pass.
            weight = np.maximum(surface.max(axis=(1, 2)) / spread - 4.5, 0.05)
            surface *= (weight / spread)[:, None, None]
            if combined is None:
                combined = surface
            else:
                combined += surface
            mixed += (weight / spread)[:, None] * values
        assert combined is not None
        result: np.ndarray = combined.max(axis=(1, 2)) / _spread(mixed)
        return result.astype(np.float64)

    def _surface(self, values: np.ndarray) -> np.ndarray:
        """Re(FFT2) of the sync bins on the GRID² offset grid (point-mirrored), per row.

        Only the real part is needed, which is the transform of the Hermitian half
        (values + their conjugates at -k) / 2: a real inverse FFT of half the size.
        """
        # The halving and the transform's 1/GRID² folded into one scale on the few values.
        half = values * np.float32(0.5 * GRID * GRID)
        np.conjugate(half, out=half, where=self._mirror)
        spectrum = np.zeros((len(values), GRID, GRID // 2 + 1), dtype=np.complex64)
        spectrum[:, self._rows, self._cols] = half
        # Column 0 has no discarded mirror: its conjugate partner must be written out.
        spectrum[:, (-self._rows[self._edge]) % GRID, 0] += np.conj(half[:, self._edge])
        surface: np.ndarray = np.fft.irfft2(spectrum, s=(GRID, GRID))
        return surface

    def score(self, basis: np.ndarray) -> float:
        """The best score of ``basis`` over the 8 orientations, every plane counted."""
        n = len(DIHEDRAL)
        return float(self.scores(np.repeat(basis[None], n, axis=0), np.arange(n)).max())

    def polish(self, basis: np.ndarray) -> tuple[np.ndarray, float]:
        """The best lattice within ±1.5 % scale and ±1.2° of ``basis``, in any orientation,
        and its score.

        The autocorrelation finds lattices to about a percent and a degree; coherent folding
        needs a few tenths, so the neighbourhood is searched before folding. The orientation
        is told apart near the centre already: all 8 are tried on the 4 central cells of the
        6×6 grid, and only the best ``POLISH_ORIENTATIONS`` on the rest, a third of the
        trials.
        """
        scales = np.linspace(0.985, 1.015, 6)
        angles = np.radians(np.linspace(-1.2, 1.2, 6))
        cells = [(i, j) for i in range(6) for j in range(6)]
        # The central cells first, so their scores pick the orientations for the others.
        cells.sort(key=lambda cell: max(abs(cell[0] - 2.5), abs(cell[1] - 2.5)))
        trials = []
        for i, j in cells:
            c, s = np.cos(angles[j]), np.sin(angles[j])
            trials.append(np.array([[c, -s], [s, c]]) @ basis * scales[i])
        n = len(DIHEDRAL)
        centre = np.repeat(np.stack(trials[:4]), n, axis=0)
        centre_orientations = np.tile(np.arange(n), 4)
        centre_scores = self.scores(centre, centre_orientations)
        by_orientation = centre_scores.reshape(4, n).max(axis=0)
        kept = np.argsort(by_orientation)[::-1][:POLISH_ORIENTATIONS]
        rest = np.repeat(np.stack(trials[4:]), len(kept), axis=0)
        rest_orientations = np.tile(kept, len(trials) - 4)
        bases = np.concatenate([centre, rest])
        values = np.concatenate([centre_scores, self.scores(rest, rest_orientations)])
        best = int(np.argmax(values))
        return np.asarray(bases[best]), float(values[best])


def _spread(values: np.ndarray) -> np.ndarray:
    """Standard deviation of the correlation surface Re(FFT(z)) for each row of bin values.

    No sync bin sits at DC or opposite another, so by Parseval the surface has mean 0 and
    variance sum|values|^2 / 2: no pass over the 64×64 surface is needed.
    """
    result: np.ndarray = np.sqrt(0.5 * np.sum(values.real**2 + values.imag**2, axis=1)) + 1e-12
    return result


def scale_search(sampler: Sampler, shape: tuple[int, int], count: int = 3) -> list[np.ndarray]:
    """Axis-aligned lattices found by trying every scale coherently (the fallback).

    When the autocorrelation shows nothing — typically luma alone after a resize *and* a
    JPEG — the tile is still there, just too weak for a second-order statistic; a coherent
    test of every period (and its mirror image) against the sync template still finds it.
    """
    top = min(MAX_PERIOD, min(shape) / 1.2)
    if top <= MIN_PERIOD:
        return []
    periods = np.geomspace(MIN_PERIOD, top, int(np.log(top / MIN_PERIOD) / SCALE_STEP) + 1)
    mirror = 2  # DIHEDRAL[2] negates columns: a horizontal flip
    bases = np.repeat(periods, 2)[:, None, None] * np.eye(2)
    orientations = np.tile([0, mirror], len(periods))
    scores = sampler.scores(bases, orientations, 1).reshape(-1, 2).max(axis=1)
    chosen: list[float] = []
    for index in np.argsort(scores)[::-1]:
        if all(abs(periods[index] / other - 1) > 0.02 for other in chosen):
            chosen.append(float(periods[index]))
        if len(chosen) == count:
            break
    return [np.eye(2) * period for period in chosen]


def rotation_search(sampler: Sampler, count: int = 2) -> list[np.ndarray]:
    """Lattices at the marked scale turned by up to ±``MAX_ROTATION`` degrees, best first,
    found by trying every angle coherently.

    A photo straightened by a few degrees and re-encoded as JPEG keeps its size, so its tile
    keeps its period; but 4:2:0 chroma subsampling has taken the chroma share, and the luma
    share alone is too weak for the autocorrelation to show the turned lattice. Tested
    against the sync template, as the scale search tests every period, it still shows.
    """
    angles = np.radians(np.arange(-MAX_ROTATION, MAX_ROTATION + ROTATION_STEP / 2, ROTATION_STEP))
    scores = _turned_scores(sampler, angles)
    chosen: list[float] = []
    for index in np.argsort(scores)[::-1]:
        if all(abs(angles[index] - other) > np.radians(1.0) for other in chosen):
            chosen.append(float(angles[index]))
        if len(chosen) == count:
            break
    # Then to 0.05° around each: a quarter of a degree off already costs a weak mark its
    # decode (the high bins smear first).
    fine = np.radians(np.linspace(-ROTATION_STEP / 2, ROTATION_STEP / 2, 11))
    return [
        _turned(angle + fine)[int(np.argmax(_turned_scores(sampler, angle + fine)))]
        for angle in chosen
    ]


def _turned(angles: np.ndarray) -> np.ndarray:
    """The untouched lattice turned by each angle (radians): n×2×2."""
    c, s = np.cos(angles), np.sin(angles)
    turned: np.ndarray = TILE * np.stack(
        [np.stack([c, -s], axis=-1), np.stack([s, c], axis=-1)], axis=1
    )
    return turned


def _turned_scores(sampler: Sampler, angles: np.ndarray) -> np.ndarray:
    """Luma score of each turned lattice, the better of it and its mirror image."""
    mirror = 2  # DIHEDRAL[2] negates columns: a horizontal flip
    bases = np.repeat(_turned(angles), 2, axis=0)
    orientations = np.tile([0, mirror], len(angles))
    scores: np.ndarray = sampler.scores(bases, orientations, 1).reshape(-1, 2).max(axis=1)
    return scores
