"""Typed errors that speak to the clerk: each names what is wrong with a file or a page.

They belong to the one error family of schemas/errors.py."""

from __future__ import annotations

from schemas.errors import KuraError, Rejected

__all__ = ["KuraError", "RejectedFile"]


class RejectedFile(Rejected):
    """A file that cannot be taken in; it goes to quarantine with this reason."""

    code = "rejected"


class UnsupportedFormat(RejectedFile):
    code = "unsupported_format"


class EncryptedPdf(RejectedFile):
    code = "encrypted_pdf"


class DamagedFile(RejectedFile):
    code = "damaged_file"


class ImageTooLarge(RejectedFile):
    code = "image_too_large"


class ImageTooSmall(RejectedFile):
    code = "image_too_small"


class TooManyPages(RejectedFile):
    code = "too_many_pages"


class FileTooLarge(RejectedFile):
    """Too large to be read into the storehouse at all: refused, left where it was."""

    code = "file_too_large"


class EmptyFile(RejectedFile):
    code = "empty_file"
