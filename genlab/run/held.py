"""A directory held open, so that every write lands in it even when its path is swapped.

A runs root may be writable by others. If a trainer wrote through ``runs/<id>/...`` paths, a
user who renamed the run away and put a link (or another directory) in its place would have
the trainer write its status, checkpoints and prunings into whatever the path now names. So a
process that writes a run (the trainer, each rank, ``genlab.init``, the tags writer) or a sweep
(its worker) opens the directory once, without following a link, and keeps the descriptor:

- Every file is reached through :attr:`HeldDir.root`, the kernel's name for the open descriptor
  (``/proc/self/fd/N``). The kernel resolves it to the directory the descriptor holds, wherever
  that directory now is, exactly as ``openat(N, name)`` would; so the code below it (sinks,
  checkpoints, samples) keeps working with paths, and no path it uses can be swapped. Where no
  ``/proc`` exists (not Linux), ``root`` is the path itself, and :meth:`HeldDir.moved` still
  notices a swap at the trainer's next look.
- :meth:`HeldDir.moved` says whether the path still names the directory held: the trainer asks
  at each look at its control channel and, when it does not, stops with an error event written
  through the descriptor.

Messages for people name the run by :attr:`HeldDir.path` (see :func:`shown`), never by ``root``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from genlab.run.files import O_DIRECTORY, O_NOFOLLOW

_held: dict[str, HeldDir] = {}  # str(root) -> the directory held there


class HeldDir:
    def __init__(self, path: Path):
        """Open ``path`` (a link is refused: ``OSError`` ELOOP or ENOTDIR)."""
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        st = os.fstat(self.fd)
        self.identity = (st.st_dev, st.st_ino)
        proc = Path(f"/proc/self/fd/{self.fd}")
        self.root = proc if _same(proc, self.identity) else self.path
        _held[str(self.root)] = self

    @property
    def name(self) -> str:
        return self.path.name

    def moved(self) -> bool:
        """Whether ``path`` no longer names the directory held (renamed away, replaced, a link)."""
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return True
        return not stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) != self.identity

    def close(self) -> None:
        if self.fd >= 0:
            _held.pop(str(self.root), None)
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> HeldDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def holding(root: Path) -> HeldDir | None:
    """The directory held at ``root`` (a :attr:`HeldDir.root`), if this process holds one there."""
    return _held.get(str(root))


def shown(path: Path) -> Path:
    """The path a person knows for ``path``: a held root (or a path below one) as the run's own."""
    text = str(path)
    for root, held in _held.items():
        if text == root or text.startswith(root + os.sep):
            return held.path / text[len(root) + 1:] if text != root else held.path
    return Path(path)


def _same(path: Path, identity: tuple[int, int]) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == identity
