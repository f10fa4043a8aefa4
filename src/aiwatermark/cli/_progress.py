"""The progress bar of a batch: tqdm's, with rate and ETA, drawn on stderr only when it is a
terminal; nothing at all otherwise, so logs and pipes carry only the results."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class ProgressBar:
    """Feed it as a batch's ``progress(done, total)`` callback; print through :meth:`above`.

    Example:
        >>> import io
        >>> from aiwatermark.cli._progress import ProgressBar
        >>> bar = ProgressBar(10, "image", io.StringIO())  # not a terminal: draws nothing
        >>> bar.update(3, 10); bar.close(); bar.active
        False
    """

    def __init__(self, total: int | None, unit: str, stream: TextIO | None = None) -> None:
        stream = sys.stderr if stream is None else stream
        self._bar: Any = None
        if stream.isatty() and total != 1 and total != 0:
            from tqdm import tqdm  # costs ~40 ms at import: only when a bar is drawn

            self._bar = tqdm(total=total, unit=unit, file=stream, dynamic_ncols=True, leave=False)

    @property
    def active(self) -> bool:
        """True when a bar is drawn."""
        return self._bar is not None

    def update(self, done: int, total: int | None) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    @contextmanager
    def above(self) -> Iterator[None]:
        """Lift the bar while a line is printed, so the line does not run into it."""
        if self._bar is None:
            yield
            return
        self._bar.clear()
        try:
            yield
        finally:
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
