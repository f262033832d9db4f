"""Output files written whole or not at all, one run at a time per folder (issue 16, point 1).

A run's files are first written into a staging folder inside the output folder
(``.partial-<pid>``); only when every one is complete are they moved into place,
with SIGTERM and SIGINT held back for those few renames (acted on once they are
done), and ``manifest.json`` is written last, listing each file of the run with its
size and sha256. So a
run that is killed or fails while writing leaves the previous run's complete
outputs (and its manifest) untouched, and its own staging folder is removed.
A folder that another live run is writing to is refused: the writer holds the
kernel's lock (``flock``) on ``.subsidy-engine.lock`` (which names its process
id for the message), released when the run ends, whatever ends it, a kill
included; a lock file left behind by a run that died holds nothing and is
taken over. A lock file that is a link, a folder, a pipe or a device is refused, never
written through. Staging folders left by runs killed outright (SIGKILL, a power cut) are removed
by the next run, once it holds the lock. (POSIX systems: Linux, macOS.)

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
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pandas as pd

from subsidy_engine.core.provenance import engine_version
from subsidy_engine.errors import OutputBusyError, OutputLockError

if TYPE_CHECKING:
    import numpy as np

LOCK_NAME = ".subsidy-engine.lock"
MANIFEST_NAME = "manifest.json"
#: First characters that make a spreadsheet read a text cell as a formula (OWASP's CSV injection rule).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that starts like a formula prefixed by an apostrophe.

    Only text cells change, whatever the column's type (object, string, Categorical, Arrow dictionary);
    numbers, decimals and dates stay what they are, so a negative amount stays a number.

    >>> from decimal import Decimal
    >>> csv_safe(pd.DataFrame({"id": ["=1+1", "L1", "@SUM(A1)"], "yuan": [Decimal("-5.00"), Decimal("1"), None],
    ...                        "kind": pd.Categorical(["ok", "-x", "ok"])}))
             id   yuan kind
    0     '=1+1  -5.00   ok
    1        L1      1  '-x
    2  '@SUM(A1)   None   ok
    """
    out = frame.copy()
    for column in out.columns:
        if not _may_hold_text(out[column].dtype):
            continue
        values = out[column].astype(object)  # a Categorical or dictionary column's cells are its categories' text
        risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
        if risky.any():
            out[column] = values.where(~risky.astype(bool), "'" + values.astype(str))
    return out


