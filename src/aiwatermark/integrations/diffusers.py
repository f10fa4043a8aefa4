"""A drop-in replacement for the watermarker of diffusers pipelines: one line puts our
invisible watermark (and, if asked, the visible label) into every image the pipeline makes.

Stable Diffusion XL pipelines (and the others that copy them: img2img, inpainting,
ControlNet, T2I-Adapter; optimum's ONNX versions) call ``pipe.watermark.apply_watermark``
on the decoded batch before post-processing: N×C×H×W values in -1..1, a torch tensor (an
ONNX pipeline: a numpy array) in the VAE's dtype, on its device. :class:`AiWatermarker`
takes that batch and gives back the same type, shape, dtype, device and range::

    pipe.watermark = AiWatermarker(generator="Stable Diffusion XL 1.0")
    images = pipe(prompt).images                      # watermarked pixels
    result = pipe.watermark.finish(images[0], "out.jpg")  # + disclosure, C2PA, store

What survives where. A tensor holds pixels only, so the hook applies the pixel layers: the
visible label (``label=``; none by default, as the built-in watermarker draws none) and the
invisible watermark, which then survives everything the pipeline and the user do with the
pixels (post-processing, ``output_type`` "pil", "np" or "pt", re-encoding, resizing). The
file layers — IPTC/EXIF disclosure metadata and the signed C2PA manifest — cannot live in a
tensor: :meth:`AiWatermarker.finish` adds them to a final image and registers the manifest
in the store under the content ID the pixels already carry (without embedding a second
watermark). :attr:`AiWatermarker.content_ids` lists the content IDs of the last batch, in
order, for callers who keep their own records instead.

Unlike diffusers' own watermarker, which silently leaves images narrower than 256 pixels
unmarked, an image too small for the watermark (short side under
:data:`aiwatermark.invisible.MIN_SIZE`) raises :class:`~aiwatermark.ImageTooSmallError`.
VAE output beyond -1..1 is clamped, as diffusers' post-processing would; NaN (a broken
float16 VAE) raises :class:`~aiwatermark.InvalidArgumentError`. Values come back on the
8-bit grid the post-processing rounds to, so the saved image is exactly the marked one.

Example:
    >>> import numpy as np
    >>> from PIL import Image
    >>> from aiwatermark import invisible
    >>> from aiwatermark.integrations.diffusers import AiWatermarker
    >>> watermarker = AiWatermarker(store=False, signer=False)
    >>> photo = np.asarray(Image.open("fixtures/astronaut.jpg"), np.float32)
    >>> batch = (photo / 127.5 - 1).transpose(2, 0, 1)[None]  # as a VAE decodes it
    >>> marked = watermarker.apply_watermark(batch)
    >>> marked.shape, marked.dtype
    ((1, 3, 512, 512), dtype('float32'))
    >>> pixels = np.rint((marked[0].transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)
    >>> invisible.detect(pixels).payload.hex() == watermarker.content_ids[0]
    True
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from PIL import Image

from .. import _arrays, _pipeline, consent, imageio, invisible, keys, visible
from .._pipeline import MarkResult
from ..errors import InvalidArgumentError
from ..store import StoreLike, open_store

_REMEMBERED = 4096
"""Marked images whose content ID :meth:`AiWatermarker.finish` finds without detection."""


class AiWatermarker:
    """aiwatermark's marks in the shape of diffusers' watermarker: ``pipe.watermark = ...``.

    ``key`` is the watermark secret (``None``: the public key, so anyone can read the
    disclosure); ``label`` is visible label text, ``None`` for none. ``store``, ``signer``,
    ``generator`` and ``likeness`` mean what they mean for :func:`aiwatermark.mark`: fresh
    content IDs are drawn so the store holds none of them yet, and :meth:`finish` signs and
    registers with them. One watermarker may serve several threads.

    Example:
        >>> import diffusers, aiwatermark  # doctest: +SKIP
        >>> pipe = diffusers.StableDiffusionXLPipeline.from_pretrained(
        ...     "stabilityai/stable-diffusion-xl-base-1.0")  # doctest: +SKIP
        >>> pipe.watermark = AiWatermarker(generator="SDXL 1.0")  # doctest: +SKIP
        >>> image = pipe("a lighthouse at dusk").images[0]  # doctest: +SKIP
        >>> pipe.watermark.finish(image, "lighthouse.jpg").layers  # doctest: +SKIP
        ('watermark', 'disclosure', 'c2pa')
    """

    def __init__(
        self,
        *,
        key: str | bytes | None = None,
        label: str | None = None,
        store: StoreLike = None,
        signer: keys.Signer | bool | None = None,
        generator: str | None = None,
        likeness: consent.Use | None = None,
        consent_override: str | None = None,
    ) -> None:
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise InvalidArgumentError(f"label must be a non-empty text or None, not {label!r}")
        self.key = key
        self.label = label
        self.store = store
        self.signer = signer
        self.generator = generator
        self.likeness = likeness
        self.consent_override = consent_override
        self._lock = threading.Lock()
        self._last: tuple[str, ...] = ()
        self._marked: OrderedDict[bytes, bytes] = OrderedDict()

    def __repr__(self) -> str:
        key = "public" if self.key is None else "secret"
        store = self.store if isinstance(self.store, (bool, type(None))) else "..."
        signer = self.signer if isinstance(self.signer, (bool, type(None))) else "Signer"
        return f"AiWatermarker(label={self.label!r}, key={key}, store={store!r}, signer={signer!s})"

    @property
    def content_ids(self) -> tuple[str, ...]:
        """The content IDs (hex) embedded by the last :meth:`apply_watermark`, in batch order.

        Example:
            >>> AiWatermarker(store=False).content_ids
            ()
        """
        return self._last

    def apply_watermark(self, images: Any) -> Any:
        """Mark a decoded batch in place of diffusers' watermarker: N×C×H×W in -1..1.

        ``images`` is a torch tensor (any float dtype, any device) or a numpy array; the
        result has the same type, shape, dtype, device and range. Each image gets its own
        fresh content ID (:attr:`content_ids`).

        Example:
            >>> import numpy as np
            >>> watermarker = AiWatermarker(store=False, signer=False)
            >>> out = watermarker.apply_watermark(np.zeros((2, 3, 256, 256), np.float32))
            >>> out.shape, len(watermarker.content_ids)
            ((2, 3, 256, 256), 2)
        """
        batch = _arrays.to_batch(
            images,
            low=-1.0,
            channels_first=True,
            clip=True,
            check_size=lambda w, h: imageio.check_size(w, h, "diffusers batch"),
        )
        manifest_store = open_store(self.store) if self.signer is not False else None
        marked = np.empty_like(batch.pixels)
        payloads: list[bytes] = []
        for index, pixels in enumerate(batch.pixels):
            image = _arrays.to_pil(pixels)
            if self.label is not None:
                image = visible.add_label(image, self.label)
            payload = _pipeline._content_id(manifest_store, None)
            out = np.asarray(invisible.embed(image, payload, self.key))
            marked[index] = out.reshape(marked[index].shape)
            payloads.append(payload)
        with self._lock:
            self._last = tuple(p.hex() for p in payloads)
            for pixels, payload in zip(marked, payloads, strict=True):
                self._marked[_digest(pixels)] = payload
            while len(self._marked) > _REMEMBERED:
                self._marked.popitem(last=False)
        return batch.restore(marked)

    def finish(
        self,
        image: imageio.ImageSource,
        dst: str | os.PathLike[str] | None = None,
        *,
        format: str | None = None,
        overwrite: bool = False,
    ) -> MarkResult:
        """Add the file layers to a final image this watermarker marked, and save it.

        ``image`` is what the pipeline returned (a ``PIL.Image``, or one image of an "np" or
        "pt" output). Writes the disclosure metadata and the signed C2PA manifest binding
        the content ID the pixels carry (no second watermark is embedded) and registers the
        manifest in the store, like :func:`aiwatermark.mark` with the same arguments; with
        ``dst=None`` the encoded image is in ``MarkResult.data``. An image that was changed
        since is recognised by detecting its watermark.

        Raises:
            aiwatermark.InvalidArgumentError: the image carries no watermark of ours.
            aiwatermark.AiWatermarkError: as :func:`aiwatermark.mark` (output exists,
                signing or store failure, ...).

        Example:
            >>> import numpy as np
            >>> watermarker = AiWatermarker(store=False, signer=False)
            >>> batch = watermarker.apply_watermark(np.zeros((1, 3, 256, 256), np.float32))
            >>> result = watermarker.finish((batch[0].transpose(1, 2, 0) + 1) / 2)
            >>> result.layers, result.content_id == watermarker.content_ids[0]
            (('watermark', 'disclosure'), True)
        """
        if dst is not None:
            imageio.check_writable(dst, overwrite=overwrite, protect=(image,))
        opened = imageio.open(image)
        payload = self._payload_of(opened)
        fmt = _pipeline._output_format(image, opened, dst, format)
        manifest_store = open_store(self.store) if self.signer is not False else None
        # Checked for every image, when it is sealed: a consent can be withdrawn mid-run.
        assertion = (
            None
            if self.likeness is None
            else _pipeline._consented(
                self.likeness, self.consent_override, manifest_store, self.signer
            )
        )
        layers = ["watermark"] if self.label is None else ["label", "watermark"]
        return _pipeline._seal(
            opened,
            fmt,
            payload,
            layers,
            src=image,
            dst=dst,
            signer=self.signer,
            generator=self.generator,
            likeness=assertion,
            manifest_store=manifest_store,
            overwrite=overwrite,
        )

    def _payload_of(self, image: Image.Image) -> bytes:
        with self._lock:
            known = self._marked.get(_digest(np.asarray(image)))
        if known is not None:
            return known
        detection = invisible.detect(image, self.key)
        if detection.detected and detection.payload is not None:
            return detection.payload
        raise InvalidArgumentError(
            "this image carries no watermark from this AiWatermarker (with its key): finish() "
            "completes images the pipeline produced with pipe.watermark set to it; mark any "
            "other image with aiwatermark.mark()"
        )


def _digest(pixels: np.ndarray) -> bytes:
    """Identity of exact 8-bit pixels: what post-processing gives back for a marked image."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    header = repr(pixels.shape).encode()
    return hashlib.blake2b(header + np.ascontiguousarray(pixels).tobytes(), digest_size=16).digest()


__all__ = ["AiWatermarker"]
