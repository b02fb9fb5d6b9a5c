"""A secret file is made whole, private and once, whoever asks for it first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from digitalstate.files import SecretFileError, create_exclusively, load_or_create_secret


def test_a_new_secret_is_made_private_with_nothing_left_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "some.key"
    secret = load_or_create_secret(path, what="test key", size=16)
    assert len(secret) == 16
    assert path.read_bytes() == secret
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["some.key"]


def test_an_existing_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "some.key"
    assert create_exclusively(path, b"first")
    assert not create_exclusively(path, b"second")
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["some.key"]


def test_callers_racing_on_first_use_all_get_the_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "some.key"
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: load_or_create_secret(path, what="test key"), range(32)))
    assert len(secrets) == 1
    assert path.read_bytes() in secrets


def test_a_file_open_to_others_or_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "some.key"
    load_or_create_secret(path, what="test key")
    path.chmod(0o640)
    with pytest.raises(SecretFileError, match=r"the test key is open to others.*chmod 600"):
        load_or_create_secret(path, what="test key")
    path.chmod(0o600)
    with pytest.raises(SecretFileError, match="a test key is 16 bytes, found 32"):
        load_or_create_secret(path, what="test key", size=16)


def test_an_unreadable_path_is_refused_with_the_callers_error(tmp_path: Path) -> None:
    class OwnError(SecretFileError):
        pass

    (tmp_path / "some.key").mkdir()
    with pytest.raises(OwnError, match="cannot read the test key"):
        load_or_create_secret(tmp_path / "some.key", what="test key", error=OwnError)
