"""MNIST: find it, read its IDX files, keep it on the training device, and batch it.

Where the digits come from, in order (DESIGN.md):

1. ``--data-dir`` or ``GENLAB_DATA_DIR``; naming a directory that holds no MNIST is an error;
2. the user's cache directory (``$XDG_CACHE_HOME/genlab/data``, else ``~/.cache/genlab/data``);
3. a torchvision download into that cache (skipped when ``GENLAB_OFFLINE=1``);
4. the bundled sample: the original 10,000 test digits shipped inside the package, split into
   9,000 for training and 1,000 held out for evaluation, with a notice that says so.

The whole set is one ``uint8`` tensor on the device; :class:`Batches` draws batches from a seeded
permutation per epoch, so its position (epoch, batch) is all a checkpoint needs to restore it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genlab.errors import DataError, UsageError
from genlab.run.files import user_cache

if TYPE_CHECKING:  # torch is imported where digits are read: finding and surveying them need none
    import torch

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the uncompressed files, from ../shared/data/README.md.
KNOWN_SHA256 = {
    "374ba378bee06c633f4800ac6a495f71d1b80b0e82bf763acbfa4c7e9c379f75": "MNIST training images (rebuilt from PNG, within one grey level)",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5": "original MNIST training labels",
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7": "original MNIST test images",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2": "original MNIST test labels",
}

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "bundled"
BUNDLED_HELD_OUT = 1_000
BUNDLED_NOTICE = (
    "notice: no MNIST found and no download possible; using the bundled sample "
    "(the 10,000 original test digits: 9,000 to train, 1,000 held out to evaluate)"
)


# --------------------------------------------------------------------------- IDX files


def read_idx(path: Path, expect_ndim: int) -> torch.Tensor:
    """Read one IDX file (plain or ``.gz``) into a ``uint8`` tensor, or raise DataError."""
    return parse_idx(idx_bytes(path), expect_ndim, str(path))


def idx_bytes(path: Path) -> bytearray:
    """An IDX file's bytes, uncompressed if it is a ``.gz``; DataError if they cannot be read.
    Read into a bytearray, which a tensor takes as it is (parse_idx: no copy of 47 MB)."""
    try:
        with open(path, "rb") as f:
            raw = bytearray(os.fstat(f.fileno()).st_size)
            del raw[f.readinto(raw):]  # (a file that shrank as it was read: what was there)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if path.suffix == ".gz":
        try:
            raw = bytearray(gzip.decompress(raw))
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return raw


def parse_idx(raw: bytes, expect_ndim: int, name: str = "<bytes>") -> torch.Tensor:
    """Parse IDX bytes: magic 0x0000 08 ndim, big-endian dimension sizes, then uint8 data."""
    import torch

    dims, header = idx_layout(raw, expect_ndim, name)
    if not isinstance(raw, bytearray):  # (a tensor needs a buffer it may write to)
        raw = bytearray(raw)
    data = torch.frombuffer(raw, dtype=torch.uint8, offset=header)
    return data.reshape(dims)


def idx_layout(raw: bytes, expect_ndim: int, name: str = "<bytes>") -> tuple[list[int], int]:
    """IDX bytes' dimension sizes and header length, checked (DataError if they are not an IDX
    file of unsigned bytes with ``expect_ndim`` dimensions, its data all there and no more)."""
    dims, header = idx_header(raw, expect_ndim, name)
    check_data_size(name, dims, len(raw) - header)
    return dims, header


def idx_header(raw: bytes, expect_ndim: int, name: str = "<bytes>") -> tuple[list[int], int]:
    """An IDX file's dimension sizes and header length, from its first bytes alone (DataError if
    they are not an IDX header of unsigned bytes with ``expect_ndim`` dimensions)."""
    if len(raw) < 4:
        raise DataError(f"{name}: truncated: {len(raw)} bytes, too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{name}: not an IDX file (bad magic number {raw[:4].hex()})")
    if raw[2] != 0x08:
        raise DataError(f"{name}: unsupported IDX data type 0x{raw[2]:02x} (expected unsigned byte, 0x08)")
    ndim = raw[3]
    if ndim != expect_ndim:
        raise DataError(f"{name}: has {ndim} dimensions, expected {expect_ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated inside the header ({len(raw)} bytes)")
    return [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)], header


def check_data_size(name: str, dims: list[int], have: int) -> None:
    """DataError unless ``have`` bytes are the data an IDX header of ``dims`` promises."""
    size = 1
    for d in dims:
        size *= d
    if have < size:
        raise DataError(f"{name}: truncated: header says {size:,} data bytes, file has {have:,}")
    if have > size:
        raise DataError(f"{name}: {have - size:,} unexpected bytes after the data")


def find_file(directory: Path, stem: str) -> Path | None:
    """Look for ``stem`` (or ``stem.gz``) in the layouts people use: torchvision's and flat."""
    for sub in ("MNIST/raw", "raw", "."):
        for name in (stem, stem + ".gz"):
            p = directory / sub / name
            if p.is_file():
                return p
    return None


