"""Ed25519 key pairs and key files."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.keys import (
    KEY_FILE_HEADER,
    KeyFileError,
    KeyPair,
    PublicKey,
    b64decode,
    b64encode,
)

SEED = bytes(range(32))
# RFC 8032 §7.1 TEST 1: the secret key, its public key and the signature of the empty message.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def write_key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="ascii")
    path.chmod(mode)
    return path


# --- the key pair -------------------------------------------------------------------------


def test_a_key_pair_reproduces_the_rfc_8032_test_vector() -> None:
    pair = KeyPair.from_seed(RFC8032_SEED)
    assert pair.public.raw == RFC8032_PUBLIC
    assert pair.sign(b"") == RFC8032_SIGNATURE
    assert PublicKey(RFC8032_PUBLIC).verify(b"", RFC8032_SIGNATURE)


def test_a_signature_verifies_with_its_own_public_key() -> None:
    pair = KeyPair.generate()
    signature = pair.sign(b"hello")
    assert len(signature) == 64
    assert pair.public.verify(b"hello", signature)


def test_a_signature_does_not_verify_another_message() -> None:
    pair = KeyPair.from_seed(SEED)
    assert not pair.public.verify(b"hellO", pair.sign(b"hello"))


def test_a_signature_does_not_verify_with_another_key() -> None:
    signature = KeyPair.from_seed(SEED).sign(b"hello")
    assert not KeyPair.generate().public.verify(b"hello", signature)


@pytest.mark.parametrize("signature", [b"", b"\x00" * 63, b"\x00" * 65, b"\x00" * 64])
def test_a_malformed_signature_is_false_not_an_exception(signature: bytes) -> None:
    assert not KeyPair.from_seed(SEED).public.verify(b"hello", signature)


def test_a_public_key_of_the_wrong_length_does_not_verify_anything() -> None:
    pair = KeyPair.from_seed(SEED)
    assert not PublicKey(pair.public.raw[:31]).verify(b"hello", pair.sign(b"hello"))


def test_generated_key_pairs_differ() -> None:
    assert KeyPair.generate().seed() != KeyPair.generate().seed()


def test_the_seed_gives_back_the_same_key_pair() -> None:
    pair = KeyPair.generate()
    assert KeyPair.from_seed(pair.seed()).public == pair.public


def test_a_seed_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        KeyPair.from_seed(b"\x01" * 31)


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=256))
def test_any_seed_signs_any_message_verifiably(seed: bytes, message: bytes) -> None:
    pair = KeyPair.from_seed(seed)
    assert pair.public.verify(message, pair.sign(message))


# --- base64 and public keys ------------------------------------------------------------------


@given(st.binary(max_size=100))
def test_base64_round_trips(data: bytes) -> None:
    assert b64decode(b64encode(data)) == data


@pytest.mark.parametrize("text", ["not base64!", "YWJj\n", "YWJ", "YW=J", "YWJj-_", "é"])
def test_base64_decoding_is_strict(text: str) -> None:
    with pytest.raises(ValueError, match="not valid base64"):
        b64decode(text)


def test_a_public_key_round_trips_through_base64() -> None:
    public = KeyPair.from_seed(SEED).public
    assert PublicKey.from_b64(public.b64) == public
    assert base64.b64decode(public.b64) == public.raw


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_a_public_key_of_the_wrong_length_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PublicKey.from_b64(b64encode(b"\x01" * size))


def test_a_public_key_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError):
        PublicKey.from_b64("*" * 44)


# --- key files -------------------------------------------------------------------------------


def test_a_saved_key_loads_back(tmp_path: Path) -> None:
    pair = KeyPair.generate()
    path = tmp_path / "node.key"
    pair.save(path)
    loaded = KeyPair.load(path)
    assert loaded.seed() == pair.seed()
    assert loaded.public == pair.public


def test_a_saved_key_file_has_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    KeyPair.generate().save(path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_saved_key_file_has_mode_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        KeyPair.generate().save(tmp_path / "node.key")
    finally:
        os.umask(previous)
    assert (tmp_path / "node.key").stat().st_mode & 0o777 == 0o600


def test_a_saved_key_file_is_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    KeyPair.from_seed(SEED).save(path)
    assert path.read_text(encoding="ascii") == f"{KEY_FILE_HEADER}\n{b64encode(SEED)}\n"


def test_saving_makes_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "digitalstate" / "node.key"
    KeyPair.generate().save(path)
    assert KeyPair.load(path).public is not None


def test_saving_refuses_to_overwrite_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    first = KeyPair.generate()
    first.save(path)
    with pytest.raises(FileExistsError):
        KeyPair.generate().save(path)
    assert KeyPair.load(path).seed() == first.seed()


def test_saving_refuses_to_overwrite_any_existing_file(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "node.key", "precious\n", 0o644)
    with pytest.raises(FileExistsError):
        KeyPair.generate().save(path)
    assert path.read_text(encoding="ascii") == "precious\n"


def test_saving_through_a_dangling_symlink_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "node.key"
    link.symlink_to(tmp_path / "elsewhere.key")
    with pytest.raises(FileExistsError):
        KeyPair.generate().save(link)
    assert not (tmp_path / "elsewhere.key").exists()


def test_loading_a_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="digitalstate node init"):
        KeyPair.load(tmp_path / "absent.key")


def test_loading_a_directory_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        KeyPair.load(tmp_path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666, 0o610, 0o601, 0o700 | 0o040])
def test_loading_refuses_a_key_file_open_to_group_or_world(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "node.key"
    KeyPair.generate().save(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        KeyPair.load(path)


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_loading_accepts_a_key_file_only_its_owner_can_read(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "node.key"
    KeyPair.from_seed(SEED).save(path)
    path.chmod(mode)
    assert KeyPair.load(path).seed() == SEED


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        f"{KEY_FILE_HEADER}\n",
        f"{b64encode(SEED)}\n",
        f"some-other-key-format\n{b64encode(SEED)}\n",
        f"{KEY_FILE_HEADER}\n{b64encode(SEED)}\n{b64encode(SEED)}\n",
        "-----BEGIN PRIVATE KEY-----\n"
        "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
        "-----END PRIVATE KEY-----\n",
    ],
)
def test_loading_refuses_a_file_that_is_not_a_key_file(tmp_path: Path, text: str) -> None:
    path = write_key_file(tmp_path / "node.key", text)
    with pytest.raises(KeyFileError, match="not a digitalstate Ed25519 key file"):
        KeyPair.load(path)


def test_loading_refuses_a_seed_that_is_not_base64(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "node.key", f"{KEY_FILE_HEADER}\nnot*base64\n")
    with pytest.raises(KeyFileError, match="not valid base64"):
        KeyPair.load(path)


@pytest.mark.parametrize("size", [1, 16, 31, 33, 64])
def test_loading_refuses_a_seed_of_the_wrong_length(tmp_path: Path, size: int) -> None:
    path = write_key_file(tmp_path / "node.key", f"{KEY_FILE_HEADER}\n{b64encode(b'k' * size)}\n")
    with pytest.raises(KeyFileError, match="32 bytes"):
        KeyPair.load(path)


def test_loading_refuses_a_file_that_is_not_ascii(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    path.write_bytes(f"{KEY_FILE_HEADER}\n".encode() + "clé\n".encode())
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="cannot read"):
        KeyPair.load(path)


def test_a_key_file_error_is_a_value_error() -> None:
    assert issubclass(KeyFileError, ValueError)