def _may_hold_text(dtype: np.dtype | pd.api.extensions.ExtensionDtype) -> bool:
    """Whether a column of ``dtype`` can hold text: any but numbers (decimals included), flags and times.

    Told by what it is not, so that every text-holding type is looked at: object, string, Categorical,
    and Arrow's string and dictionary (a Parquet column written dictionary-encoded) among them.
    """
    kinds = pd.api.types
    return not (kinds.is_numeric_dtype(dtype) or kinds.is_bool_dtype(dtype) or kinds.is_datetime64_any_dtype(dtype)
                or kinds.is_timedelta64_dtype(dtype))


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
        self._interrupted: int | None = None  # the signal that ended the run, if one did

    def __enter__(self) -> OutputFolder:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:  # from here on whatever ends the run (an error, a signal) lets go of the lock and the handlers
            if threading.current_thread() is threading.main_thread():  # a signal ends the run through __exit__
                for sig in (signal.SIGTERM, signal.SIGINT):
                    self._handlers[sig] = signal.signal(sig, self._on_signal)
            self._remove_staging_left_behind()
            self.staging.mkdir()
        except BaseException:
            self._close()
            raise
        return self

    def _remove_staging_left_behind(self) -> None:
        """Remove every ``.partial-*`` entry of the folder: the staging folders of runs killed outright
        (no handler ran). Called holding the lock, which every run takes before it makes its staging
        folder and keeps until it has removed it, so none of them is a live run's."""
        for entry in os.scandir(self.folder):
            if not entry.name.startswith(".partial-"):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)  # follows no link inside (fd-based on Linux and macOS)
                else:  # a link is removed, not what it points to
                    os.unlink(entry.path)
            except OSError:  # one that cannot be removed stays; if it is this run's name, mkdir says so
                pass

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
            self._close()
        if self._interrupted is not None and kind is not None and not issubclass(kind, KeyboardInterrupt):
            # the writer the signal cut turned it into its own error (zipfile: "Can't close the ZIP file
            # while there is an open writing handle"): the run was interrupted, and says so
            raise KeyboardInterrupt(f"signal {self._interrupted}") from error

    def _on_signal(self, signum: int, frame: object) -> None:
        self._interrupted = signum
        if _HELD:  # inside signals_held(): raised on leaving it
            _PENDING.append(signum)
            return
        raise KeyboardInterrupt(f"signal {signum}")

    def _close(self) -> None:
        """Remove the staging folder, put the signal handlers back and let go of the lock."""
        shutil.rmtree(self.staging, ignore_errors=True)
        for sig, handler in self._handlers.items():
            _restore(sig, handler)
        self._handlers.clear()
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
            # Not through a link (O_NOFOLLOW), and only a plain file with no other name: the lock is truncated
            # and written, which must never reach another file (a link to a report, a device, a pipe).
            try:
                handle = os.open(self.lock, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            except OSError:
                if os.path.islink(self.lock) or os.path.isdir(self.lock):
                    raise self._not_plain() from None
                raise
            status = os.fstat(handle)
            if not stat.S_ISREG(status.st_mode) or status.st_nlink > 1:  # 0 links: just unlinked, tried again below
                os.close(handle)
                raise self._not_plain()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.read(handle, 32).decode("ascii", "replace").strip()
                os.close(handle)
                raise OutputBusyError(f"{self.folder}: another run is writing here"
                                      + (f" (process {owner})" if owner.isdigit() else "")
                                      + f"; wait for it or choose another folder (its lock: {self.lock})") from None
            try:  # a run that just finished unlinks the file it locked: hold the one the folder names now
                current = os.stat(self.lock, follow_symlinks=False).st_ino == status.st_ino
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

    def _not_plain(self) -> OutputLockError:
        """The one-line refusal of a lock file that is not a plain file of its own."""
        return OutputLockError(f"{self.lock}: the lock file is not a plain file (a link, a folder, a pipe or a "
                               "device); remove it, or choose another folder")

    def _commit(self) -> None:
        written = [name for name in self.names if (self.staging / name).exists()]
        entries = [{"file": name, "bytes": (self.staging / name).stat().st_size,
                    "sha256": _sha256(self.staging / name)} for name in written]
        manifest = self.staging / MANIFEST_NAME
        manifest.write_text(json.dumps({"engine_version": engine_version(), "files": entries}, indent=2) + "\n",
                            encoding="utf-8")
        with _signals_held():  # the renames are not cut in two
            old = self.folder / MANIFEST_NAME
            if old.exists():  # the previous run's files that this run does not write go with its manifest
                try:
                    listed = [e["file"] for e in json.loads(old.read_text(encoding="utf-8")).get("files", [])]
                except (OSError, ValueError, AttributeError, TypeError):
                    listed = []
                for name in listed:  # plain names of outputs only: never the lock, a dot-file, a parent
                    if (isinstance(name, str) and name not in written and name != MANIFEST_NAME
                            and not name.startswith(".") and "/" not in name and "\\" not in name
                            and not (self.folder / name).is_dir()):
                        (self.folder / name).unlink(missing_ok=True)
            for name in written:
                os.replace(self.staging / name, self.folder / name)
            os.replace(manifest, self.folder / MANIFEST_NAME)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT that come inside the block are acted on when it ends, as they would have been.

    Python runs signal handlers in the main thread, between two of its steps, so the handlers are swapped
    for ones that only note the signal; a signal mask would not do, being the calling thread's own: the
    kernel gives a signal sent to the process to any thread that does not block it (pyarrow's pool), and
    Python then runs the handler in the main thread all the same. Outside the main thread nothing can
    interrupt the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            _restore(sig, handler)
        if caught:
            signal.raise_signal(caught[0])  # to the handler it would have met: an interrupt, or the default


def _restore(sig: int, handler: object) -> None:
    """Put ``handler`` back for ``sig`` (None: one installed outside Python, which cannot be put back; the
    default then)."""
    signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # type: ignore[arg-type]


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


#: How deep the code is in :func:`signals_held`, and the signals that arrived there.
_HELD: list[bool] = []
_PENDING: list[int] = []


@contextmanager
def signals_held() -> Iterator[None]:
    """A stretch no signal may cut: a SIGINT or SIGTERM that :class:`OutputFolder` catches inside it is raised
    on leaving it. For a library call that a signal would leave half made (``zipfile.ZipFile()``: its
    ``__del__`` then prints "Exception ignored"); blocking the signals would not do, since a process with other
    threads (numba's) has the signal delivered to one of them and the handler still runs here at once."""
    _HELD.append(True)
    try:
        yield
    finally:
        _HELD.pop()
        if not _HELD and _PENDING:
            signum = _PENDING[0]
            _PENDING.clear()
            raise KeyboardInterrupt(f"signal {signum}")


__all__ = ["MANIFEST_NAME", "OutputBusyError", "OutputFolder", "OutputLockError", "csv_safe", "signals_held", "write_csv"]
