"""Outputs whole or absent, one run per folder, formula-safe CSV (issue 16, points 1 and 7)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from subsidy_engine.errors import OutputBusyError
from subsidy_engine.reports import outputs
from subsidy_engine.reports.outputs import FORMULA_STARTS, MANIFEST_NAME, OutputFolder, csv_safe
from subsidy_engine.service.cli import main

from workbooks import people_portfolio

ROOT = Path(__file__).parents[2]


def _complete(folder: Path) -> list[str]:
    """The files of the folder's last run, each checked against its manifest; fails on any mix."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        data = (folder / entry["file"]).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".partial-")]
    return sorted(e["file"] for e in manifest["files"])


def test_a_failed_run_leaves_the_last_complete_one(tmp_path) -> None:
    with OutputFolder(tmp_path) as run:
        run.path("a.txt").write_text("first")
        run.path("b.txt").write_text("first")
    with pytest.raises(RuntimeError), OutputFolder(tmp_path) as run:
        run.path("a.txt").write_text("second")
        raise RuntimeError("killed while writing b")
    assert (tmp_path / "a.txt").read_text() == "first" and _complete(tmp_path) == ["a.txt", "b.txt"]
    assert not (tmp_path / ".subsidy-engine.lock").exists()
    with OutputFolder(tmp_path) as run:  # a later run replaces the set, the old b included
        run.path("a.txt").write_text("third")
    assert _complete(tmp_path) == ["a.txt"] and not (tmp_path / "b.txt").exists()


def test_a_folder_in_use_by_a_live_run_is_refused_and_a_dead_run_s_lock_is_taken(tmp_path, capsys) -> None:
    holding = ("import fcntl, os, sys, time; h = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR); "
               "fcntl.flock(h, fcntl.LOCK_EX); os.write(h, str(os.getpid()).encode()); print(flush=True); "
               "time.sleep(60)")
    writer = subprocess.Popen([sys.executable, "-c", holding, str(tmp_path / ".subsidy-engine.lock")],
                              stdout=subprocess.PIPE)
    try:
        writer.stdout.readline()  # it holds the lock
        assert main(["simulate", "--projects", "50", "--out", str(tmp_path), "--quiet"]) == 2
        assert f"another run is writing here (process {writer.pid})" in capsys.readouterr().err
    finally:
        writer.kill()
        writer.wait()
    assert (tmp_path / ".subsidy-engine.lock").exists()  # left behind by the killed run, holding nothing
    assert main(["simulate", "--projects", "50", "--out", str(tmp_path), "--quiet"]) == 0
    assert "summary.json" in _complete(tmp_path)


def _simulate_command(out: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "subsidy_engine.service.cli", "simulate", "--projects", "300", "--seed", str(seed),
            "--out", str(out), "--quiet"]


ENV = dict(os.environ, PYTHONPATH=str(ROOT / "src"))


def _signal_while_writing(run: subprocess.Popen[bytes], out: Path, files: int, signum: int) -> bool:
    """Send ``signum`` to ``run`` once its staging folder in ``out`` (there only while it writes) holds at least
    ``files`` files, looking every 2 ms; False if the run ended first."""
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline:
        try:
            staging = [e.path for e in os.scandir(out) if e.name.startswith(".partial-")]
            if staging and len(os.listdir(staging[0])) >= files:
                run.send_signal(signum)
                return True
        except FileNotFoundError:  # the folder or the staging folder not there (yet, or any more)
            pass
        time.sleep(0.002)
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_run_killed_while_it_writes_leaves_the_last_complete_outputs(tmp_path, signum, capsys) -> None:
    """issue 16, row 5 (review): the signal was sent at fractions of an earlier run's time, so nothing made it
    land while the run wrote, and a run that finished first passed too. It is now sent when the run's staging
    folder appears (it is there only while the run writes) and when it holds 1, 2 and 3 files; the folder always
    holds one complete run, and most kills must land in the writing: exit 130, the last run's manifest kept."""
    out = tmp_path / "out"
    subprocess.run(_simulate_command(out, 1), check=True, env=ENV, timeout=300)
    moments = (0, 1, 2, 3)
    landed = 0
    for trial, files in enumerate(moments):
        before = (out / MANIFEST_NAME).read_bytes()
        run = subprocess.Popen(_simulate_command(out, 2 + trial), env=ENV, stderr=subprocess.PIPE)  # new content
        signalled = _signal_while_writing(run, out, files, signum)
        _, err = run.communicate(timeout=300)
        assert b"Traceback" not in err, err
        _complete(out)
        assert not (out / ".subsidy-engine.lock").exists()
        if signalled and run.returncode == 130 and (out / MANIFEST_NAME).read_bytes() == before:
            landed += 1
        else:  # finished (or committed) before the signal: its own set is whole
            assert run.returncode in (0, 130) and (out / MANIFEST_NAME).read_bytes() != before
    with capsys.disabled():
        print(f"\n{signal.Signals(signum).name}: {landed} of {len(moments)} kills landed while the run wrote")
    assert landed >= len(moments) - 1