def read_split(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    check_split(images_path, tuple(images.shape), labels_path, len(labels), int(labels.max()) if len(labels) else 0)
    return images, labels.long()


def check_split(images_path: Path, images_shape: tuple, labels_path: Path, labels: int, top_label: int) -> None:
    """DataError unless the images are 28x28 with a label each, every label 0 to 9."""
    if tuple(images_shape[1:]) != (28, 28):
        raise DataError(f"{images_path}: images are {tuple(images_shape[1:])}, expected 28x28")
    if images_shape[0] != labels:
        raise DataError(f"{labels_path}: {labels:,} labels for {images_shape[0]:,} images in {images_path.name}")
    if labels and top_label > 9:
        raise DataError(f"{labels_path}: label {top_label} out of range 0-9")


# --------------------------------------------------------------------------- sources


@dataclass
class Digits:
    """MNIST on one device: images ``uint8`` N×28×28, labels ``int64`` N."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str  # "data-dir", "cache", "download" or "bundled"
    location: str
    notice: str | None = None

    def to(self, device: torch.device | str) -> "Digits":
        return Digits(
            self.train_images.to(device),
            self.train_labels.to(device),
            self.test_images.to(device),
            self.test_labels.to(device),
            self.source,
            self.location,
            self.notice,
            self.excluded,
        )

    excluded: tuple = ()  # digits left out of the training set (the test set keeps every digit)

    def without(self, digits) -> "Digits":
        """The same digits with ``digits`` (e.g. (9,)) left out of the training set: a model of
        the others, for which the left-out ones are anomalies."""
        if not digits:
            return self
        import torch

        keep = ~torch.isin(self.train_labels, torch.tensor(sorted(digits), device=self.train_labels.device))
        return Digits(self.train_images[keep], self.train_labels[keep], self.test_images, self.test_labels,
                      self.source, self.location, self.notice, tuple(sorted(digits)))

    def describe(self) -> dict:
        return self.described(self.source, self.location, len(self.train_images), len(self.test_images),
                              self.notice, self.excluded)

    @staticmethod
    def described(source: str, location: str, train: int, test: int, notice: str | None = None,
                  excluded: tuple = ()) -> dict:
        """What a run's configuration records of its digits (``data``)."""
        return {"source": source, "location": location, "train": train, "test": test, "notice": notice,
                **({"excluded": list(excluded)} if excluded else {})}


def cache_dir() -> Path:
    return user_cache() / "data"


def has_mnist(directory: Path) -> bool:
    return all(find_file(directory, stem) for stem in FILES.values())


def read_directory(directory: Path, source: str) -> Digits:
    paths = {key: find_file(directory, stem) for key, stem in FILES.items()}
    missing = [FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise DataError(f"{directory}: missing {', '.join(missing)}")
    train = read_split(paths["train_images"], paths["train_labels"])
    test = read_split(paths["test_images"], paths["test_labels"])
    return Digits(*train, *test, source=source, location=str(directory))


def read_bundled() -> Digits:
    import torch

    images, labels = read_split(
        BUNDLED_DIR / (FILES["test_images"] + ".gz"), BUNDLED_DIR / (FILES["test_labels"] + ".gz")
    )

    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    train, test = order[:-BUNDLED_HELD_OUT], order[-BUNDLED_HELD_OUT:]
    return Digits(
        images[train], labels[train], images[test], labels[test],
        source="bundled", location=str(BUNDLED_DIR), notice=BUNDLED_NOTICE,
    )


def try_download(target: Path) -> bool:
    """Fetch MNIST with torchvision into ``target``; False when offline or it fails."""
    if os.environ.get("GENLAB_OFFLINE") == "1":
        return False
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    try:
        from torchvision.datasets import MNIST

        target.mkdir(parents=True, exist_ok=True)
        MNIST(str(target), train=True, download=True)
        MNIST(str(target), train=False, download=True)
        return has_mnist(target)
    except Exception:
        return False
    finally:
        socket.setdefaulttimeout(old)


def explicit_dir(data_dir: str | os.PathLike | None) -> Path | None:
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("GENLAB_DATA_DIR")
    return Path(env).expanduser() if env else None


def locate(data_dir: str | os.PathLike | None = None, download: bool = True) -> tuple[str, Path | None]:
    """Decide where the digits come from without reading them: (source, directory)."""
    explicit = explicit_dir(data_dir)
    if explicit is not None:
        if not explicit.is_dir():
            raise UsageError(f"data directory {explicit} does not exist or is not a directory")
        if not os.access(explicit, os.R_OK | os.X_OK):
            raise UsageError(f"data directory {explicit} is not readable")
        if not has_mnist(explicit):
            raise UsageError(
                f"data directory {explicit} holds no MNIST IDX files "
                f"(looked for {FILES['train_images']}[.gz] in MNIST/raw/, raw/ and the directory itself)"
            )
        return "data-dir", explicit
    cache = cache_dir()
    if has_mnist(cache):
        return "cache", cache
    if download and try_download(cache):
        return "download", cache
    return "bundled", None


def load_digits(data_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                download: bool = True) -> Digits:
    """Find MNIST (see the module docstring), read it and put it on ``device``."""
    source, directory = locate(data_dir, download)
    digits = read_bundled() if directory is None else read_directory(directory, source)
    return digits.to(device)


def survey(data_dir: str | os.PathLike | None = None, excluded=(), download: bool = True) -> dict:
    """What ``load_digits(data_dir).without(excluded).describe()`` says, read from the IDX files'
    headers and labels (and their sizes) without reading the images or importing torch, so a
    detached start answers at once; DataError as reading them would say. The worker reads them
    whole (:func:`load_for_run`), and refuses counts that differ. The bundled sample's split is
    torch's shuffle: with digits left out, it is loaded."""
    source, directory = locate(data_dir, download)
    if directory is None:
        if excluded:
            return load_digits(data_dir, "cpu", download).without(excluded).describe()
        n = len(labels_bytes(BUNDLED_DIR / (FILES["test_labels"] + ".gz")))
        return Digits.described(source, str(BUNDLED_DIR), n - BUNDLED_HELD_OUT, BUNDLED_HELD_OUT, BUNDLED_NOTICE)
    paths = {key: find_file(directory, stem) for key, stem in FILES.items()}
    train = surveyed_split(paths["train_images"], paths["train_labels"], excluded)
    test = surveyed_split(paths["test_images"], paths["test_labels"])
    return Digits.described(source, str(directory), train, test, excluded=tuple(sorted(excluded)))


def surveyed_split(images_path: Path, labels_path: Path, excluded=()) -> int:
    """How many digits of a split are kept with ``excluded`` left out, checked as
    :func:`read_split` checks them (the images by their header and size only)."""
    opener = gzip.open if images_path.suffix == ".gz" else open
    try:
        with opener(images_path, "rb") as f:
            head = f.read(16)
    except (OSError, EOFError) as e:
        raise DataError(f"{images_path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    dims, header = idx_header(head, 3, str(images_path))
    if images_path.suffix != ".gz":  # (a compressed file's size says nothing: its worker reads it whole)
        check_data_size(str(images_path), dims, images_path.stat().st_size - header)
    labels = labels_bytes(labels_path)
    check_split(images_path, tuple(dims), labels_path, len(labels), max(labels, default=0))
    return len(labels) - sum(labels.count(d) for d in set(excluded))


def labels_bytes(path: Path) -> bytes:
    """An IDX labels file's labels, one byte each, checked as :func:`read_idx` checks it."""
    raw = idx_bytes(path)
    _, header = idx_layout(raw, 1, str(path))
    return raw[header:]


def load_for_run(data: dict, device: str | torch.device, data_dir: str | os.PathLike | None = None) -> Digits:
    """The digits a run was configured with (its config's ``data``), for resuming it.

    ``data_dir`` overrides where they are, for a run whose data directory has moved."""
    if data_dir:
        source, directory = locate(data_dir, download=False)
    elif data.get("source") == "bundled":
        source, directory = "bundled", None
    else:
        directory = Path(data["location"])
        source = data.get("source", "data-dir")
        if not has_mnist(directory):
            raise UsageError(f"the run's data directory {directory} no longer holds MNIST; pass --data-dir")
    digits = read_bundled() if directory is None else read_directory(directory, source)
    digits = digits.without(data.get("excluded") or ())
    if (len(digits.train_images), len(digits.test_images)) != (data.get("train"), data.get("test")):
        raise UsageError(f"{directory or 'the bundled sample'} holds {len(digits.train_images):,} training digits; "
                         f"the run was trained on {data.get('train'):,}")
    return digits.to(device)


def check_files(data_dir: str | os.PathLike | None = None, download: bool = False) -> dict:
    """What ``genlab data`` reports: the source, and for each file its size, count and checksum."""
    source, directory = locate(data_dir, download)
    if directory is None:
        paths = {k: BUNDLED_DIR / (FILES[k] + ".gz") for k in ("test_images", "test_labels")}
    else:
        paths = {k: find_file(directory, stem) for k, stem in FILES.items()}
    files, shapes, top_labels = [], {}, {}  # (the files' shapes and highest labels: read, not loaded into tensors)
    for key, path in paths.items():
        entry = {"file": str(path), "bytes": path.stat().st_size}
        try:
            raw = idx_bytes(path)
            dims, header = idx_layout(raw, 3 if key.endswith("images") else 1, str(path))
            shapes[key] = tuple(dims)
            if key.endswith("labels"):
                top_labels[key] = max(raw[header:], default=0)
            sha = hashlib.sha256(raw).hexdigest()
            entry.update(ok=True, count=dims[0], sha256=sha, recognised=sha in KNOWN_SHA256,
                         known=KNOWN_SHA256.get(sha, "checksum not in genlab's list (file parses fine)"))
        except DataError as e:
            entry.update(ok=False, error=str(e))
        files.append(entry)
    report = {"source": source, "location": str(directory or BUNDLED_DIR), "files": files,
              "ok": all(f["ok"] for f in files)}
    if report["ok"]:  # the checks reading them would make (read_split), and the digits they give
        for split in ("train", "test") if directory is not None else ("test",):
            images, labels = f"{split}_images", f"{split}_labels"
            check_split(paths[images], shapes[images], paths[labels], shapes[labels][0], top_labels[labels])
        if directory is None:  # the bundled test digits, split as read_bundled does
            n = shapes["test_images"][0]
            report.update(train=n - BUNDLED_HELD_OUT, test=BUNDLED_HELD_OUT, notice=BUNDLED_NOTICE)
        else:
            report.update(train=shapes["train_images"][0], test=shapes["test_images"][0], notice=None)
    return report


# --------------------------------------------------------------------------- batches


class Batches:
    """Index batches from a seeded permutation per epoch; the last partial batch is dropped.

    The permutation of epoch ``e`` depends only on ``(seed, e)``, so ``state()`` (epoch and batch
    position) is enough to resume the exact data order.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device | str = "cpu"):
        self.check(n, batch_size)
        import torch

        self.n, self.batch_size, self.seed, self.device = n, batch_size, seed, torch.device(device)
        self.steps_per_epoch = n // batch_size
        self.epoch, self.position = 0, 0
        self._perm = self._permutation(0)

    @staticmethod
    def check(n: int, batch_size: int) -> None:
        """UsageError where a batch is larger than the data set."""
        if batch_size > n:
            raise UsageError(f"batch size {batch_size:,} is larger than the data set ({n:,} digits)")

    def _permutation(self, epoch: int) -> torch.Tensor:
        import torch

        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return torch.randperm(self.n, generator=g).to(self.device)

    def next(self) -> torch.Tensor:
        if self.position >= self.steps_per_epoch:
            self.epoch += 1
            self.position = 0
            self._perm = self._permutation(self.epoch)
        start = self.position * self.batch_size
        self.position += 1
        return self._perm[start : start + self.batch_size]

    def state(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "batch_size": self.batch_size, "n": self.n}

    def load_state(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._perm = self._permutation(self.epoch)
