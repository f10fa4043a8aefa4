"""Mark and verify Ray Datasets of images: the same calls as one process, on a cluster.

:func:`mark_dataset` and :func:`verify_dataset` run :func:`aiwatermark.mark` and
:func:`aiwatermark.verify` on every row of a Ray Dataset with ``Dataset.map_batches``, one
task per batch, on as many CPUs as Ray has (``ray.init(num_cpus=...)`` on one machine,
``ray.init(address=...)`` on a cluster). A row is an image: a ``bytes`` column (what
``ray.data.read_binary_files(paths, include_paths=True)`` makes) and/or a ``path``
column (a local path or a URL every worker can read: ``s3://``, ``gs://``, ...). Results
come back as a materialized Dataset, one row per image, in the input's order, with an
``error`` column instead of an exception, so one bad file never loses the other results.

Manifests are registered in a store every worker reaches: a PostgreSQL URL or a manifest
repository URL (``aiwatermark serve``). A SQLite path — including the default store —
would be a separate file on every machine, so it is refused unless
``allow_local_store=True`` (one machine, one file). Marked images are written to a folder,
or to any path a ``pyarrow.fs`` filesystem can write (``s3://bucket/marked``).

Requires ``pip install 'aiwatermark[ray]'``; ray is imported when a function is called, and
its absence is a :class:`~aiwatermark.MissingDependencyError`. Workers need aiwatermark
installed as well (on a cluster: ``runtime_env={"pip": ["aiwatermark"]}``).

Example:
    >>> import ray  # doctest: +SKIP
    >>> from aiwatermark.integrations import ray as aw_ray
    >>> ray.init()  # doctest: +SKIP
    >>> images = ray.data.read_binary_files("renders/", include_paths=True)  # doctest: +SKIP
    >>> marked = aw_ray.mark_dataset(images, "s3://bucket/marked",
    ...                              store="postgresql://db.internal/manifests")  # doctest: +SKIP
    >>> marked.filter(lambda row: row["error"] is not None).count()  # doctest: +SKIP
    0
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from .. import consent, imageio, keys, provenance
from .._pipeline import MARKABLE_FORMATS, mark, verify
from ..errors import (
    AiWatermarkError,
    InvalidArgumentError,
    MissingDependencyError,
    OutputExistsError,
    UnsupportedImageError,
)

if TYPE_CHECKING:
    import pyarrow
    import pyarrow.fs
    import ray.data
    from ray.data.dataset import MaterializedDataset

SHARED_STORE_SCHEMES = ("postgresql://", "postgres://", "http://", "https://")
"""Store URLs every Ray worker reaches: PostgreSQL and manifest repositories."""

DEFAULT_BATCH_SIZE = 8
"""Images per task: enough to amortise scheduling, few enough to keep every worker busy."""

_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError(
            f"the Ray integration needs Ray Data ({exc.name} is missing): "
            "pip install 'aiwatermark[ray]'"
        ) from None
    return ray


def _check_store(store: object, allow_local_store: bool) -> Any:
    """The store as something that pickles and means the same on every worker."""
    if store is False:
        return False
    if isinstance(store, (list, tuple)):
        return [_check_store(item, allow_local_store) for item in store]
    if isinstance(store, str) and store.startswith(SHARED_STORE_SCHEMES):
        return store
    if not (store is None or isinstance(store, (str, os.PathLike))):
        raise InvalidArgumentError(
            f"store= is a {type(store).__name__} object; every Ray worker opens the store "
            "itself, so pass its URL ('postgresql://...' or 'https://...') or False"
        )
    if allow_local_store and (store is None or isinstance(store, (str, os.PathLike))):
        from ..store import default_store_path

        # Resolved here: a worker's working directory and $AIWATERMARK_HOME are not ours.
        where = os.fspath(default_store_path() if store is None else store)
        return str(Path(where.removeprefix("sqlite:///")).absolute())
    what = "the default store (a local SQLite file)" if store is None else repr(store)
    raise InvalidArgumentError(
        f"store={what}: every Ray worker would use a SQLite file of its own machine, so "
        "manifests would be scattered and verify elsewhere would not find them; pass a "
        "shared store URL (store='postgresql://...' or a manifest repository "
        "'https://...'), store=False for none, or allow_local_store=True when every "
        "worker runs on this machine"
    )


def _source(row: dict[str, Any]) -> str | None:
    path = row.get("path")
    return None if path is None else str(path)


def _read(row: dict[str, Any], filesystem: pyarrow.fs.FileSystem | None) -> Any:
    """What to hand to mark/verify: the bytes, or a local path as the user would."""
    if row.get("bytes") is not None:
        return row["bytes"]
    path = _source(row)
    if path is None:
        raise InvalidArgumentError("the row has neither a 'bytes' nor a 'path' column")
    if filesystem is None and "://" not in path:
        return path
    import pyarrow.fs

    fs, where = (
        (filesystem, path) if filesystem is not None else pyarrow.fs.FileSystem.from_uri(path)
    )
    try:
        with fs.open_input_stream(where) as stream:
            return stream.read()
    except OSError as exc:
        raise UnsupportedImageError(f"{path!r}: cannot read ({exc})") from None


def _output_name(source: str | None, fmt: str, content_id: str | None) -> str:
    """The input's file name with the output format's suffix; the content ID without one."""
    if source is None:
        if content_id is None:
            raise InvalidArgumentError(
                "rows without a 'path' are named by their content ID; with watermark=False "
                "give every row a 'path'"
            )
        return content_id + _SUFFIX[fmt]
    name = PurePosixPath(source.rstrip("/")).name
    stem, suffix = os.path.splitext(name)
    return name if imageio.SUFFIX_FORMATS.get(suffix.lower()) == fmt else stem + _SUFFIX[fmt]


def _expected_format(source: str | None, format: str | None) -> str | None:
    """The format mark will choose, judged from the name (None: only the bytes can say)."""
    if format:
        return imageio.format_for("x", format)
    if source is None:
        return None
    known = imageio.SUFFIX_FORMATS.get(os.path.splitext(source)[1].lower())
    if known is None:
        return None
    return known if known in MARKABLE_FORMATS else "PNG"


class _Folder:
    """Where outputs go: a local folder (atomic, never replaced unless asked) or any
    pyarrow filesystem path (object stores write a whole object or nothing)."""

    def __init__(self, out: str, filesystem: pyarrow.fs.FileSystem | None) -> None:
        self.out = out
        self.filesystem = filesystem

    def _remote(self) -> tuple[pyarrow.fs.FileSystem, str] | None:
        if self.filesystem is not None:
            return self.filesystem, self.out
        if "://" not in self.out:
            return None
        import pyarrow.fs

        fs, base = pyarrow.fs.FileSystem.from_uri(self.out)
        return fs, base

    def path(self, name: str) -> str:
        remote = self._remote()
        if remote is None:
            return str(Path(self.out) / name)
        return f"{remote[1].rstrip('/')}/{name}"

    def exists(self, name: str) -> bool:
        remote = self._remote()
        if remote is None:
            return (Path(self.out) / name).exists()
        import pyarrow.fs

        return bool(remote[0].get_file_info(self.path(name)).type != pyarrow.fs.FileType.NotFound)

    def write(self, name: str, data: bytes, overwrite: bool) -> str:
        remote = self._remote()
        if remote is None:
            return str(imageio.write_atomic(data, Path(self.out) / name, overwrite=overwrite))
        fs, base = remote
        target = self.path(name)
        if not overwrite and self.exists(name):
            raise OutputExistsError(
                f"{target!r} already exists; choose another folder or pass overwrite=True"
            )
        try:
            fs.create_dir(base, recursive=True)
            with fs.open_output_stream(target) as stream:
                stream.write(data)
        except OSError as exc:
            raise OutputExistsError(f"{target!r}: write failed ({exc})") from None
        return target


MARK_COLUMNS = {
    "source": "string",
    "output": "string",
    "content_id": "string",
    "manifest_label": "string",
    "layers": "strings",
    "format": "string",
    "stored": "bool",
    "fingerprint": "string",
    "error": "string",
}
"""The columns of :func:`mark_dataset`'s result and their types."""