def test_a_run_killed_outright_leaves_its_staging_folder_which_the_next_run_removes(tmp_path) -> None:
    """issue 16, row 5 (review): a run killed with SIGKILL (no handler runs) leaves ``.partial-<pid>``; no later
    run removed it. The next run, holding the lock (so no live run owns one), removes every staging folder."""
    out = tmp_path / "out"
    run = subprocess.Popen(_simulate_command(out, 1), env=ENV)
    assert _signal_while_writing(run, out, 1, signal.SIGKILL)
    run.wait(60)
    assert [p.name for p in out.iterdir() if p.name.startswith(".partial-")] == [f".partial-{run.pid}"]
    (out / ".partial-99999").mkdir()
    (out / ".partial-99999" / "report.xlsx").write_text("half")
    (out / ".partial-1").write_text("a file, not a folder")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the run's")
    (out / ".partial-2").symlink_to(outside, target_is_directory=True)
    with OutputFolder(out) as writer:
        writer.path("a.txt").write_text("x")
    assert _complete(out) == ["a.txt"]  # no staging folder left
    assert (outside / "keep.txt").read_text() == "not the run's"  # a link is removed, not followed


@pytest.mark.parametrize("kind", ["symlink", "dangling symlink", "hard link", "fifo", "folder"])
def test_a_lock_file_that_is_not_a_plain_file_of_its_own_is_refused_and_nothing_written_through_it(
        tmp_path, capsys, kind) -> None:
    """issue 16, row 5 (review): the lock was opened following links, then truncated and written: a
    ``.subsidy-engine.lock`` linking to another file had that file overwritten with the process id."""
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious")
    lock = out / ".subsidy-engine.lock"
    if kind == "symlink":
        lock.symlink_to(victim)
    elif kind == "dangling symlink":
        lock.symlink_to(tmp_path / "created.txt")
    elif kind == "hard link":
        os.link(victim, lock)
    elif kind == "fifo":
        os.mkfifo(lock)
    else:
        lock.mkdir()
    with pytest.raises(OSError, match="is not a plain file"), OutputFolder(out) as run:
        run.path("a.txt").write_text("x")
    assert victim.read_text() == "precious" and not (tmp_path / "created.txt").exists()
    assert not (out / "a.txt").exists() and not [p for p in out.iterdir() if p.name.startswith(".partial-")]
    loans = tmp_path / "loans.csv"
    loans.write_text("loan_id,principal,annual_rate,term_months,start_date\nL1,1000000,0.04,12,2026-01-15\n")
    assert main(["amortize", str(loans), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{lock}: the lock file is not a plain file" in err, err
    assert victim.read_text() == "precious"


def test_a_run_that_fails_before_it_writes_lets_go_of_the_folder(tmp_path, monkeypatch) -> None:
    """issue 16, row 5 (review): an error (or a signal) in the ``with`` line after the lock was taken, the staging
    folder not yet made, kept the lock and the SIGTERM handler for the life of the process: the folder stayed
    busy for every later run of that process."""
    make = Path.mkdir

    def refuse_staging(self: Path, *args: object, **kwargs: object) -> None:
        if self.name.startswith(".partial-"):
            raise PermissionError(13, "Permission denied", str(self))
        make(self, *args, **kwargs)  # type: ignore[arg-type]

    handler = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(Path, "mkdir", refuse_staging)
    with pytest.raises(PermissionError), OutputFolder(tmp_path):
        pass
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGTERM) is handler
    with OutputFolder(tmp_path) as run:
        run.path("a.txt").write_text("x")
    assert _complete(tmp_path) == ["a.txt"]


@pytest.mark.parametrize("when", ["before the renames", "during the renames"])
def test_the_interrupt_message_is_true_whenever_the_signal_comes(tmp_path, capsys, monkeypatch, when) -> None:
    """issue 16, row 5 (review): a SIGTERM that came during the renames (held back, acted on once they are
    done) was told "nothing of this run was written", though this run's set was in place. The message says
    what is true either way, and the folder holds the set its manifest lists.

    The signal is sent to the process, as ``kill`` sends it, while another thread runs (pyarrow's pool does in
    every run): held back by the main thread's signal mask, it went to that thread, and Python raised the
    interrupt between two renames, leaving a new summary.json beside the last run's manifest."""
    out = tmp_path / "out"
    assert main(["simulate", "--projects", "50", "--out", str(out), "--quiet"]) == 0
    first = (out / MANIFEST_NAME).read_bytes()
    if when == "before the renames":
        digest = outputs._sha256

        def hash_then_signal(path: Path) -> str:
            os.kill(os.getpid(), signal.SIGTERM)
            return digest(path)

        monkeypatch.setattr(outputs, "_sha256", hash_then_signal)
    else:
        replace = os.replace

        def signal_then_replace(source: object, target: object) -> None:
            if Path(str(source)).parent.name.startswith(".partial-"):  # one of the renames
                os.kill(os.getpid(), signal.SIGTERM)
            replace(source, target)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "replace", signal_then_replace)
    done = threading.Event()
    other = threading.Thread(target=done.wait, args=(60,))
    other.start()
    capsys.readouterr()
    try:
        assert main(["simulate", "--projects", "50", "--seed", "2", "--out", str(out), "--quiet"]) == 130
    finally:
        monkeypatch.undo()
        done.set()
        other.join()
    err = capsys.readouterr().err
    assert err == "interrupted: the output folder holds the last complete run (its manifest.json lists it)\n"
    assert "summary.json" in _complete(out)
    assert ((out / MANIFEST_NAME).read_bytes() == first) == (when == "before the renames")


