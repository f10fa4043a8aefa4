"""The visible layer: draw a legible "AI-generated" label, and find it again later.

:func:`add_label` draws a small box with the text in a corner, at an edge or in the
centre (:data:`POSITIONS`), sized to the image and coloured for WCAG contrast; the
:data:`PRESETS` draw the EU's common "AI" icon instead of plain text.
:func:`detect_label` tells whether an image still carries that label, also after JPEG
compression, resizing and crops that keep it.

Example:
    >>> from PIL import Image
    >>> from aiwatermark.visible import add_label, detect_label
    >>> labelled = add_label(Image.new("RGB", (800, 600), "teal"), "AI-generated")
    >>> detect_label(labelled).found
    True
"""

from __future__ import annotations

from ._detect import LabelDetection, detect_label
from ._label import add_label
from ._layout import POSITIONS, PRESETS

__all__ = ["POSITIONS", "PRESETS", "LabelDetection", "add_label", "detect_label"]
