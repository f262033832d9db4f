"""Output files written whole or not at all, one run at a time per folder (issue 16, point 1).

A run's files are first written into a staging folder inside the output folder
(``.partial-<pid>``); only when every one is complete are they moved into place,
with SIGTERM and SIGINT held back for those few renames, and ``manifest.json``
is written last, listing each file of the run with its size and sha256. So a
run that is killed or fails while writing leaves the previous run's complete
outputs (and its manifest) untouched, and its own staging folder is removed.
A folder that another live run is writing to is refused: the writer holds the
kernel's lock (``flock``) on ``.subsidy-engine.lock`` (which names its process
id for the message), released when the run ends, whatever ends it, a kill
included; a lock file left behind by a run that died holds nothing and is
taken over. (POSIX systems: Linux, macOS.)

CSV files are written formula-safe (:func:`csv_safe`): a text cell that a
spreadsheet would run as a formula is written with a leading apostrophe.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import threading
from pathlib import Path
from types import TracebackType

import pandas as pd

from . import __version__

LOCK_NAME = ".subsidy-engine.lock"
MANIFEST_NAME = "manifest.json"
#: First characters that make a spreadsheet read a text cell as a formula (OWASP's CSV injection rule).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class OutputBusyError(OSError):
    """The output folder is being written by another run that is still alive."""


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that starts like a formula prefixed by an apostrophe.

    Only text (string or object) cells change; numbers, decimals and dates stay
    what they are, so a negative amount stays a number.

    >>> from decimal import Decimal
    >>> csv_safe(pd.DataFrame({"id": ["=1+1", "L1", "@SUM(A1)"], "yuan": [Decimal("-5.00"), Decimal("1"), None]}))
             id   yuan
    0     '=1+1  -5.00
    1        L1      1
    2  '@SUM(A1)   None
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
            continue
        risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
        if risky.any():
            out[column] = values.astype(object).where(~risky.astype(bool), "'" + values.astype(str))
    return out


class OutputFolder:
    """Where one run writes its files: ``with OutputFolder(out) as run: write(run.path("summary.json"))``.

    ``path(name)`` gives the staging path of a file; leaving the ``with`` block without an
    error moves them all into ``folder`` and writes the manifest; an error or a signal leaves
    the folder as it was.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.staging = self.folder / f".partial-{os.getpid()}"
        self.lock = self.folder / LOCK_NAME
        self.names: list[str] = []
        self._handlers: dict[int, object] = {}
        self._lock_handle: int | None = None

    def __enter__(self) -> OutputFolder:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        if threading.current_thread() is threading.main_thread():  # a signal ends the run through __exit__
            for sig in (signal.SIGTERM,):
                self._handlers[sig] = signal.signal(sig, _raise_interrupt)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir()
        return self

    def path(self, name: str) -> Path:
        """The staging path of the output file ``name`` (moved into the folder at the end)."""
        if name not in self.names:
            self.names.append(name)
        return self.staging / name

    def final(self, name: str) -> Path:
        """Where ``name`` will be once the run is complete."""
        return self.folder / name

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            if kind is None:
                self._commit()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]
            self._release_lock()

    def _release_lock(self) -> None:
        """Unlink the lock file while still holding it, then let it go (the order keeps a waiting run
        from locking a file that is about to vanish)."""
        if self._lock_handle is not None:
            self.lock.unlink(missing_ok=True)
            os.close(self._lock_handle)
            self._lock_handle = None

    def _take_lock(self) -> None:
        # The kernel's lock (flock) on the lock file, not the process id written in it: it is released when
        # the process ends however it ends, a writer that has not yet written its id is still seen, and a
        # dead run's id given since to another process does not hold the folder.
        for _ in range(100):
            handle = os.open(self.lock, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.read(handle, 32).decode("ascii", "replace").strip()
                os.close(handle)
                raise OutputBusyError(f"{self.folder}: another run is writing here"
                                      + (f" (process {owner})" if owner.isdigit() else "")
                                      + f"; wait for it or choose another folder (its lock: {self.lock})") from None
            try:  # a run that just finished unlinks the file it locked: hold the one the folder names now
                current = os.stat(self.lock).st_ino == os.fstat(handle).st_ino
            except FileNotFoundError:
                current = False
            if not current:
                os.close(handle)
                continue
            os.ftruncate(handle, 0)
            os.write(handle, str(os.getpid()).encode())
            self._lock_handle = handle
            return
        raise OutputBusyError(f"{self.folder}: cannot take the lock {self.lock}")

    def _commit(self) -> None:
        written = [name for name in self.names if (self.staging / name).exists()]
        entries = [{"file": name, "bytes": (self.staging / name).stat().st_size,
                    "sha256": _sha256(self.staging / name)} for name in written]
        manifest = self.staging / MANIFEST_NAME
        manifest.write_text(json.dumps({"engine_version": __version__, "files": entries}, indent=2) + "\n",
                            encoding="utf-8")
        blocked = {signal.SIGTERM, signal.SIGINT}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)  # the renames are not cut in two
        try:
            old = self.folder / MANIFEST_NAME
            if old.exists():  # the previous run's files that this run does not write go with its manifest
                try:
                    listed = [e["file"] for e in json.loads(old.read_text(encoding="utf-8")).get("files", [])]
                except (OSError, ValueError, AttributeError, TypeError):
                    listed = []
                for name in listed:
                    if name not in written and isinstance(name, str) and "/" not in name:
                        (self.folder / name).unlink(missing_ok=True)
            for name in written:
                os.replace(self.staging / name, self.folder / name)
            os.replace(manifest, self.folder / MANIFEST_NAME)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as formula-safe CSV at ``path`` (the caller's staging path)."""
    csv_safe(frame).to_csv(path, index=False)
    return path


__all__ = ["MANIFEST_NAME", "OutputBusyError", "OutputFolder", "csv_safe", "write_csv"]