def _formula_cells(path: Path) -> list[str]:
    """The cells (header included) of a CSV file that a spreadsheet would run as a formula: text that starts with
    one of ``= + - @``, a tab or a carriage return and is not a number (a negative amount is one)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    cells = [*frame.columns, *(v for column in frame.columns for v in frame[column])]

    def number(text: str) -> bool:
        try:
            return Decimal(text).is_finite()
        except InvalidOperation:
            return False

    return [v for v in cells if v.startswith(FORMULA_STARTS) and not number(v)]


HOSTILE = ['=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "-2+3", "+1"]


def test_every_csv_the_project_writes_is_formula_safe(tmp_path, capsys) -> None:
    """issue 16, point 7 and row 5 (review): a Categorical text column (a Parquet column written dictionary
    encoded, as pyarrow does by default for repeated text) was passed through: ``=1+1`` reached schedule.csv as
    a formula. Every CSV the project writes (grep write_csv: amortize's yearly, schedule and rejections,
    simulate's rejected_rows, reconcile's) is checked with hostile ids and notes."""
    written: list[Path] = []
    loans = pd.DataFrame({"loan_id": HOSTILE + ["L6"], "principal": ["1000000"] * 4 + ["1000,50"],
                          "annual_rate": ["0.04"] * 5, "term_months": ["12"] * 5, "start_date": ["2026-01-15"] * 5})
    loans.loc[1, "principal"] = "1000,50"  # rejected: its id goes to rejections.csv
    for kind in ("csv", "parquet"):
        table = tmp_path / f"loans.{kind}"
        if kind == "csv":
            loans.to_csv(table, index=False)
        else:  # dictionary-encoded text: read back as a Categorical column
            pq.write_table(pa.Table.from_pandas(loans.astype({"loan_id": "category"}), preserve_index=False), table)
        folder = tmp_path / f"amortize-{kind}"
        assert main(["amortize", str(table), "--out-dir", str(folder), "--output", "both"]) == 1
        for name in ("yearly.csv", "schedule.csv"):
            ids = set(pd.read_csv(folder / name, dtype=str, keep_default_na=False).loan_id)
            assert ids == {"'" + i for i in HOSTILE if i != "@SUM(A1)"}, (kind, name, ids)
            written.append(folder / name)
        rejected = set(pd.read_csv(folder / "rejections.csv", dtype=str).loan_id)
        assert rejected == {"'@SUM(A1)", "L6"}, (kind, rejected)
        written.append(folder / "rejections.csv")
    tables = people_portfolio()
    tables["loans"].loc[0, ["loan_id", "principal"]] = ["=1+1", "1000,50"]
    some = tmp_path / "some"
    some.mkdir()
    for name, frame in tables.items():
        frame.to_csv(some / f"{name}.csv", index=False)
    assert main(["simulate", "--portfolio", str(some), "--out", str(tmp_path / "sim"), "--quiet"]) == 1
    assert "'=1+1" in set(pd.read_csv(tmp_path / "sim" / "rejected_rows.csv", dtype=str).id)
    written.append(tmp_path / "sim" / "rejected_rows.csv")
    every = tmp_path / "every"  # every row rejected: the list is written alone, by the command line
    every.mkdir()
    for name, frame in tables.items():
        frame = frame.assign(start_date="x") if "start_date" in frame else frame.assign(date="x")
        frame.to_csv(every / f"{name}.csv", index=False)
    assert main(["simulate", "--portfolio", str(every), "--out", str(tmp_path / "sim-every"), "--quiet"]) == 2
    assert "'=1+1" in set(pd.read_csv(tmp_path / "sim-every" / "rejected_rows.csv", dtype=str).id)
    written.append(tmp_path / "sim-every" / "rejected_rows.csv")
    claims = tmp_path / "claims.csv"
    pd.DataFrame({"loan_id": ["-1+1", "L1"], "period": ["1", "1"], "subsidy_claimed": ["100", "100"],
                  "bank_note": ["ok", "@cmd|' /C calc'!A0"]}).to_csv(claims, index=False)
    assert main(["reconcile", str(claims), "--projects", "20", "--out", str(tmp_path / "rec"), "--quiet"]) in (0, 1)
    report = pd.read_csv(tmp_path / "rec" / "reconcile.csv", dtype=str)
    assert set(report.loan_id) == {"'-1+1", "L1"} and "'@cmd|' /C calc'!A0" in set(report.bank_note)
    written.append(tmp_path / "rec" / "reconcile.csv")
    capsys.readouterr()
    for path in written:
        assert not _formula_cells(path), (path, _formula_cells(path))
    frame = csv_safe(pd.DataFrame({"reason": ["\tx", "\rx", "+1", "ok"],
                                   "kind": pd.Categorical(["=1+1", "ok", "-x", "ok"]),
                                   "yuan": [Decimal("-5.00"), Decimal(1), None, Decimal(0)]}))
    assert frame.reason.tolist() == ["'\tx", "'\rx", "'+1", "ok"]
    assert frame.kind.tolist() == ["'=1+1", "ok", "'-x", "ok"]
    assert frame.yuan.tolist()[:2] == [Decimal("-5.00"), Decimal(1)]  # numbers stay numbers


def _writer(folder: Path, log: Path, start: float) -> None:
    """One run writing a.txt and b.txt into ``folder`` (a forked process); exit 2 when refused."""
    while time.time() < start:  # every writer reaches the lock at the same moment
        pass
    try:
        with OutputFolder(folder) as run:
            with open(log, "a") as out:
                out.write(f"enter {os.getpid()}\n")
            for name in ("a.txt", "b.txt"):
                run.path(name).write_text(str(os.getpid()))
            time.sleep(0.02)
            with open(log, "a") as out:
                out.write(f"leave {os.getpid()}\n")
    except OutputBusyError:
        os._exit(2)
    os._exit(0)


def test_runs_started_together_into_one_folder_take_turns_or_are_refused(tmp_path) -> None:
    """Row 5: two simulate runs into one --out both exited 0 and report.xlsx had a bad CRC in 3 of 5 trials.
    Eight writers reach the lock at once, twenty times over: never two inside together, each refused one
    told so, and the folder always holds one writer's complete set."""
    fork = multiprocessing.get_context("fork")
    folder, log = tmp_path / "out", tmp_path / "log"
    for _ in range(20):
        start = time.time() + 0.3
        writers = [fork.Process(target=_writer, args=(folder, log, start)) for _ in range(8)]
        for w in writers:
            w.start()
        for w in writers:
            w.join(timeout=60)
        codes = [w.exitcode for w in writers]
        assert set(codes) <= {0, 2} and 0 in codes, codes
        assert sorted(_complete(folder)) == ["a.txt", "b.txt"]
        assert (folder / "a.txt").read_text() == (folder / "b.txt").read_text()  # one writer's set
        assert not (folder / ".subsidy-engine.lock").exists()
    events = log.read_text().split("\n")[:-1]
    for enter, leave in zip(events[::2], events[1::2]):  # inside the lock one at a time
        assert enter.startswith("enter") and leave == enter.replace("enter", "leave"), events


