"""Signing: embed a C2PA manifest in image bytes, or write it as a detached sidecar."""

from __future__ import annotations

import datetime as dt
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa

from .. import imageio
from ..errors import PayloadError, SigningError, UnsupportedImageError
from ..keys import Signer
from . import _manifest
from ._context import signing_context
from ._likeness import Likeness

SIDECAR_SUFFIX = ".c2pa"
"""Suffix of a detached manifest file written next to its image (``photo.c2pa``)."""

_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"heif": "image/heif",
}


def sniff_mime(data: bytes) -> str | None:
    """The MIME type of image bytes from their magic number, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if data[4:8] == b"ftyp":
        return _BRANDS.get(data[8:12])
    return None


@dataclass(frozen=True)
class SignedAsset:
    """The result of :func:`sign`.

    Example:
        >>> from aiwatermark import keys, provenance
        >>> signed = provenance.sign(jpeg_bytes, format="JPEG",
        ...                          signer=keys.dev_signer())  # doctest: +SKIP
        >>> signed.manifest_label.startswith("urn:c2pa:")  # doctest: +SKIP
        True
    """

    data: bytes
    """The image with the manifest embedded (the unchanged input when ``embed=False``)."""
    manifest: bytes
    """The JUMBF manifest store: a ``.c2pa`` sidecar, or what a manifest store keeps."""
    manifest_label: str
    """The active manifest's label, ``urn:c2pa:<uuid>``."""

    def __repr__(self) -> str:
        return (
            f"SignedAsset(data=<{len(self.data)} bytes>, manifest=<{len(self.manifest)} bytes>, "
            f"manifest_label={self.manifest_label!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Sizes and label, JSON-ready (the bytes themselves are left out).

        Example:
            >>> signed.to_dict()["manifest_label"]  # doctest: +SKIP
            'urn:c2pa:...'
        """
        return {
            "data_bytes": len(self.data),
            "manifest_bytes": len(self.manifest),
            "manifest_label": self.manifest_label,
        }


def _version() -> str:
    from .. import __version__

    return __version__


def _c2pa_message(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


# The DER of id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4): every RFC 3161 token names it, and
# c2pa stores the token's DER as it is inside the COSE signature.
_TST_INFO = bytes.fromhex("060b2a864886f70d0109100104")


def _tsa_problem(url: str, detail: str) -> str:
    """Say which TSA failed and how: c2pa reports them all as one kind of signature error."""
    detail = detail.removeprefix("Signature:").strip()
    if "http resolver" in detail or "error sending request" in detail:
        what = "cannot be reached"
    elif "HTTP error" in detail:
        what = "answered with an HTTP error"
    elif "time stamp" in detail or "decode error" in detail or "timestamp" in detail:
        what = "did not answer with a valid RFC 3161 time-stamp response"
    else:
        what = "gave no usable timestamp"
    return (
        f"the timestamp authority {url} {what} ({detail}); nothing was signed — drop "
        "tsa_url/--tsa-url to sign without a timestamp"
    )


def sign(
    data: bytes,
    *,
    format: str,
    signer: Signer,
    generator: str | None = None,
    generator_version: str | None = None,
    title: str | None = None,
    soft_binding: bytes | None = None,
    fingerprint: bytes | None = None,
    likeness: Likeness | None = None,
    parent: bytes | None = None,
    thumbnail: bool = False,
    embed: bool = True,
) -> SignedAsset:
    """Sign image bytes with a C2PA manifest that declares them AI-generated.

    The manifest records ``c2pa.created`` with digital source type
    ``trainedAlgorithmicMedia`` and ``generator`` as software agent; with ``parent`` (the
    original photo's bytes) it records ``c2pa.opened`` on that parent ingredient, then
    ``c2pa.edited`` with ``compositeWithTrainedAlgorithmicMedia``. ``soft_binding`` (the
    invisible watermark payload) adds ``c2pa.watermarked.bound`` and a ``c2pa.soft-binding``
    assertion; ``fingerprint`` (the 32-byte PDQ value of the final pixels, see
    :mod:`aiwatermark.fingerprint`) adds a second ``c2pa.soft-binding`` that ties the
    manifest to the picture itself; ``likeness`` adds the likeness-consent assertion.
    ``embed=False`` leaves ``data`` untouched and returns a detached manifest bound to it
    (for a sidecar).

    Example:
        >>> import tempfile
        >>> from aiwatermark import imageio, keys, provenance
        >>> from PIL import Image
        >>> jpeg = imageio.encode(Image.new("RGB", (64, 64), "teal"), "JPEG")
        >>> signed = provenance.sign(jpeg, format="JPEG", generator="ImageGen",
        ...                          signer=keys.dev_signer(tempfile.mkdtemp()))
        >>> provenance.read_provenance(signed.data).ai_generated
        True
    """
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise UnsupportedImageError("sign() needs the encoded image as non-empty bytes")
    if not isinstance(signer, Signer):
        raise SigningError(
            f"signer must be an aiwatermark.keys.Signer, not {type(signer).__name__}; "
            "use keys.Signer.from_files(...) or keys.dev_signer()"
        )
    if soft_binding is not None and (
        not isinstance(soft_binding, (bytes, bytearray)) or not soft_binding
    ):
        raise PayloadError("soft_binding must be the watermark payload as non-empty bytes")
    if fingerprint is not None and (
        not isinstance(fingerprint, (bytes, bytearray)) or len(fingerprint) != 32
    ):
        raise PayloadError("fingerprint must be the 32-byte PDQ value of the image")
    if likeness is not None and not isinstance(likeness, Likeness):
        raise SigningError(f"likeness must be a provenance.Likeness, not {type(likeness).__name__}")
    fmt = imageio.format_for("image", format)
    mime = imageio.FORMAT_MIME[fmt]
    actual = sniff_mime(bytes(data[:16]))
    if actual is not None and actual != mime:
        raise UnsupportedImageError(f"format={format!r} but the bytes are {actual}")
    parent_mime = None
    if parent is not None:
        if not isinstance(parent, (bytes, bytearray)) or not parent:
            raise UnsupportedImageError("parent must be the original image's bytes")
        parent_mime = sniff_mime(bytes(parent[:16]))
        if parent_mime is None:
            raise UnsupportedImageError(
                "parent: not a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image"
            )
    label = f"urn:c2pa:{uuid.uuid4()}"
    definition = _manifest.build(
        title=title or ("AI-edited image" if parent is not None else "AI-generated image"),
        claim_generator=("aiwatermark", _version()),
        generator=generator,
        generator_version=generator_version,
        soft_binding=bytes(soft_binding) if soft_binding is not None else None,
        fingerprint=bytes(fingerprint) if fingerprint is not None else None,
        likeness=likeness,
        has_parent=parent is not None,
        when=dt.datetime.now(dt.timezone.utc),
    )
    definition["label"] = label
    errors: list[BaseException] = []
    try:
        native_signer = signer._c2pa_signer(errors)
        builder = c2pa.Builder(definition, context=signing_context(bool(thumbnail)))
        if parent is not None:
            ingredient = {
                "title": f"original.{parent_mime.split('/')[1] if parent_mime else 'bin'}",
                "relationship": "parentOf",
                "label": _manifest.PARENT_LABEL,
            }
            builder.add_ingredient(ingredient, parent_mime, io.BytesIO(bytes(parent)))
        if not embed:
            builder.set_no_embed()
        out = io.BytesIO()
        manifest = builder.sign(native_signer, mime, io.BytesIO(bytes(data)), out)
    except c2pa.C2paError as exc:
        if errors:
            failure = errors[0]
            raise SigningError(
                f"the signing callback failed: {type(failure).__name__}: {failure}"
            ) from None
        if signer.tsa_url and isinstance(exc, c2pa.C2paError.Signature):
            raise SigningError(_tsa_problem(signer.tsa_url, _c2pa_message(exc))) from None
        hint = ""
        if signer.tsa_url and "signingCredential.invalid" in str(exc):
            # c2pa checks the TSA's certificate with the signer's status code, and our own
            # profile check already passed the signer's: the TSA's is the likely culprit.
            hint = (
                f"; the refused certificate may be that of the timestamp authority "
                f"{signer.tsa_url}, which needs id-kp-timeStamping as its only extended key usage"
            )
        raise SigningError(
            f"cannot sign the {fmt} image with {signer.subject!r}: {_c2pa_message(exc)}{hint}"
        ) from None
    if signer.tsa_url and _TST_INFO not in manifest:
        # Every TSA failure we could provoke made c2pa fail loudly; this keeps a manifest
        # the caller believes timestamped from leaving here without one, whatever c2pa does.
        raise SigningError(
            f"the timestamp authority {signer.tsa_url} was asked for, but the signed manifest "
            "carries no RFC 3161 timestamp; nothing was written"
        )
    signed = bytes(data) if not embed else out.getvalue()
    return SignedAsset(data=signed, manifest=manifest, manifest_label=label)


def sign_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    signer: Signer,
    generator: str | None = None,
    generator_version: str | None = None,
    title: str | None = None,
    soft_binding: bytes | None = None,
    fingerprint: bytes | None = None,
    likeness: Likeness | None = None,
    parent: imageio.ImageSource | None = None,
    thumbnail: bool = False,
    sidecar: bool = False,
    overwrite: bool = False,
) -> Path:
    """Sign the image file ``src`` and write the result to ``dst``; returns the path written.

    The format comes from the file's bytes. Embedded (default): ``dst`` is the image with its
    manifest. ``sidecar=True``: the pixels and bytes stay as they are; ``dst`` gets a copy of
    ``src`` (nothing is copied when ``dst`` is ``src``) and the detached manifest goes to
    ``dst`` with suffix ``.c2pa``, whose path is returned. Writes are atomic; existing files
    are only replaced with ``overwrite=True``. ``title`` defaults to ``dst``'s file name.

    Example:
        >>> from aiwatermark import keys, provenance
        >>> provenance.sign_file("gen.png", "gen-signed.png",
        ...                      signer=keys.dev_signer())  # doctest: +SKIP
        PosixPath('gen-signed.png')
    """
    data = imageio.read_bytes(src)
    mime = sniff_mime(data[:16])
    fmt = next((name for name, value in imageio.FORMAT_MIME.items() if value == mime), None)
    if fmt is None:
        raise UnsupportedImageError(
            f"{imageio.describe(src)}: not an image format we sign (JPEG, PNG, WebP, TIFF, "
            "GIF, AVIF)"
        )
    target = Path(os.fspath(dst))
    signed = sign(
        data,
        format=fmt,
        signer=signer,
        generator=generator,
        generator_version=generator_version,
        title=title or target.name,
        soft_binding=soft_binding,
        likeness=likeness,
        parent=imageio.read_bytes(parent) if parent is not None else None,
        thumbnail=thumbnail,
        embed=not sidecar,
    )
    if not sidecar:
        return imageio.write_atomic(signed.data, target, overwrite=overwrite, protect=(src,))
    sidecar_path = imageio.check_writable(target.with_suffix(SIDECAR_SUFFIX), overwrite=overwrite)
    if not imageio.same_file(target, src):
        imageio.write_atomic(data, target, overwrite=overwrite, protect=(src,))
    return imageio.write_atomic(signed.manifest, sidecar_path, overwrite=overwrite)
