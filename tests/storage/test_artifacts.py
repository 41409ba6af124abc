"""The content-addressed store: immutable blobs, atomic writes, names that cannot escape."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelyard.errors import ArtifactMissing, HashMismatch, UnsafePath
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.names import collect_folder, materialize_file, safe_relative_name


def test_blobs_are_named_by_their_sha256_and_read_back(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    info = store.put_bytes(b"model bytes")
    assert info.sha256 == hashlib.sha256(b"model bytes").hexdigest()
    assert store.blob_path(info.sha256).endswith(f"/blobs/{info.sha256[:2]}/{info.sha256}")
    assert store.read_bytes(info.sha256, expected_size=info.size) == b"model bytes"
    assert store.put_bytes(b"model bytes") == info  # same content, same blob
    assert list(store.iter_blobs()) == [info.sha256]
    assert store.stale_temporaries() == []


def test_large_file_is_streamed_in_and_hashed(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    store = ArtifactStore(str(tmp_path / "store"))
    info = store.put_file(source)
    assert (info.sha256, info.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.verify(info.sha256) == info.sha256


@pytest.mark.parametrize("damage", ["flip", "truncate", "replace"])
def test_a_modified_blob_is_refused_with_expected_and_actual_hash(
    tmp_path: Path, damage: str
) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    info = store.put_bytes(b"0123456789" * 100)
    path = Path(store.blob_path(info.sha256))
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[17] ^= 0x01
    elif damage == "truncate":
        data = data[:-1]
    else:
        data = bytearray(b"other content")
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(HashMismatch) as info_exc:
        store.read_bytes(info.sha256, expected_size=info.size)
    assert info.sha256 in str(info_exc.value) and actual in str(info_exc.value)
    assert store.verify(info.sha256) == actual


def test_missing_blob_is_named(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    with pytest.raises(ArtifactMissing, match="a" * 64):
        store.read_bytes("a" * 64)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "../x",
        "a/../../x",
        "a/./b",
        "/etc/passwd",
        "C:/x",
        "a\\..\\b",
        "..\\x",
        "a\x00b",
        "%2e%2e/x",
        "%2E%2E%2Fx",
        "a%2f..%2f..%2fx",
        "%252e%252e/x",
        "a//b",
        " x",
        "x/",
        "a\nb",
    ],
)
def test_names_that_could_escape_are_refused(name: str) -> None:
    with pytest.raises(UnsafePath):
        safe_relative_name(name)


@pytest.mark.parametrize("name", ["model.skops", "vocab/words.txt", "a/b/c.json", "x..y"])
def test_plain_relative_names_are_kept(name: str) -> None:
    assert safe_relative_name(name) == name


@given(st.text(min_size=1, max_size=40))
def test_no_accepted_name_ever_leaves_its_root(name: str) -> None:
    root = Path("/srv/store/root")
    try:
        clean = safe_relative_name(name)
    except UnsafePath:
        return
    resolved = Path(os.path.normpath(root / clean))
    assert resolved.is_relative_to(root) and resolved != root


def test_blob_names_must_be_digests(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    for bad in ("../../etc/passwd", "A" * 64, "a" * 63):
        with pytest.raises(UnsafePath):
            store.blob_path(bad)


def test_materialize_never_follows_a_symlink_out_of_the_target(tmp_path: Path) -> None:
    target, outside = tmp_path / "target", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (target / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath, match="symlink"):
        materialize_file(b"x", target, "link/evil.txt")
    assert not (outside / "evil.txt").exists()
    (target / "file.txt").symlink_to(outside / "victim.txt")
    with pytest.raises(UnsafePath, match="symlink"):
        materialize_file(b"x", target, "file.txt")
    assert not (outside / "victim.txt").exists()
    assert materialize_file(b"ok", target, "sub/a.txt").read_bytes() == b"ok"


def test_registering_a_folder_refuses_symlinks_pointing_outside(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.skops").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "inside.txt").symlink_to(folder / "model.skops")
    assert [n for n, _ in collect_folder(folder)] == ["inside.txt", "model.skops"]
    (folder / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(UnsafePath, match="outside"):
        collect_folder(folder)


def test_an_fsspec_location_works_the_same(tmp_path: Path) -> None:
    store = ArtifactStore(f"memory://modelyard-test-{tmp_path.name}")
    info = store.put_bytes(b"remote bytes")
    assert store.exists(info.sha256)
    assert store.read_bytes(info.sha256) == b"remote bytes"
    assert store.stale_temporaries() == []