def test_a_lock_is_the_kernel_s_not_a_process_id_s(tmp_path) -> None:
    """A writer between creating the lock and writing its id into it (an empty lock file) is live: its
    folder is refused, not taken over. A lock left by a run that died is taken, even if its process id
    has since been given to a live process (ids are reused)."""
    fork = multiprocessing.get_context("fork")
    ready, done = fork.Event(), fork.Event()

    def hold_an_empty_lock() -> None:
        handle = os.open(tmp_path / ".subsidy-engine.lock", os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(handle, fcntl.LOCK_EX)
        ready.set()
        done.wait(30)
        os._exit(0)

    holder = fork.Process(target=hold_an_empty_lock)
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(OutputBusyError, match="another run is writing here"), OutputFolder(tmp_path):
            pass
    finally:
        done.set()
        holder.join(30)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a dead run's lock naming a process that is alive now
        (tmp_path / ".subsidy-engine.lock").write_text(str(sleeper.pid))
        with OutputFolder(tmp_path) as run:
            run.path("x.txt").write_text("taken over")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert (tmp_path / "x.txt").read_text() == "taken over"


def test_a_manifest_edited_to_list_the_lock_or_the_folder_deletes_neither(tmp_path) -> None:
    """A manifest names the files of the run before; only plain names of this folder's outputs are removed
    with it, never the lock being held, another dot-file, a parent or a path elsewhere."""
    keep = tmp_path / ".keep"
    keep.write_text("mine")
    with OutputFolder(tmp_path) as run:
        run.path("a.txt").write_text("first")
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["files"] += [{"file": name} for name in (".subsidy-engine.lock", ".keep", "..", ".", "manifest.json",
                                                      "a.txt\\..\\x")]
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    with OutputFolder(tmp_path) as run:
        assert (tmp_path / ".subsidy-engine.lock").exists()
        run.path("b.txt").write_text("second")
        run.path("c.txt").write_text("second")
    assert keep.read_text() == "mine" and sorted(_complete(tmp_path)) == ["b.txt", "c.txt"]
    with OutputFolder(tmp_path) as run:  # the folder still works
        run.path("d.txt").write_text("third")
    assert _complete(tmp_path) == ["d.txt"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_that_a_writer_turns_into_another_error_is_still_an_interrupt(tmp_path, signum) -> None:
    """A kill landing inside a workbook's zip writer made zipfile's own cleanup raise "Can't close the ZIP file
    while there is an open writing handle" over the interrupt: simulate said that error and exited 2 (1 kill in
    12). A signal received while the run writes ends it as an interrupt, whatever the writer then raised."""
    import zipfile

    with pytest.raises(KeyboardInterrupt), OutputFolder(tmp_path) as run:
        with zipfile.ZipFile(run.path("report.xlsx"), "w") as book:
            part = book.open("sheet.xml", "w")  # as a workbook writer holds it, outside a with block
            part.write(b"<row/>")
            os.kill(os.getpid(), signum)
            part.write(b"<row/>")
    assert not (tmp_path / "report.xlsx").exists()