VERIFY_COLUMNS = {
    "source": "string",
    "ai_generated": "bool",
    "consistent": "bool",
    "tampered": "bool",
    "trusted": "bool",
    "content_id": "string",
    "headline": "string",
    "report": "string",
    "error": "string",
}
"""The columns of :func:`verify_dataset`'s result and their types."""


def _table(rows: list[dict[str, Any]], columns: dict[str, str]) -> pyarrow.Table:
    """Rows as a table with a fixed schema: a batch of only errors has the types of any
    other, so Ray can put the batches together."""
    import pyarrow as pa

    types = {"string": pa.string(), "bool": pa.bool_(), "strings": pa.list_(pa.string())}
    schema = pa.schema([(name, types[kind]) for name, kind in columns.items()])
    return pa.Table.from_pylist([{k: row.get(k) for k in columns} for row in rows], schema)


def _payload(row: dict[str, Any], column: str | None) -> bytes | None:
    if column is None:
        return None
    value = row.get(column)
    if value is None or isinstance(value, bytes):
        return value
    try:
        return bytes.fromhex(str(value))
    except ValueError:
        raise InvalidArgumentError(f"{column}={value!r} is neither bytes nor hex") from None


def _apply(
    table: pyarrow.Table, *, row_fn: Any, columns: dict[str, str], **kwargs: Any
) -> pyarrow.Table:
    """One map_batches task: ``row_fn`` on every row; an error is the row's result."""
    rows = []
    for row in table.to_pylist():
        out: dict[str, Any] = {"source": _source(row)}
        try:
            out.update(row_fn(row, **kwargs))
        except (AiWatermarkError, OSError) as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(out)
    return _table(rows, columns)


