"""Where aiwatermark keeps its own files (manifest store, development identity)."""

from __future__ import annotations

HOME_ENV = "AIWATERMARK_HOME"
"""Environment variable naming the folder for aiwatermark's own files (store, dev keys)."""
