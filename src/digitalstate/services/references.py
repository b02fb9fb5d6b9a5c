"""Reference numbers of applications: `RTV-7KD4-MX2Q-P` (ADR 0017). Plain computation.

Eight random characters from an alphabet of 30 that leaves out the look-alikes 0 O 1 I L U,
and a check character, shown after the service's prefix in groups of four. The check is
ISO 7064's pure system over the prime 31 with radix 3 (a primitive root of 31, so that the
nine positions have nine different weights): the weighted sum of the nine values is 1 modulo
31. Because 31 is prime and the weights differ, every single mistyped character and every
swap of two characters next to each other (the check character too) changes the sum, so a
mistyped reference is refused, not taken for another one. A pure system needs 31 check
values where the alphabet has 30 characters: the one code in 31 whose check value would be
the 31st is drawn again, so every character of every reference is in the alphabet.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
MODULUS = 31
RADIX = 3
CODE_LENGTH = 8
PREFIX = re.compile(r"^[A-Z]{2,4}$")
VALUES = {character: value for value, character in enumerate(ALPHABET)}


class ReferenceNumberError(ValueError):
    """Text that is not a reference number; str() says why, for a person to read."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference number: its prefix and its eight characters and check character."""

    prefix: str
    code: str  # the eight random characters and the check character

    def __str__(self) -> str:
        return f"{self.prefix}-{self.code[:4]}-{self.code[4:8]}-{self.code[8]}"


def _check_value(code: str) -> int:
    """The value the check character must have after code (eight characters)."""
    total = sum(VALUES[c] * pow(RADIX, CODE_LENGTH - i, MODULUS) for i, c in enumerate(code))
    return (1 - total) % MODULUS


def check_character(code: str) -> str | None:
    """The check character of code, or None for the one code in 31 that has none."""
    value = _check_value(code)
    return ALPHABET[value] if value < len(ALPHABET) else None


def new_reference(prefix: str) -> Reference:
    """A new random reference number with prefix (2 to 4 capital letters)."""
    if not PREFIX.match(prefix):
        raise ValueError(f"a reference prefix is 2 to 4 capital letters, not {prefix!r}")
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        check = check_character(code)
        if check is not None:
            return Reference(prefix, code + check)


def parse_reference(text: str, prefix: str | None = None) -> Reference:
    """The reference number in text, typed with any case, spaces or dashes; ReferenceNumberError
    when it is not one (or not one of prefix's), or a character was mistyped."""
    compact = re.sub(r"[\s-]", "", text[:64]).upper()
    if len(text) > 64 or not 11 <= len(compact) <= 13:
        raise ReferenceNumberError(
            "Enter a reference number in the correct format, like RTV-7KD4-MX2Q-P"
        )
    found, code = compact[:-9], compact[-9:]
    if not PREFIX.match(found):
        raise ReferenceNumberError(
            "A reference number starts with 2 to 4 letters, like RTV-7KD4-MX2Q-P"
        )
    if prefix is not None and found != prefix:
        raise ReferenceNumberError(
            f"This is not a reference number of this service: it starts {prefix}"
        )
    strange = sorted({c for c in code if c not in VALUES})
    if strange:
        raise ReferenceNumberError(
            f"A reference number has no {', '.join(strange)}: check the characters you typed"
        )
    if check_character(code[:CODE_LENGTH]) != code[CODE_LENGTH]:
        raise ReferenceNumberError(
            "This reference number has a mistake in it: check each character"
        )
    return Reference(found, code)
