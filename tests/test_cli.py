"""The ``aiwatermark`` command: batches, failures, exit codes, JSON output, demo, keys."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from aiwatermark.cli import main
from commands import run_aiwatermark


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIWATERMARK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIWATERMARK_KEY", raising=False)


def _batch(folder: Path, photo: Image.Image, count: int, corrupt: set[int]) -> list[Path]:
    """``count`` small real photos (crops of one photograph), some of them corrupt."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i:03d}.{'png' if i % 5 == 0 else 'jpg'}"
        if i in corrupt:
            good = folder / "tmp.jpg"
            photo.save(good, quality=90)
            path = path.with_suffix(".jpg")
            path.write_bytes(good.read_bytes()[: 600 + i])  # truncated mid-scan
            good.unlink()
        else:
            x, y = (i * 7) % 256, (i * 13) % 256
            photo.crop((x, y, x + 256, y + 256)).save(path)
        paths.append(path)
    return paths


def _digests(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_mark_one_file_then_verify(
    photo_paths: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "marked.jpg"
    assert main(["mark", str(photo_paths[0]), "-o", str(out), "--generator", "SDXL 1.0"]) == 0
    marked = capsys.readouterr().out
    assert "content-id=" in marked and "label+watermark+disclosure+c2pa" in marked

    assert main(["verify", str(out)]) == 0
    text = capsys.readouterr().out
    assert "verdict: AI-generated" in text and "generator SDXL 1.0" in text

    assert main(["verify", str(out), "--json", "--require-disclosure"]) == 0
    line = capsys.readouterr().out.strip()
    record = json.loads(line)
    assert record["file"] == str(out) and record["ai_generated"] is True
    assert record["consistent"] is True and record["tampered"] is False
    assert set(record["layers"]) == {
        "provenance",
        "watermark",
        "fingerprint",
        "label",
        "disclosure",
    }


def test_batch_with_corrupt_files_lists_every_failure(
    photo: Image.Image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = {3, 11, 26}
    inputs = _batch(tmp_path / "in", photo, 30, corrupt)
    before = _digests(inputs)

    status = main(["mark", str(tmp_path / "in"), "--out-dir", str(tmp_path / "out")])

    captured = capsys.readouterr()
    assert status == 3
    assert "marked 27 of 30" in captured.err and "3 failed" in captured.err
    failed_lines = [line for line in captured.err.splitlines() if line.startswith("  ")]
    assert sorted(Path(line.split(":")[0].strip()).name for line in failed_lines) == sorted(
        inputs[i].name for i in corrupt
    )
    assert "Traceback" not in captured.err
    assert len(list((tmp_path / "out").iterdir())) == 27
    assert captured.out.count("content-id=") == 27
    assert _digests(inputs) == before  # inputs untouched

    # The JSON verify of the whole batch: one object per file, errors included.
    status = main(["verify", str(tmp_path / "out"), str(inputs[3]), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 3 and len(records) == 28
    assert all(r["ai_generated"] for r in records[:27])
    assert "error" in records[27]


def test_parallel_jobs_and_globs(
    photo: Image.Image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _batch(tmp_path / "in", photo, 6, {4})
    pattern = str(tmp_path / "in" / "*.jpg")
    status = main(["mark", pattern, "--out-dir", str(tmp_path / "out"), "--jobs", "2"])
    captured = capsys.readouterr()
    assert status == 3 and "img004.jpg" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "img001.jpg",
        "img002.jpg",
        "img003.jpg",
    ]
    assert main(["verify", str(tmp_path / "out"), "--require-disclosure"]) == 0


def test_existing_outputs_fail_unless_overwrite(
    photo_paths: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.png"
    assert main(["mark", str(photo_paths[1]), "-o", str(out)]) == 0
    assert main(["mark", str(photo_paths[1]), "-o", str(out)]) == 3
    assert "already exists" in capsys.readouterr().err
    assert main(["mark", str(photo_paths[1]), "-o", str(out), "--overwrite"]) == 0


def test_layer_switches_and_custom_label(
    photo_paths: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plain.jpg"
    args = ["mark", str(photo_paths[0]), "-o", str(out), "--no-label", "--no-watermark"]
    assert main([*args, "--no-c2pa"]) == 0
    assert "layers=disclosure" in capsys.readouterr().out

    assert (
        main(
            [
                "mark",
                str(photo_paths[0]),
                "-o",
                str(tmp_path / "de.jpg"),
                "--label",
                "KI-generiert",
                "--key",
                "s3cret",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "de.jpg"), "--json", "--key", "s3cret"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["consistent"] is True  # watermark read with the right key

    assert main(["mark", str(photo_paths[0]), "-o", str(tmp_path / "x.jpg"), "--label", ""]) == 2
    assert "--label" in capsys.readouterr().err


def test_require_disclosure_fails_on_unmarked_files(
    photo_paths: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(photo_paths[2])]) == 0
    assert main(["verify", str(photo_paths[2]), "--require-disclosure"]) == 1
    err = capsys.readouterr().err
    assert "chelsea.webp" in err and "no AI disclosure" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mark", "a.jpg", "b.jpg", "-o", "x.jpg"], "one INPUT"),
        (["mark", "a.jpg", "-o", "x.jpg", "--cert", "c.pem"], "--private-key"),
        (["mark", "a.jpg"], "required"),
        (["frobnicate"], "invalid choice"),
        (["mark", "a.jpg", "-o", "x.jpg", "--licensee", "Brand"], "add --likeness"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_inputs_are_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "mark",
            str(tmp_path / "nope.jpg"),
            str(tmp_path / "*.png"),
            "--out-dir",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 3 and "Traceback" not in err
    assert "nope.jpg: no such file" in err and "no files match" in err

    assert main(["verify", str(tmp_path / "nope.jpg")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.jpg" in err


def test_bad_certificate_is_one_error(
    photo_paths: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    key.chmod(0o600)
    status = main(
        [
            "mark",
            str(photo_paths[0]),
            "-o",
            str(tmp_path / "o.jpg"),
            "--cert",
            str(cert),
            "--private-key",
            str(key),
        ]
    )
    err = capsys.readouterr().err
    assert status == 3 and err.count("\n") == 1
    assert "cert.pem" in err or "key.pem" in err


def test_keys_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "init"]) == 0
    out = capsys.readouterr().out
    assert "created" in out and str(tmp_path / "home") in out
    assert main(["keys", "init"]) == 0
    assert "already exists" in capsys.readouterr().out
    assert main(["keys", "init", "--force"]) == 0
    assert "created" in capsys.readouterr().out


def test_demo_finds_the_shared_copy_via_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "demo"
    assert main(["demo", "--out-dir", str(out_dir)]) == 0
    text = capsys.readouterr().out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "sample-marked.jpg",
        "sample-original.jpg",
        "sample-shared.jpg",
    ]
    shared_part = text.split("Verify sample-shared.jpg")[1]
    assert "verdict: AI-generated" in shared_part
    assert "recovered from the manifest store via the watermark" in shared_part
    assert main(["demo", "--out-dir", str(out_dir)]) == 0  # re-runnable


def test_module_entry_point_and_help(tmp_path: Path) -> None:
    env = {**os.environ, "AIWATERMARK_HOME": str(tmp_path / "home")}
    for argv in ([], ["mark"], ["verify"], ["keys"], ["keys", "init"], ["demo"]):
        done = subprocess.run(
            [sys.executable, "-m", "aiwatermark", *argv, "--help"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "examples:" in done.stdout and "usage: aiwatermark" in done.stdout


@pytest.mark.slow
def test_batch_of_hundreds(
    photo: Image.Image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = set(range(7, 300, 37))
    inputs = _batch(tmp_path / "in", photo, 300, corrupt)
    status = main(["mark", str(tmp_path / "in"), "--out-dir", str(tmp_path / "out"), "-j", "2"])
    err = capsys.readouterr().err
    assert status == 3 and f"{len(corrupt)} failed" in err
    for i in corrupt:
        assert inputs[i].name in err
    assert len(list((tmp_path / "out").iterdir())) == 300 - len(corrupt)


def _piped(command: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``aiwatermark <command> | head -1`` in bash; stdout is head's, the last stderr line
    is aiwatermark's own exit status."""
    script = (
        f'{sys.executable} -m aiwatermark {command} | head -1; echo "exit=${{PIPESTATUS[0]}}" >&2'
    )
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "AIWATERMARK_HOME": str(tmp_path / "home")},
        cwd=Path(__file__).resolve().parent.parent,
        timeout=300,
        check=False,
    )


def test_a_closed_pipe_ends_verify_quietly(tmp_path: Path) -> None:
    done = _piped("verify fixtures/ --json", tmp_path)
    assert len(done.stdout.splitlines()) == 1 and json.loads(done.stdout)["file"]
    assert "Error" not in done.stderr and "unexpected" not in done.stderr
    assert done.stderr.strip().endswith("exit=141")  # what a Unix tool killed by SIGPIPE says


def test_a_closed_pipe_never_stops_a_batch(photo: Image.Image, tmp_path: Path) -> None:
    _batch(tmp_path / "in", photo, 4, set())
    done = _piped(f"mark {tmp_path / 'in'} --out-dir {tmp_path / 'out'} --no-c2pa", tmp_path)
    assert "content-id=" in done.stdout and "unexpected" not in done.stderr
    assert "marked 4 of 4" in done.stderr and done.stderr.strip().endswith("exit=0")
    assert len(list((tmp_path / "out").iterdir())) == 4


def test_verify_looks_for_the_label_it_is_told(
    photo_paths: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "marked.jpg"
    assert main(["mark", str(photo_paths[0]), "-o", str(out), "--label", "KI-generiert"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--json", "--label", "KI-generiert"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"]["label"]["found"] is True
    assert main(["verify", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"]["label"]["found"] is False


def test_an_empty_label_is_an_error_not_a_silent_skip(photo_paths: list[Path]) -> None:
    import aiwatermark

    with pytest.raises(aiwatermark.InvalidArgumentError, match="empty"):
        aiwatermark.mark(photo_paths[0], label="", store=False, signer=False)
    public = {name for name in dir(aiwatermark) if not name.startswith("_")}
    assert not public & {"annotations", "version", "PackageNotFoundError"}


def test_verify_jobs_over_a_folder_keeps_the_order_and_the_exit_codes(
    photo: Image.Image,
    photo_paths: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inputs = _batch(tmp_path / "in", photo, 5, {2})
    assert main(["mark", str(tmp_path / "in"), "--out-dir", str(tmp_path / "out"), "-j", "2"]) == 3
    marked = sorted((tmp_path / "out").iterdir())
    (tmp_path / "out" / "broken.jpg").write_bytes(inputs[2].read_bytes())
    capsys.readouterr()

    assert main(["verify", str(tmp_path / "out"), "--json"]) == 3  # broken.jpg is unreadable
    serial = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["verify", str(tmp_path / "out"), "--json", "--jobs", "2"]) == 3
    parallel = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in parallel] == sorted(r["file"] for r in parallel)  # input order
    assert [(r["file"], r.get("ai_generated")) for r in parallel] == [
        (r["file"], r.get("ai_generated")) for r in serial
    ]
    assert [r["file"] for r in parallel if "error" in r] == [str(tmp_path / "out" / "broken.jpg")]

    assert main(["verify", *map(str, marked), "-j", "2", "--require-disclosure"]) == 0
    # Not the inputs: the store recovers their marked copies' credentials by fingerprint.
    unmarked = ["verify", str(marked[0]), str(photo_paths[1]), "-j", "2", "--require-disclosure"]
    assert main(unmarked) == 1  # a checked condition, not a failure
    assert main([*unmarked[:3], str(tmp_path / "nope.jpg"), *unmarked[3:]]) == 3  # wins over 1
    assert main(["verify", str(marked[0]), "--jobs", "-1"]) == 2


def test_skip_existing_resumes_and_refuses_overwrite(
    photo: Image.Image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _batch(tmp_path / "in", photo, 3, set())
    out = tmp_path / "out"
    args = ["mark", str(tmp_path / "in"), "--out-dir", str(out), "--no-c2pa"]
    assert main([*args, "--skip-existing", "--overwrite"]) == 2
    (out / "img000.png").parent.mkdir()
    assert main(["mark", str(tmp_path / "in" / "img000.png"), "-o", str(out / "img000.png")]) == 0
    first = _digests([out / "img000.png"])
    capsys.readouterr()
    assert main(args) == 3  # the existing output is an error without --skip-existing
    assert main([*args, "--skip-existing"]) == 0
    captured = capsys.readouterr()
    assert "marked 0 of 3" in captured.err and "3 skipped" in captured.err
    assert _digests([out / "img000.png"]) == first


def test_help_documents_the_exit_statuses() -> None:
    for argv in (["--help"], ["mark", "--help"], ["verify", "--help"]):
        done = subprocess.run(
            [sys.executable, "-m", "aiwatermark", *argv],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "exit status" in done.stdout and "3    some inputs" in done.stdout


def test_progress_bar_on_a_terminal_only(photo: Image.Image, tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    _batch(tmp_path / "in", photo, 4, set())
    env = {**os.environ, "AIWATERMARK_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "aiwatermark", "verify", str(tmp_path / "in"), "-j", "2"]
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=terminal, env=env) as process:
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            drawn += chunk
    os.close(controller)
    assert process.returncode == 0
    text = drawn.decode(errors="replace")
    assert "4/4" in text and ("image/s" in text or "s/image" in text)  # count and rate
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", text)  # elapsed<remaining: the ETA

    piped = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert piped.returncode == 0 and piped.stderr == ""


def test_ctrl_c_keeps_every_output_whole_and_skip_existing_finishes(tmp_path: Path) -> None:
    import signal
    import time

    import skimage

    from aiwatermark import verify

    names = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]
    data = Path(skimage.__file__).parent / "data"
    (tmp_path / "in").mkdir()
    for i in range(20):
        with Image.open(data / names[i % 5]) as im:
            image = im.convert("RGB")
        x = 12 * (i // 5)
        image.crop((x, x, x + 320, x + 288)).save(tmp_path / "in" / f"img{i:02d}.jpg")
    out = tmp_path / "out"
    env = {**os.environ, "AIWATERMARK_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "aiwatermark", "mark", str(tmp_path / "in")]
    command += ["--out-dir", str(out), "--jobs", "2"]

    # Its own session, so the SIGINT reaches the workers too, as a terminal's Ctrl-C does.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir())):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    interrupted_at = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert time.monotonic() - interrupted_at < 30  # prompt: only the running images finish
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "--skip-existing" in stderr

    reported = {Path(line.split("  ")[0]) for line in stdout.splitlines()}
    written = set(out.iterdir())
    assert written == reported and 0 < len(written) < 20
    for path in written:
        report = verify(path, store=False)
        assert report.ai_generated is True and report.tampered is False

    resumed = subprocess.run(
        [*command, "--skip-existing"], capture_output=True, text=True, env=env, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    resumed_paths = {Path(line.split("  ")[0]) for line in resumed.stdout.splitlines()}
    assert not resumed_paths & written  # nothing marked twice
    final = set(out.iterdir())
    assert {p.name for p in final} == {p.name for p in (tmp_path / "in").iterdir()}
    assert final == written | resumed_paths


def test_ctrl_c_while_the_workers_start_is_quiet(photo: Image.Image, tmp_path: Path) -> None:
    import signal
    import time

    _batch(tmp_path / "in", photo, 6, set())
    home = tmp_path / "home"
    command = [sys.executable, "-m", "aiwatermark", "mark", str(tmp_path / "in")]
    command += ["--out-dir", str(tmp_path / "out"), "--jobs", "2"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AIWATERMARK_HOME": str(home)},
        start_new_session=True,
    )
    # mark_many creates the development identity just before it starts the pool.
    deadline = time.monotonic() + 120
    while not (home / "dev-identity").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    written = set((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else set()
    assert written == {Path(line.split("  ")[0]) for line in stdout.splitlines()}


def test_dash_reads_stdin_and_writes_stdout(tmp_path: Path, photo_paths: list[Path]) -> None:
    photo = photo_paths[0].read_bytes()
    piped = run_aiwatermark(tmp_path, "mark", "-", "-o", "-", "--format", "png", stdin=photo)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith(b"\x89PNG\r\n\x1a\n")  # only the image on stdout
    assert b"to stdout (PNG" in piped.stderr
    same_format = run_aiwatermark(tmp_path, "mark", str(photo_paths[0]), "-o", "-")
    assert same_format.stdout.startswith(b"\xff\xd8\xff")  # sniffed: the input's JPEG

    checked = run_aiwatermark(tmp_path, "verify", "-", "--json", stdin=piped.stdout)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["file"] == "-" and report["ai_generated"] is True

    written = run_aiwatermark(tmp_path, "mark", "-", "-o", str(tmp_path / "x.webp"), stdin=photo)
    assert written.returncode == 0 and (tmp_path / "x.webp").read_bytes()[8:12] == b"WEBP"
    both = run_aiwatermark(tmp_path, "mark", "-", "-o", "-", "--json", stdin=photo)
    assert both.returncode == 2 and b"--json" in both.stderr
    nameless = run_aiwatermark(tmp_path, "mark", "-", "--out-dir", str(tmp_path / "d"), stdin=photo)
    assert nameless.returncode == 2 and b"-o OUTPUT" in nameless.stderr
    empty = run_aiwatermark(tmp_path, "verify", "-", stdin=b"")
    assert empty.returncode == 2 and b"stdin is empty" in empty.stderr
