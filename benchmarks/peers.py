"""Adapters for other open-source invisible watermarks, used as baselines by the benchmarks.

Peers are optional: a peer whose package (or model runtime) does not import is left out with
a one-line note on stderr. Each adapter works on RGB ``uint8`` arrays of shape (H, W, 3) and
bit arrays (``bool``, one entry per payload bit):

- ``imwatermark`` (pip ``invisible-watermark``, the Stable Diffusion watermark): ``dwtDct``
  and ``dwtDctSvd`` with 48-bit payloads, ``rivaGan`` with its fixed 32 bits (needs
  ``onnxruntime``; the ONNX models ship inside the package). ``invisible-watermark`` requires
  ``torch``; install the CPU wheel first (``pip install torch==2.13.0``) or pip pulls a CUDA
  build of several GB. It also depends on ``opencv-python`` (not headless), which pip installs
  next to ``opencv-python-headless``.
- ``blind_watermark`` (pip ``blind-watermark``): DWT-DCT-SVD with 48 bits and the default
  passwords (``password_img=1``, ``password_wm=1``); extraction needs the bit length.

Example:
    >>> import numpy as np
    >>> from peers import available_peers
    >>> rgb = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    >>> for peer in available_peers(names=["dwtDct"]):
    ...     bits = np.random.default_rng(1).integers(0, 2, peer.payload_bits).astype(bool)
    ...     marked = peer.embed(rgb, bits)
    ...     print(peer.name, marked.shape, peer.payload_bits)
    dwtDct (512, 512, 3) 48
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import sys
import unittest.mock
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

RGB = npt.NDArray[np.uint8]
Bits = npt.NDArray[np.bool_]

PEER_NAMES = ("dwtDct", "dwtDctSvd", "rivaGan", "blind_watermark")


@dataclass(frozen=True)
class Peer:
    """One baseline watermark: ``extract(embed(rgb, bits))`` should give back ``bits``."""

    name: str
    payload_bits: int
    embed: Callable[[RGB, Bits], RGB]
    extract: Callable[[RGB], Bits]

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "payload_bits": self.payload_bits}


def _bgr(rgb: RGB) -> RGB:
    # Both peers use OpenCV channel order.
    return np.ascontiguousarray(rgb[..., ::-1])


def _imwatermark_peer(method: str, payload_bits: int) -> Peer:
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    if method == "rivaGan":
        WatermarkEncoder.loadModel()

    def embed(rgb: RGB, bits: Bits) -> RGB:
        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", [int(b) for b in bits])
        return _bgr(np.asarray(encoder.encode(_bgr(rgb), method), dtype=np.uint8))

    def extract(rgb: RGB) -> Bits:
        decoder = WatermarkDecoder("bits", payload_bits)
        return np.asarray(decoder.decode(_bgr(rgb), method), dtype=bool)

    return Peer(method, payload_bits, embed, extract)


def _blind_watermark_peer(payload_bits: int) -> Peer:
    # The package prints a banner on first use and emits prints from inside its methods;
    # they would interleave with the benchmark table. Importing it also calls
    # multiprocessing.set_start_method("fork"), which raises in the benchmark's spawned
    # workers (their start method is already set) and would change ours elsewhere: it is
    # not the package's to choose, and it does not need fork for what is measured here.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        unittest.mock.patch.object(multiprocessing, "set_start_method", lambda *a, **k: None),
    ):
        import blind_watermark

        blind_watermark.bw_notes.close()

    def new() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return blind_watermark.WaterMark(password_img=1, password_wm=1)

    def embed(rgb: RGB, bits: Bits) -> RGB:
        bwm = new()
        with contextlib.redirect_stdout(io.StringIO()):
            bwm.read_img(img=_bgr(rgb))
            bwm.read_wm(np.asarray(bits, dtype=bool).copy(), mode="bit")
            marked = bwm.embed()
        return _bgr(np.clip(np.rint(marked), 0, 255).astype(np.uint8))

    def extract(rgb: RGB) -> Bits:
        bwm = new()
        with contextlib.redirect_stdout(io.StringIO()):
            soft = bwm.extract(embed_img=_bgr(rgb), wm_shape=payload_bits, mode="bit")
        return np.asarray(soft, dtype=float) >= 0.5

    return Peer("blind_watermark", payload_bits, embed, extract)


_FACTORIES: dict[str, Callable[[], Peer]] = {
    "dwtDct": lambda: _imwatermark_peer("dwtDct", 48),
    "dwtDctSvd": lambda: _imwatermark_peer("dwtDctSvd", 48),
    "rivaGan": lambda: _imwatermark_peer("rivaGan", 32),
    "blind_watermark": lambda: _blind_watermark_peer(48),
}


def available_peers(names: Iterable[str] | None = None) -> list[Peer]:
    """The peers in ``names`` (default: all of :data:`PEER_NAMES`) that import here.

    A peer that cannot be loaded is skipped with a note on stderr; an unknown name raises
    ``KeyError``.
    """
    peers = []
    for name in PEER_NAMES if names is None else names:
        if name not in _FACTORIES:
            raise KeyError(f"unknown peer {name!r}; known peers: {', '.join(PEER_NAMES)}")
        try:
            peers.append(_FACTORIES[name]())
        except ImportError as exc:
            print(f"note: skipping peer {name}: {exc}", file=sys.stderr)
    return peers
