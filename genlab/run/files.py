"""How genlab writes and reads a file of a run (or a sweep) safely: the one way to do each.

- :func:`atomic_write_bytes` (and ``_json``): a reader sees the old content or the new, never half.
- :func:`temp_dir`: a directory of our own beside where a whole directory will be renamed into
  place (a new run, a sweep, an export).
- :func:`open_append`: a file appended to in place (the log, events.jsonl), never through a link.
- :func:`read_json` and :func:`read_checked`: a JSON file read without raising, checked by its
  schema (genlab.run.schema).

Every temporary name is ``.<name>.tmp-<pid>-<random>`` (:data:`TEMP_GLOB` finds what a killed
writer left), created exclusively and never through a link.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from pathlib import Path

from genlab.errors import GenlabError

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
TEMP_GLOB = ".*.tmp-*"  # what atomic_write_bytes and temp_dir leave if killed


def temp_name(name: str) -> str:
    """A temporary name for ``name``, beside it: hidden, and unpredictable (nobody can plant it)."""
    return f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True, mode: int = 0o644) -> None:
    """Write to a temporary file beside ``path``, fsync, rename: readers see old or new, never half.

    The work is done relative to the directory, held open for it (``dir_fd``): the temporary
    name is unpredictable and created exclusively (``O_EXCL``, no link followed), so a link
    planted in the directory is never written through, and the rename lands in the directory
    that was opened even if its path is swapped meanwhile (a held run directory, genlab.run.held,
    is opened through its descriptor). The temporary file is removed on any failure (a full disk
    leaves nothing behind)."""
    path = Path(path)
    parent = os.open(path.parent, os.O_RDONLY | O_DIRECTORY)
    try:
        tmp = temp_name(path.name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, mode, dir_fd=parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path.name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=parent)
            except OSError:
                pass
            raise
        if durable:
            try:
                os.fsync(parent)
            except OSError:
                pass
    finally:
        os.close(parent)


def atomic_write_json(path: Path, obj, durable: bool = True) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode(), durable)


def temp_dir(parent: Path, name: str, mode: int = 0o777) -> Path:
    """A new, empty directory in ``parent`` under a temporary name for ``name`` (made exclusively:
    ``mkdir`` never follows or reuses what is there), to fill and rename into place whole."""
    path = Path(parent) / temp_name(name)
    path.mkdir(mode)
    return path


def open_append(path: Path, binary: bool = False):
    """``path`` opened for appending, never through a symbolic link (a link is refused)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise GenlabError(f"{path} is a symbolic link: genlab does not write through links in a run") from None
        raise
    return os.fdopen(fd, "ab") if binary else os.fdopen(fd, "a", encoding="utf-8")


def read_json(path: Path):
    """The JSON value in ``path`` (of any type: check it with genlab.run.schema), or None."""
    try:
        return json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return None


def read_checked(path: Path, problem) -> tuple[dict, str | None]:
    """(the object in ``path``, None) if ``problem(value)`` finds nothing wrong, else ({}, reason)."""
    path = Path(path)
    value = read_json(path)
    if value is None:
        return {}, f"{path.name} is unreadable (not JSON)" if path.exists() else f"{path.name} is missing"
    reason = problem(value)
    return ({}, reason) if reason else (value, None)


def user_cache() -> Path:
    """genlab's part of the user's cache directory: ``$XDG_CACHE_HOME/genlab``, else
    ``~/.cache/genlab`` (the digits in ``data/``, the judge's features in ``judge/``, the rows of
    `genlab runs` in ``runs/``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "genlab"
