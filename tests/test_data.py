import gzip
import shutil
import struct

import pytest
import torch
from conftest import needs_mnist

from genlab.core import data
from genlab.core.data import Batches, parse_idx, read_idx
from genlab.errors import DataError, UsageError


def idx_bytes(array: torch.Tensor) -> bytes:
    header = bytes([0, 0, 0x08, array.dim()]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.to(torch.uint8).numpy().tobytes()


def test_parse_idx_round_trip():
    a = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    assert torch.equal(parse_idx(idx_bytes(a), 3), a)


@pytest.mark.parametrize("raw, message", [
    (b"\x00\x00", "too short for an IDX header"),
    (b"\x12\x34\x08\x03" + b"\x00" * 12, "bad magic number"),
    (b"\x00\x00\x0d\x03" + b"\x00" * 12, "unsupported IDX data type"),
    (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05", "has 1 dimensions, expected 3"),
    (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02", "truncated inside the header"),
])
def test_parse_idx_rejects_bad_headers(raw, message):
    with pytest.raises(DataError, match=message):
        parse_idx(raw, 3, "x.idx")


def test_truncated_and_padded_files_are_named(tmp_path):
    good = idx_bytes(torch.zeros(10, 28, 28))
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(good[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: truncated: header says 7,840 data bytes, file has 7,740"):
        read_idx(p, 3)
    p.write_bytes(good + b"xx")
    with pytest.raises(DataError, match="2 unexpected bytes after the data"):
        read_idx(p, 3)


def test_corrupt_gzip_is_named(tmp_path):
    p = tmp_path / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(torch.zeros(10)))[:-8])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: corrupt or truncated gzip"):
        read_idx(p, 1)


def test_labels_out_of_range(tmp_path):
    (tmp_path / "i").write_bytes(idx_bytes(torch.zeros(2, 28, 28)))
    (tmp_path / "l").write_bytes(idx_bytes(torch.tensor([1, 12])))
    with pytest.raises(DataError, match="label 12 out of range"):
        data.read_split(tmp_path / "i", tmp_path / "l")


def test_bundled_sample_is_the_test_set_split():
    d = data.read_bundled()
    assert (len(d.train_images), len(d.test_images)) == (9_000, 1_000)
    assert d.train_images.dtype == torch.uint8 and d.train_images.shape[1:] == (28, 28)
    assert d.source == "bundled" and "bundled sample" in d.notice
    assert set(d.train_labels.unique().tolist()) == set(range(10))


@needs_mnist
def test_source_order(tmp_path, monkeypatch):
    monkeypatch.delenv("GENLAB_DATA_DIR")
    # nothing in the cache and offline: the bundled sample, with its notice
    d = data.load_digits()
    assert d.source == "bundled" and d.notice
    # files in the cache directory win over the bundled sample
    raw = data.cache_dir() / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data.BUNDLED_DIR / name, raw / name)
        shutil.copy(data.BUNDLED_DIR / name, raw / name.replace("t10k", "train"))
    d = data.load_digits()
    assert d.source == "cache" and len(d.train_images) == 10_000 and d.notice is None


def test_explicit_directory_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        data.locate(tmp_path / "nope")
    with pytest.raises(UsageError, match="holds no MNIST"):
        data.locate(tmp_path)


@needs_mnist
def test_full_mnist_on_device(digits):
    assert digits.train_images.shape == (60_000, 28, 28) and digits.train_images.dtype == torch.uint8
    assert digits.test_images.shape == (10_000, 28, 28)
    assert abs(digits.train_images.float().mean().item() / 255 - 0.1307) < 1e-3


@needs_mnist
def test_check_files_reports_each_file():
    report = data.check_files()
    assert report["ok"] and report["source"] == "data-dir"
    assert [f["count"] for f in report["files"]] == [60_000, 60_000, 10_000, 10_000]
    assert all(f["recognised"] for f in report["files"]), [f["known"] for f in report["files"]]


def test_batches_are_seeded_and_resumable():
    a = Batches(1000, 64, seed=3)
    first = [a.next() for _ in range(20)]  # crosses an epoch boundary (15 batches an epoch)
    assert a.epoch == 1 and a.steps_per_epoch == 15
    assert all(len(torch.cat(first[:15]).unique()) == 960 for _ in [0])  # no repeats within an epoch
    b = Batches(1000, 64, seed=3)
    b.load_state(a.state())
    c = Batches(1000, 64, seed=3)
    for _ in range(20):
        c.next()
    for _ in range(20):
        assert torch.equal(b.next(), c.next())
    assert not torch.equal(Batches(1000, 64, seed=4).next(), Batches(1000, 64, seed=3).next())


def test_batch_larger_than_data():
    with pytest.raises(UsageError, match="larger than the data set"):
        Batches(100, 101, seed=0)
