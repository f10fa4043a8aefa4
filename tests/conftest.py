"""Shared fixtures: real photographs (bundled in fixtures/) and a temporary output folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

# A real, throwaway PostgreSQL server for the tests that need one (session-scoped).
from postgres import db_url, postgres_url  # noqa: F401

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def photo_paths() -> list[Path]:
    """The bundled real photographs: a JPEG, a PNG and a WebP."""
    return [FIXTURES / "astronaut.jpg", FIXTURES / "coffee.png", FIXTURES / "chelsea.webp"]


@pytest.fixture
def photo() -> Image.Image:
    """A real 512×512 RGB photograph (fresh copy per test)."""
    with Image.open(FIXTURES / "astronaut.jpg") as im:
        return im.convert("RGB")
