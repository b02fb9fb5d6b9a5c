"""Uploaded files: what kind a file is, told by its first bytes, never by its name.

A service takes three kinds of file (PDF, JPEG and PNG), so the check is the three signatures
written out here rather than a package such as `filetype` or `puremagic`: those know hundreds
of kinds that a service must refuse anyway, and another dependency would have to be kept up
to date for a check of a dozen bytes. A PDF starts `%PDF-`; a JPEG `FF D8 FF`; a PNG its
eight-byte signature followed by its IHDR chunk. A file whose name says one kind and whose
bytes say another (a renamed file) is refused with a message that says so. Plain computation.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from digitalstate.services.questions import Question
from digitalstate.web.i18n import N_

MAX_NAME = 100
KIND_NAMES = {"pdf": "PDF", "jpeg": "JPG", "png": "PNG"}
MEDIA_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
EXTENSIONS = {"pdf": "pdf", "jpg": "jpeg", "jpeg": "jpeg", "png": "png"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as the browser sent it: the name it had on the person's device, and its bytes."""

    filename: str
    content: bytes

    @property
    def name(self) -> str:
        """The file's name without folders or control characters, at most MAX_NAME long."""
        base = re.split(r"[\\/]", self.filename)[-1]
        clean = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
        return clean[-MAX_NAME:] or "file"

    def describe(self) -> dict[str, Any]:
        """The answer a file question keeps: name, media type, size and SHA-256 digest."""
        kind = sniff(self.content)
        return {
            "name": self.name,
            "type": MEDIA_TYPES[kind] if kind else "application/octet-stream",
            "size": len(self.content),
            "sha256": hashlib.sha256(self.content).hexdigest(),
        }


def sniff(content: bytes) -> str | None:
    """The kind of file content is (pdf, jpeg, png), from its first bytes; None if none."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if content.startswith(PNG_SIGNATURE) and content[12:16] == b"IHDR":
        return "png"
    return None


def claimed_kind(filename: str) -> str | None:
    """The kind a file's name says it is ('scan.PDF' is pdf), None for other names."""
    _, dot, extension = filename.rpartition(".")
    return EXTENSIONS.get(extension.lower()) if dot else None


def size_text(size: int) -> str:
    """A size as GOV.UK writes a file limit: '2MB', '500KB'."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g}MB"
    return f"{max(1, size // 1024)}KB"


def kinds_text(kinds: tuple[str, ...]) -> str:
    """'a PDF, JPG or PNG'."""
    names = [KIND_NAMES[kind] for kind in kinds]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"a {listed}"


def check_upload(question: Question, upload: Upload | None) -> str | None:
    """The GOV.UK error message for upload as the answer to question, None if it is fine."""
    if upload is None or (not upload.content and not upload.filename):
        return None if not question.required else question.named(N_("Select %(subject)s"))
    if not upload.content:
        return "The selected file is empty"
    if len(upload.content) > question.upload_limit:
        return f"The selected file must be smaller than {size_text(question.upload_limit)}"
    kinds = question.file_kinds
    kind = sniff(upload.content)
    claimed = claimed_kind(upload.name)
    if kind not in kinds:
        wanted = f"The selected file must be {kinds_text(kinds)}"
        if claimed is not None and claimed != kind:
            return f"{wanted}: its name ends .{upload.name.rpartition('.')[2]} but it is not one"
        return wanted
    if claimed is not None and claimed != kind:
        extension = upload.name.rpartition(".")[2]
        return (
            f"The selected file is {kinds_text((kind,))} but its name ends .{extension}: "
            f"choose the file again, or rename it to end .{kind if kind != 'jpeg' else 'jpg'}"
        )
    return None
