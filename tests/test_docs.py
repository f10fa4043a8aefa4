"""The documentation's code runs: every ```python and ```sh block of README.md and docs/.

One test per block, named by its page and line. A page runs once, top to bottom, the first
time one of its blocks is asked for (later blocks build on earlier ones, as for a reader);
the runner is tests/docblocks.py, the rules for writers are in docs/writing.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docblocks import (
    HIDDEN,
    MARKER,
    ROOT,
    RUN,
    Block,
    Outcome,
    PageError,
    pages,
    parse,
    read_page,
    run_page,
)

_PAGES = {path.relative_to(ROOT).as_posix(): read_page(path) for path in pages()}
_BLOCKS = [block for blocks in _PAGES.values() for block in blocks if block.lang in RUN]
_RESULTS: dict[str, dict[str, Outcome]] = {}


def _outcomes(page: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    if page not in _RESULTS:
        workdir = tmp_path_factory.mktemp(re.sub(r"\W", "-", page))
        outcomes = run_page(_PAGES[page], workdir)
        _RESULTS[page] = {outcome.where: outcome for outcome in outcomes}
    return _RESULTS[page]


@pytest.mark.parametrize("block", _BLOCKS, ids=[block.where for block in _BLOCKS])
def test_block_runs(block: Block, tmp_path_factory: pytest.TempPathFactory) -> None:
    if block.not_run:
        pytest.skip(f"{block.where}: not run — {block.not_run}")
    outcome = _outcomes(block.page, tmp_path_factory)[block.where]
    if outcome.status == "not reached":
        pytest.skip(f"{block.where}: not reached, an earlier block of {block.page} failed")
    if outcome.status != "passed":
        pytest.fail(
            f"{block.where}: the ```{block.lang} block {outcome.status}; its output:\n"
            f"{outcome.output}",
            pytrace=False,
        )


# --- the pages hide no code from the runner -------------------------------------------------


_LOOSE_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*\{?\.?([\w+-]*)")


@pytest.mark.parametrize("page", list(_PAGES))
def test_every_fence_names_a_language_the_runner_knows(page: str) -> None:
    """An unnamed fence or ```py, ```console, ```shell ... would be code nobody runs."""
    for block in _PAGES[page]:
        assert block.lang, (
            f"{block.where}: name the block's language: ```python or ```sh to run it, "
            "```text (or ```json ...) for a listing of output, a signature or a diagram"
        )
        assert block.lang not in HIDDEN, (
            f"{block.where}: ```{block.lang} would not run; write ```python or ```sh "
            "(with a '<!-- docs-test: not run — why -->' marker if it cannot run in a test)"
        )


@pytest.mark.parametrize("page", list(_PAGES))
def test_the_runner_sees_every_fence(page: str) -> None:
    """A fence the parser missed (odd indentation, nesting) would hide its code from it."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    seen: set[int] = set()
    for block in _PAGES[page]:
        # The opening fence, the code and the closing fence.
        seen.update(range(block.line, block.line + block.code.count("\n") + 2))
    for number, line in enumerate(lines, start=1):
        if _LOOSE_FENCE.match(line):
            assert number in seen, f"{page}:{number}: a fence the runner did not see"


@pytest.mark.parametrize("page", list(_PAGES))
def test_every_marker_gives_its_reason(page: str) -> None:
    for number, line in enumerate((ROOT / page).read_text(encoding="utf-8").splitlines(), 1):
        if "docs-test" in line:
            match = MARKER.search(line)
            assert match and len(match.group("reason").split()) >= 3, (
                f"{page}:{number}: a not-run marker says why the block cannot run in a test"
            )


def test_the_checks_catch_what_they_are_for() -> None:
    """The parser refuses the mistakes the checks above rely on it to refuse."""
    for text, complaint in [
        ("<!-- docs-test: not run -->\n```sh\nx\n```\n", "write the marker"),
        ("<!-- docs-test: not run — why not -->\n\nprose\n```sh\nx\n```\n", "no block"),
        ("<!-- docs-test: not run — a reason -->\n```text\nx\n```\n", "does not run anyway"),
        ("```python\nx = 1\n", "never closed"),
    ]:
        with pytest.raises(PageError, match=complaint):
            parse(text, "page.md")
    listed = parse("- item\n\n  ```python\n  x = 1\n  ```\n~~~sh\necho\n~~~\n", "page.md")
    assert [(b.line, b.lang, b.code) for b in listed] == [
        (3, "python", "x = 1\n"),
        (6, "sh", "echo\n"),
    ]


def test_a_failing_block_is_reported_with_its_line_and_output(tmp_path: Path) -> None:
    """A real run: Python blocks share a namespace, sh stops at the first failing command."""
    page = (
        "# A page\n\n```python\nanswer = 42\nprint('from python')\n```\n\n"
        "<!-- docs-test: not run — needs a network connection -->\n```sh\ncurl example.com\n```\n\n"
        "```python\nassert answer == 42\nopen('made-here.txt', 'w').write('x')\n```\n\n"
        '```sh\ntest -f made-here.txt\necho "home=$AIWATERMARK_HOME"\nfalse\necho after\n```\n\n'
        "```python\nprint('never')\n```\n"
    )
    outcomes = run_page(parse(page, "page.md"), tmp_path)
    assert [(o.where, o.status) for o in outcomes] == [
        ("page.md:3", "passed"),
        ("page.md:9", "not run"),
        ("page.md:13", "passed"),
        ("page.md:18", "failed"),
        ("page.md:25", "not reached"),
    ]
    assert outcomes[0].output == "from python\n"
    failed = outcomes[3].output
    assert f"home={tmp_path / 'home'}" in failed
    assert "+ page.md:21: false" in failed
    assert "after" not in failed
