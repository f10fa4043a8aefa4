"""Property-based fuzzing: damaged and hostile files either work or raise AiWatermarkError.

A small sample of benchmarks/fuzz.py (which runs 10,000+ cases), on the same harness
(tests/fuzzing.py): hypothesis picks a seed file (real photos as JPEG, PNG and WebP; plain,
disclosed, C2PA-signed with a test CA, fully marked) and one to three mutations, and each
public reader or writer gets the result in a worker process with a memory limit and a 10 s
deadline. Any exception other than ``AiWatermarkError``, a timeout or a dead worker fails the
test.
"""

from __future__ import annotations

import contextlib
import random
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing import (
    FORMATS,
    HEAVY,
    MUTATORS,
    TARGETS,
    Worker,
    garbage_exif,
    make_seeds,
    make_test_identity,
    mutate,
)

FAST_TARGETS = [t for t in TARGETS if t not in HEAVY]
HEAVY_TARGETS = [t for t in TARGETS if t in HEAVY]
_SETTINGS = {
    "deadline": None,
    "derandomize": True,  # the same cases on every run: a failure is reproducible
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_test_identity(tmp_path_factory.mktemp("fuzz-ca"))


@pytest.fixture(scope="module")
def seeds(identity: Any) -> list[Any]:
    return make_seeds(identity, sizes=(256,))  # invisible.MIN_SIZE: mark() refuses less


@pytest.fixture(scope="module")
def worker(identity: Any) -> Iterator[Any]:
    with Worker(identity, timeout=10.0, memory_mb=3072) as running:
        yield running


def _check(worker: Any, target: str, case: str, data: bytes) -> None:
    result = worker.run(target, data)
    assert result.outcome in ("ok", "AiWatermarkError"), f"{target} on {case}: {result.detail}"
    assert result.seconds < 10


@pytest.mark.parametrize("target", FAST_TARGETS)
@settings(max_examples=120, **_SETTINGS)
@given(rng=st.randoms(use_true_random=False))
def test_fast_targets_survive_mutations(
    target: str, rng: random.Random, seeds: list[Any], worker: Any
) -> None:
    case, data = mutate(rng, seeds)
    _check(worker, target, case, data)


@pytest.mark.parametrize("target", HEAVY_TARGETS)
@settings(max_examples=6, **_SETTINGS)
@given(rng=st.randoms(use_true_random=False))
def test_pixel_targets_survive_mutations(
    target: str, rng: random.Random, seeds: list[Any], worker: Any
) -> None:
    case, data = mutate(rng, seeds)
    _check(worker, target, case, data)


@pytest.mark.parametrize("mutator", sorted(MUTATORS))
@settings(max_examples=25, **_SETTINGS)
@given(rng=st.randoms(use_true_random=False), index=st.integers(0, 1000))
def test_every_mutator_against_the_metadata_and_c2pa_readers(
    mutator: str, rng: random.Random, index: int, seeds: list[Any], worker: Any
) -> None:
    seed = seeds[index % len(seeds)]
    other = seeds[(index * 7 + 3) % len(seeds)].data
    data = MUTATORS[mutator](rng, seed.data, other) or b"\x00"
    for target in ("metadata.read_disclosure", "provenance.read_provenance", "imageio.open"):
        _check(worker, target, f"{seed.name}: {mutator}", data)


@given(data=st.binary(min_size=0, max_size=512))
@settings(max_examples=150, **_SETTINGS)
def test_arbitrary_bytes(data: bytes, worker: Any) -> None:
    for target in ("imageio.open", "metadata.read_disclosure", "provenance.read_provenance"):
        _check(worker, target, "random bytes", data)


@given(
    prefix=st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"]),
    rest=st.binary(max_size=300),
)
@settings(max_examples=150, **_SETTINGS)
def test_magic_numbers_with_garbage(prefix: bytes, rest: bytes, worker: Any) -> None:
    for target in (
        "imageio.open",
        "metadata.read_disclosure",
        "metadata.disclose",
        "provenance.read_provenance",
    ):
        _check(worker, target, "magic + garbage", prefix + rest)


def test_mutators_change_the_file_and_keep_its_kind(seeds: list[Any]) -> None:
    """The harness itself: every mutator really alters its input (it is not a no-op)."""
    rng = random.Random(0)
    for name, mutator in MUTATORS.items():
        changed = sum(mutator(rng, seed.data, seeds[-1].data) != seed.data for seed in seeds)
        assert changed >= len(seeds) // 2, name


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_exif_raises_no_warning_as_error(fmt: str, seeds: list[Any]) -> None:
    """Under ``-W error`` Pillow's EXIF warnings would escape as raw UserWarning exceptions."""
    from aiwatermark import AiWatermarkError, imageio

    plain = next(seed.data for seed in seeds if seed.format == fmt)
    for index in range(40):
        data = garbage_exif(random.Random(index), plain, b"")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with contextlib.suppress(AiWatermarkError):
                imageio.open(data)