def _mark_row(
    row: dict[str, Any],
    *,
    folder: _Folder,
    options: dict[str, Any],
    payload_column: str | None,
    overwrite: bool,
    filesystem: pyarrow.fs.FileSystem | None,
) -> dict[str, Any]:
    source = _source(row)
    expected = _expected_format(source, options.get("format"))
    if expected is not None and not overwrite:
        # Checked before marking, so a re-run skips finished images in no time.
        name = _output_name(source, expected, None)
        if folder.exists(name):
            raise OutputExistsError(
                f"{folder.path(name)!r} already exists; choose another folder or pass "
                "overwrite=True"
            )
    result = mark(_read(row, filesystem), payload=_payload(row, payload_column), **options)
    assert result.data is not None
    name = _output_name(source, result.format, result.content_id)
    return {**result.to_dict(), "output": folder.write(name, result.data, overwrite)}


def _verify_row(
    row: dict[str, Any],
    *,
    options: dict[str, Any],
    filesystem: pyarrow.fs.FileSystem | None,
) -> dict[str, Any]:
    source = _source(row)
    report = verify(_read(row, filesystem), **options)
    if source is not None:
        report = dataclasses.replace(report, source=source)
    return {
        "ai_generated": report.ai_generated,
        "consistent": report.consistent,
        "tampered": report.tampered,
        "trusted": report.trusted,
        "content_id": report.content_id,
        "headline": report.headline,
        "report": json.dumps(report.to_dict(), sort_keys=True),
    }


def _check_dataset(ds: object) -> None:
    ray = _ray()
    if not isinstance(ds, ray.data.Dataset):
        raise InvalidArgumentError(
            f"expected a ray.data.Dataset, not {type(ds).__name__}; e.g. "
            "ray.data.read_binary_files(paths, include_paths=True)"
        )
    names = set(ds.schema().names)
    if not names & {"bytes", "path"}:
        raise InvalidArgumentError(
            f"the dataset has columns {sorted(names)}; it needs 'bytes' (image file bytes) "
            "or 'path' (a path or URL each worker can read)"
        )


def mark_dataset(
    ds: ray.data.Dataset,
    out: str | os.PathLike[str],
    *,
    store: str | Literal[False] | None = None,
    allow_local_store: bool = False,
    label: str | None = "AI-generated",
    watermark: bool = True,
    payload_column: str | None = None,
    key: str | bytes | None = None,
    signer: keys.Signer | bool | None = None,
    generator: str | None = None,
    likeness: consent.Use | None = None,
    consent_override: str | None = None,
    format: str | None = None,
    overwrite: bool = False,
    filesystem: pyarrow.fs.FileSystem | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int | None = None,
) -> MaterializedDataset:
    """Mark every image of ``ds`` with :func:`aiwatermark.mark` on Ray and write it to ``out``.

    The marking arguments mean what they mean for :func:`aiwatermark.mark`; ``store`` must be
    shared (see the module's documentation). ``out`` is a folder or a filesystem URL
    (``filesystem=`` a ``pyarrow.fs.FileSystem`` for one with credentials); each output keeps
    its input's file name (the suffix follows the output format; two inputs of one name in
    different folders collide, and the second is an error), and rows without a path are
    named by their content ID. Existing outputs are never replaced unless
    ``overwrite=True``: a re-run after an interruption reports them as errors and marks the
    rest. ``payload_column`` names a column of content IDs (bytes or hex) assigned upstream.
    ``signer=None`` is the development identity of this machine, sent to every worker.
    ``concurrency`` caps the tasks running at once (default: every CPU Ray has).

    The work runs when this is called (the result is materialized), so writing and
    registration happen once. The result has one row per image: ``source``, ``output``,
    ``content_id``, ``manifest_label``, ``layers``, ``format``, ``stored``, ``fingerprint``
    and ``error`` (None, or the exception's type and message).

    Raises:
        aiwatermark.MissingDependencyError: Ray Data is not installed.
        aiwatermark.InvalidArgumentError: ``ds`` has no image column, or the store is local.

    Example:
        >>> import ray  # doctest: +SKIP
        >>> from aiwatermark.integrations.ray import mark_dataset
        >>> ds = ray.data.read_binary_files("renders/", include_paths=True)  # doctest: +SKIP
        >>> mark_dataset(ds, "marked/", store="https://repo.example").take(1)[0]["error"]
        ... # doctest: +SKIP
    """
    _check_dataset(ds)
    shared = _check_store(store, allow_local_store) if signer is not False else False
    if isinstance(shared, list):
        raise InvalidArgumentError("mark registers in one store; pass one URL, not a list")
    if signer is None or signer is True:
        signer = keys.dev_signer()  # one identity for all workers, not one per machine
    out_text = os.fspath(out)
    if filesystem is None and "://" not in out_text:
        out_text = str(Path(out_text).absolute())
    options = {
        "label": label,
        "watermark": watermark,
        "key": key,
        "signer": signer,
        "generator": generator,
        "likeness": likeness,
        "consent_override": consent_override,
        "format": format,
        "store": shared,
    }
    return _run(
        ds,
        {
            "row_fn": _mark_row,
            "columns": MARK_COLUMNS,
            "folder": _Folder(out_text, filesystem),
            "options": options,
            "payload_column": payload_column,
            "overwrite": overwrite,
            "filesystem": filesystem,
        },
        batch_size,
        concurrency,
    )


