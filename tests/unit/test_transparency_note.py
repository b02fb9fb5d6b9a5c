"""Checkpoints as C2SP signed notes, and witness cosignatures (C2SP tlog-cosignature v1).

Checked against the specifications' own text and examples, with the key ids and signed
messages computed here independently (hashlib and the `cryptography` package's Ed25519):

- c2sp.org/signed-note: key id = SHA-256(name || "\\n" || type || public key)[:4], type 0x01
  for Ed25519 note signatures; the signature covers the note text with its final newline. The
  vector is golang.org/x/mod/sumdb/note's note_test.go (verifier key
  "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW" and its signed note),
  as ported in cloudflare/azul crates/signed_note/benches/benchmark_verify.rs.
- c2sp.org/tlog-cosignature (C2SP/C2SP tlog-cosignature.md at commit
  01194db11950a0ae2b2b2401afa0a4063a822458): key id with type 0x04; the signature is an 8-byte
  big-endian time followed by Ed25519 over "cosignature/v1\\ntime <t>\\n" and the note body.
- c2sp.org/tlog-checkpoint: origin, decimal size without leading zeroes, base64 root hash.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.keys import KeyPair, PublicKey
from digitalstate.transparency.merkle import leaf_hash
from digitalstate.transparency.note import (
    COSIGNATURE_V1,
    ED25519,
    MAX_NOTE_BYTES,
    Checkpoint,
    NoteError,
    NoteSignature,
    SignedNote,
    cosign,
    key_id,
    sign_checkpoint,
    verify_cosignature,
    verify_log_signature,
)

LOG_KEY = KeyPair.from_seed(bytes(range(32)))
OTHER_KEY = KeyPair.from_seed(bytes(range(1, 33)))
WITNESS_KEY = KeyPair.from_seed(bytes(range(100, 132)))
ORIGIN = "digitalstate/registers-test-federation/people-register/log"
WITNESS = "digitalstate/registers-test-federation/charter/witness"
ROOT = leaf_hash(b"a root")
CHECKPOINT = Checkpoint(ORIGIN, 1234, ROOT)

# golang.org/x/mod/sumdb/note note_test.go: a verifier key and a note it signed.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
)

# c2sp.org/tlog-cosignature's example of a cosigned checkpoint.
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJs"
    "X3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def independent_key_id(name: str, kind: int, raw: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + raw).digest()[:4]


def cryptography_verify(key: PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(key.raw).verify(signature, message)
    except InvalidSignature:
        return False
    return True


# The specifications' vectors ---------------------------------------------------------------


def test_the_go_sumdb_note_vector_parses_and_verifies_with_its_key_id() -> None:
    name, hash_hex, vkey = PETER_VKEY.split("+")
    material = base64.b64decode(vkey)
    assert material[0] == ED25519
    key = PublicKey(material[1:])
    assert key_id(name, key, ED25519).hex() == hash_hex == "c74f20a3"
    note = SignedNote.parse(PETER_NOTE)
    assert note.text == (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    (signature,) = note.signatures
    assert signature.name == name
    assert signature.key_id == bytes.fromhex(hash_hex)
    assert key.verify(note.text.encode(), signature.signature)
    assert cryptography_verify(key, note.text.encode(), signature.signature)
    assert note.render() == PETER_NOTE
    # Not a checkpoint: verify_log_signature reads the text as one and refuses it.
    with pytest.raises(NoteError):
        verify_log_signature(note, name, [key])


def test_the_spec_example_of_a_cosigned_checkpoint_parses_into_its_parts() -> None:
    note = SignedNote.parse(SPEC_COSIGNED)
    checkpoint = note.checkpoint
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.text() == note.text
    log, witness = note.signatures
    assert log.name == "example.com/behind-the-sofa" and len(log.signature) == 64
    assert witness.name == "witness.example.com/w1"
    assert witness.key_id.hex() == "8d66cf3f"
    # The timestamped_signature: the spec's example message has "time 1679315147".
    assert len(witness.signature) == 8 + 64
    assert struct.unpack(">Q", witness.signature[:8]) == (1679315147,)
    assert note.render() == SPEC_COSIGNED


def test_key_ids_follow_signed_note_for_log_signatures_and_cosignatures() -> None:
    assert key_id(ORIGIN, LOG_KEY.public, ED25519) == independent_key_id(
        ORIGIN, 0x01, LOG_KEY.public.raw
    )
    assert key_id(WITNESS, WITNESS_KEY.public, COSIGNATURE_V1) == independent_key_id(
        WITNESS, 0x04, WITNESS_KEY.public.raw
    )
    # The type byte and the name are part of the id.
    assert key_id(ORIGIN, LOG_KEY.public, ED25519) != key_id(ORIGIN, LOG_KEY.public, 0x04)
    assert key_id(ORIGIN, LOG_KEY.public, ED25519) != key_id(ORIGIN + "x", LOG_KEY.public, 1)


def test_a_checkpoint_is_signed_over_its_text_as_signed_note_defines() -> None:
    note = sign_checkpoint(CHECKPOINT, ORIGIN, LOG_KEY)
    assert note.text == f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n"
    (signature,) = note.signatures
    assert signature.name == ORIGIN
    assert signature.key_id == independent_key_id(ORIGIN, 0x01, LOG_KEY.public.raw)
    assert cryptography_verify(LOG_KEY.public, note.text.encode(), signature.signature)
    rendered = note.render()
    assert rendered == (
        note.text
        + "\n\u2014 "
        + ORIGIN
        + " "
        + base64.b64encode(signature.key_id + signature.signature).decode()
        + "\n"
    )


def test_a_cosignature_signs_the_spec_message_with_its_time() -> None:
    note = sign_checkpoint(CHECKPOINT, ORIGIN, LOG_KEY)
    line = cosign(note, WITNESS, WITNESS_KEY, 1679315147)
    assert line.name == WITNESS
    assert line.key_id == independent_key_id(WITNESS, 0x04, WITNESS_KEY.public.raw)
    assert line.signature[:8] == (1679315147).to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1679315147\n" + note.text.encode()
    assert cryptography_verify(WITNESS_KEY.public, message, line.signature[8:])
    assert verify_cosignature(note, line, WITNESS_KEY.public) == 1679315147


# Round trips ---------------------------------------------------------------------------------


def test_a_signed_and_cosigned_checkpoint_round_trips_through_its_text() -> None:
    note = sign_checkpoint(CHECKPOINT, ORIGIN, LOG_KEY)
    cosigned = note.with_signatures([cosign(note, WITNESS, WITNESS_KEY, 1_700_000_000)])
    parsed = SignedNote.parse(cosigned.render())
    assert parsed == cosigned
    assert parsed.render() == cosigned.render()
    assert verify_log_signature(parsed, ORIGIN, [OTHER_KEY.public, LOG_KEY.public]) == CHECKPOINT
    assert verify_cosignature(parsed, parsed.signatures[1], WITNESS_KEY.public) == 1_700_000_000
    # Adding the same cosignature again changes nothing.
    assert cosigned.with_signatures(cosigned.signatures) == cosigned


@given(
    origin=st.from_regex(r"[a-z0-9./-]{1,40}", fullmatch=True),
    size=st.integers(0, 2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(st.from_regex(r"[ -~]{1,30}", fullmatch=True), max_size=3),
    timestamp=st.integers(0, 2**63 - 1),
)
def test_any_checkpoint_round_trips_and_verifies(
    origin: str, size: int, root: bytes, extensions: list[str], timestamp: int
) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse_text(checkpoint.text()) == checkpoint
    note = sign_checkpoint(checkpoint, origin, LOG_KEY)
    line = cosign(note, WITNESS, WITNESS_KEY, timestamp)
    parsed = SignedNote.parse(note.with_signatures([line]).render())
    assert verify_log_signature(parsed, origin, [LOG_KEY.public]) == checkpoint
    assert verify_cosignature(parsed, parsed.signatures[1], WITNESS_KEY.public) == timestamp


# What must be refused -------------------------------------------------------------------------


def signed() -> SignedNote:
    return sign_checkpoint(CHECKPOINT, ORIGIN, LOG_KEY)


def test_a_changed_text_fails_the_log_signature_and_the_cosignature() -> None:
    note = signed()
    line = cosign(note, WITNESS, WITNESS_KEY, 1_700_000_000)
    for changed_text in (
        note.text.replace("1234", "1235"),
        note.text.replace(ORIGIN, ORIGIN + "2"),
        Checkpoint(ORIGIN, 1234, leaf_hash(b"another root")).text(),
        note.text + "extension\n",
    ):
        forged = SignedNote(changed_text, note.signatures)
        with pytest.raises(NoteError):
            verify_log_signature(forged, ORIGIN, [LOG_KEY.public])
        with pytest.raises(NoteError):
            verify_cosignature(SignedNote(changed_text, ()), line, WITNESS_KEY.public)


@given(st.integers(0, 63), st.integers(0, 7))
def test_any_flipped_bit_of_a_signature_fails(byte: int, bit: int) -> None:
    note = signed()
    (line,) = note.signatures
    broken = bytearray(line.signature)
    broken[byte] ^= 1 << bit
    forged = SignedNote(note.text, (NoteSignature(line.name, line.key_id, bytes(broken)),))
    with pytest.raises(NoteError, match="does not verify"):
        verify_log_signature(forged, ORIGIN, [LOG_KEY.public])
    cosigned = cosign(note, WITNESS, WITNESS_KEY, 42)
    broken = bytearray(cosigned.signature)
    broken[8 + byte] ^= 1 << bit
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(
            note, NoteSignature(WITNESS, cosigned.key_id, bytes(broken)), WITNESS_KEY.public
        )


def test_a_changed_cosignature_time_fails() -> None:
    note = signed()
    line = cosign(note, WITNESS, WITNESS_KEY, 1_700_000_000)
    later = (1_700_000_001).to_bytes(8, "big") + line.signature[8:]
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(note, NoteSignature(WITNESS, line.key_id, later), WITNESS_KEY.public)
    impossible = (2**63).to_bytes(8, "big") + line.signature[8:]
    with pytest.raises(NoteError, match="impossible time"):
        verify_cosignature(
            note, NoteSignature(WITNESS, line.key_id, impossible), WITNESS_KEY.public
        )
    with pytest.raises(ValueError, match="out of range"):
        cosign(note, WITNESS, WITNESS_KEY, -1)
    with pytest.raises(NoteError, match="wrong length"):
        verify_cosignature(
            note, NoteSignature(WITNESS, line.key_id, line.signature[:-1]), WITNESS_KEY.public
        )


def test_an_unknown_key_or_name_is_refused() -> None:
    note = signed()
    with pytest.raises(NoteError, match="no signature"):
        verify_log_signature(note, ORIGIN, [OTHER_KEY.public])
    with pytest.raises(NoteError, match="no signature"):
        verify_log_signature(note, ORIGIN + "-other", [LOG_KEY.public])
    with pytest.raises(NoteError, match="no signature"):
        verify_log_signature(note, ORIGIN, [])
    # A signature by the right key under another name is not the log's.
    renamed = sign_checkpoint(CHECKPOINT, "someone-else", LOG_KEY)
    with pytest.raises(NoteError, match="no signature"):
        verify_log_signature(renamed, ORIGIN, [LOG_KEY.public])
    line = cosign(note, WITNESS, WITNESS_KEY, 7)
    with pytest.raises(NoteError, match="not by the key"):
        verify_cosignature(note, line, OTHER_KEY.public)
    # A log signature (type 0x01) is not a cosignature (type 0x04), even by the same key.
    (log_line,) = sign_checkpoint(CHECKPOINT, WITNESS, WITNESS_KEY).signatures
    with pytest.raises(NoteError):
        verify_cosignature(note, log_line, WITNESS_KEY.public)


def valid_note() -> str:
    return signed().render()


@pytest.mark.parametrize(
    ("note", "problem"),
    [
        (valid_note().replace("\n\n", "\n"), "no blank line"),
        (valid_note()[:-1], "does not end with a newline"),
        (valid_note().split("\n\n")[0] + "\n\n", "signature"),
        (valid_note().replace("\u2014 ", "- "), "not a signature line"),
        (valid_note().replace(ORIGIN + " ", ORIGIN + " not-base64!! "), "bad key name"),
        (
            valid_note().rsplit(" ", 1)[0] + " %%%%\n",
            "not base64",
        ),
        (valid_note().rsplit(" ", 1)[0] + " AAAA\n", "too short"),
        ("\u2014 x " + "A" * (MAX_NOTE_BYTES) + "\n", "too large"),
    ],
)
def test_malformed_notes_are_refused_with_a_reason(note: str, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        SignedNote.parse(note)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"{ORIGIN}\n01\n{base64.b64encode(ROOT).decode()}\n", "not a decimal"),
        (f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n", "not a decimal"),
        (f"{ORIGIN}\n+1\n{base64.b64encode(ROOT).decode()}\n", "not a decimal"),
        (f"{ORIGIN}\n{2**63}\n{base64.b64encode(ROOT).decode()}\n", "not a decimal"),
        (f"{ORIGIN}\n1 \n{base64.b64encode(ROOT).decode()}\n", "not a decimal"),
        pytest.param(
            f"{ORIGIN}\n\u0661\u0662\n{base64.b64encode(ROOT).decode()}\n",
            "not a decimal",
            id="arabic-indic digits",
        ),
        pytest.param(
            f"{ORIGIN}\n\u00b2\n{base64.b64encode(ROOT).decode()}\n",
            "not a decimal",
            id="superscript two",
        ),
        (f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}", "does not end with a newline"),
        (f"{ORIGIN}\n12\n", "origin, a size and a root"),
        (f"\n12\n{base64.b64encode(ROOT).decode()}\n", "origin line"),
        (f" {ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}\n", "origin line"),
        (f"{ORIGIN}\n12\nnot base64!\n", "not base64"),
        (f"{ORIGIN}\n12\n{base64.b64encode(ROOT[:31]).decode()}\n", "not 32 bytes"),
        (f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}\n\n", "empty extension"),
    ],
)
def test_malformed_checkpoint_texts_are_refused_with_a_reason(text: str, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        Checkpoint.parse_text(text)
    # The same text signed as a note is refused when read as a checkpoint too.
    if text.endswith("\n"):
        note = SignedNote(text, signed().signatures)
        with pytest.raises(NoteError):
            verify_log_signature(SignedNote.parse(note.render()), ORIGIN, [LOG_KEY.public])


def test_size_zero_is_canonical_and_the_empty_tree_can_be_signed() -> None:
    empty = Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest())
    assert Checkpoint.parse_text(empty.text()) == empty
    assert empty.text().split("\n")[1] == "0"
    note = sign_checkpoint(empty, ORIGIN, LOG_KEY)
    assert verify_log_signature(note, ORIGIN, [LOG_KEY.public]) == empty