def verify_dataset(
    ds: ray.data.Dataset,
    *,
    store: str | Sequence[str] | Literal[False] | None = None,
    allow_local_store: bool = False,
    key: str | bytes | None = None,
    trust_anchors: provenance.TrustAnchors | None = None,
    label: str = "AI-generated",
    filesystem: pyarrow.fs.FileSystem | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int | None = None,
) -> MaterializedDataset:
    """Verify every image of ``ds`` with :func:`aiwatermark.verify` on Ray.

    The arguments mean what they mean for :func:`aiwatermark.verify`; ``store`` is a shared
    store URL, a list of them, or False (see the module's documentation). ``trust_anchors``
    are read here and sent to the workers. The result has one row per image: ``source``,
    ``ai_generated``, ``consistent``, ``tampered``, ``trusted``, ``content_id``,
    ``headline``, ``report`` (the full :meth:`~aiwatermark.VerificationReport.to_dict` as
    JSON, exactly what one process would report) and ``error``.

    Raises:
        aiwatermark.MissingDependencyError: Ray Data is not installed.
        aiwatermark.InvalidArgumentError: ``ds`` has no image column, or the store is local.
        aiwatermark.KeyFileError: ``trust_anchors`` cannot be read.

    Example:
        >>> import ray  # doctest: +SKIP
        >>> from aiwatermark.integrations.ray import verify_dataset
        >>> ds = ray.data.read_binary_files("uploads/", include_paths=True)  # doctest: +SKIP
        >>> verify_dataset(ds, store="https://repo.example").filter(
        ...     lambda row: row["ai_generated"]).count()  # doctest: +SKIP
        42
    """
    _check_dataset(ds)
    options = {
        "key": key,
        "trust_anchors": provenance.load_trust_anchors(trust_anchors),
        "store": _check_store(store, allow_local_store),
        "label": label,
    }
    return _run(
        ds,
        {
            "row_fn": _verify_row,
            "columns": VERIFY_COLUMNS,
            "options": options,
            "filesystem": filesystem,
        },
        batch_size,
        concurrency,
    )


def _run(
    ds: ray.data.Dataset,
    fn_kwargs: dict[str, Any],
    batch_size: int,
    concurrency: int | None,
) -> MaterializedDataset:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive number, not {batch_size!r}")
    mapped = ds.map_batches(
        _apply,
        batch_format="pyarrow",
        batch_size=batch_size,
        fn_kwargs=fn_kwargs,
        concurrency=concurrency,
        num_cpus=1,
    )
    # Results in the input's order, so row i answers for image i. A Dataset executes with
    # the context it was made with (shared with the caller's dataset): restored after.
    options = mapped.context.execution_options
    preserve_order = options.preserve_order
    options.preserve_order = True
    try:
        return mapped.materialize()
    finally:
        options.preserve_order = preserve_order


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MARK_COLUMNS",
    "SHARED_STORE_SCHEMES",
    "VERIFY_COLUMNS",
    "mark_dataset",
    "verify_dataset",
]
