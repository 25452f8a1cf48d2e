"""R37: what an uploaded file is, read from its bytes (never from its name or the browser).

Allowed: PDF, PNG, JPEG, plain text, e-mail messages (.eml, HTML parts included: a message is
only ever served as a message/rfc822 attachment) and Office documents (Word, Excel,
PowerPoint, OpenDocument). Refused: HTML (text a browser would sniff as HTML, or markup it
runs anywhere in the text), SVG, scripts, executables, and archives (an Office document that
carries an executable or a script inside is refused too). A file whose name promises one type
while its bytes are another (a script renamed ``.pdf``) is refused. Pure functions over bytes: no Django."""

from __future__ import annotations

import codecs
import re
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

import filetype

SNIFF_BYTES = 64 * 1024

BINARY_TYPES = {
    "application/pdf": ("pdf",),
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
    "application/msword": ("doc",),
    "application/vnd.ms-excel": ("xls",),
    "application/vnd.ms-powerpoint": ("ppt",),
    "application/rtf": ("rtf",),
}
OFFICE_ZIP_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("pptx",),
    "application/vnd.oasis.opendocument.text": ("odt",),
    "application/vnd.oasis.opendocument.spreadsheet": ("ods",),
    "application/vnd.oasis.opendocument.presentation": ("odp",),
}
TEXT_PLAIN = "text/plain"
EMAIL = "message/rfc822"
TEXT_TYPES = {TEXT_PLAIN: ("txt", "text", "md", "csv", "log"), EMAIL: ("eml",)}
ALLOWED = {**BINARY_TYPES, **OFFICE_ZIP_TYPES, **TEXT_TYPES}

# Names a browser, a shell or Windows would run, inside an archive or as the upload's own name.
ACTIVE_EXTENSIONS = frozenset(
    "html htm xhtml shtml svg svgz xsl js mjs cjs jsx ts vbs vbe wsf wsh hta ps1 psm1 bat "
    "cmd com exe dll scr msi msp cpl jar class py pyc pl rb php phtml sh bash zsh csh ksh lua "
    "app apk dmg deb rpm elf so dylib lnk reg iso swf".split()
)
# Markup and script openings that decide a "text" file is not plain text, anywhere in it.
# A tag's name follows "<" at once and ends with a space, "/" or ">" (a browser reads
# "< a day" as text, and an address such as "<linkedin@example.org>" is no tag).
ACTIVE_TEXT = re.compile(
    rb"<(?:(?:html|head|body|script|svg|iframe|object|embed|meta|link|style|img|a|form)"
    rb"(?=[\s/>])|!doctype\s+html|\?xml|\?php|%)|^\s*#!|javascript:",
    re.IGNORECASE | re.MULTILINE,
)
# The WHATWG MIME Sniffing Standard's HTML signatures (7.1, "identifying a resource with an
# unknown MIME type"): what a browser takes for HTML when it opens the text, after leading
# whitespace, with a tag-terminating byte after it ("/" too, for "<br/>").
HTML_START = re.compile(
    rb"[\t\n\x0c\r ]*<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style"
    rb"|title|b|body|br|p|!--)(?:[\t\n\x0c\r />]|\Z)",
    re.IGNORECASE,
)
EMAIL_HEADER = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]?[^\r\n]*\r?$")
EMAIL_REQUIRED = (b"from", b"date")
EMAIL_KNOWN = (b"from", b"to", b"date", b"subject", b"message-id", b"received", b"mime-version")


class RefusedType(ValueError):
    """The file is not a type Clearance keeps as evidence; the message says why."""


@dataclass(frozen=True)
class Detected:
    content_type: str
    extension: str


def detect(stream: BinaryIO, name: str) -> Detected:
    """The content type of ``stream`` (rewound afterwards), or RefusedType."""
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if not head:
        raise RefusedType("The file is empty.")
    kind = filetype.guess(head)
    if kind is not None:
        detected = _binary(kind.mime, stream)
    else:
        detected = _text(head, stream)
    _check_name(name, detected)
    return detected


def _binary(mime: str, stream: BinaryIO) -> Detected:
    if mime in BINARY_TYPES:
        return Detected(mime, BINARY_TYPES[mime][0])
    if mime in OFFICE_ZIP_TYPES:
        _check_archive(stream)
        return Detected(mime, OFFICE_ZIP_TYPES[mime][0])
    if mime in ("image/svg+xml", "text/html"):
        raise RefusedType("HTML and SVG files are not accepted: a browser would run them.")
    if mime.startswith("image/"):
        raise RefusedType(f"This image type ({mime}) is not accepted: use PNG or JPEG.")
    if mime in (
        "application/x-executable",
        "application/x-msdownload",
        "application/x-mach-binary",
    ):
        raise RefusedType("Executable programs are not accepted.")
    raise RefusedType(f"Archives and other files of type {mime} are not accepted.")


def _check_archive(stream: BinaryIO) -> None:
    """An Office document is a zip: refuse one that carries a program or a script."""
    try:
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RefusedType("The Office document is damaged (not a readable zip).") from exc
    finally:
        stream.seek(0)
    for member in names:
        if _extension(member) in ACTIVE_EXTENSIONS or member.lower().endswith("vbaproject.bin"):
            raise RefusedType(f"The document carries an active part ({member}): not accepted.")


def _text(head: bytes, stream: BinaryIO) -> Detected:
    if b"\x00" in head:
        raise RefusedType("Unknown binary file type: not accepted.")
    _check_utf8(stream)
    email = _looks_like_email(head)
    headers, body = _split_message(head) if email else (b"", head)
    if email and _is_mime(headers):
        # A MIME message's HTML part is part of a message: kept, and served only as a
        # message/rfc822 attachment (nosniff, sandboxed), which no browser renders.
        return Detected(EMAIL, "eml")
    if ACTIVE_TEXT.search(head) or HTML_START.match(body):
        # a plain RFC 5322 message is text: markup in it is refused as anywhere else
        raise RefusedType("HTML, SVG and scripts are not accepted.")
    return Detected(EMAIL, "eml") if email else Detected(TEXT_PLAIN, "txt")


def _check_utf8(stream: BinaryIO) -> None:
    utf8 = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            if b"\x00" in chunk:
                raise RefusedType("Unknown binary file type: not accepted.")
            utf8.decode(chunk)
        utf8.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise RefusedType("Unknown binary file type (not UTF-8 text): not accepted.") from exc
    finally:
        stream.seek(0)


def _looks_like_email(head: bytes) -> bool:
    """RFC 5322: header lines up to the first blank line, with at least From and Date."""
    names = set()
    for line in head.split(b"\n"):
        if not line.strip(b"\r"):
            break
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header line
        if not EMAIL_HEADER.match(line):
            return False
        names.add(line.split(b":", 1)[0].lower())
    return all(n in names for n in EMAIL_REQUIRED) and len(names & set(EMAIL_KNOWN)) >= 3


def _split_message(head: bytes) -> tuple[bytes, bytes]:
    """A message's header block, and its body (what follows the first blank line)."""
    parts = re.split(rb"\r?\n\r?\n", head, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else b""


def _is_mime(headers: bytes) -> bool:
    """A MIME message (RFC 2045): a ``MIME-Version`` header and a ``Content-Type`` of a
    multipart or text type; only such a message may carry an HTML part."""
    return bool(
        re.search(rb"^mime-version:", headers, re.IGNORECASE | re.MULTILINE)
        and re.search(rb"^content-type:\s*(multipart|text)/", headers, re.IGNORECASE | re.MULTILINE)
    )


def _extension(name: str) -> str:
    base = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def _check_name(name: str, detected: Detected) -> None:
    """The uploader's name must not promise another type than the bytes are."""
    ext = _extension(name)
    if not ext:
        return
    if ext in ACTIVE_EXTENSIONS:
        raise RefusedType(f"Files named .{ext} are not accepted.")
    known = {e for exts in ALLOWED.values() for e in exts}
    if ext in known and ext not in ALLOWED[detected.content_type]:
        if detected.content_type in TEXT_TYPES and ext in TEXT_TYPES[TEXT_PLAIN] + ("eml",):
            return  # a plain-text letter saved as .eml or the reverse: both are text
        raise RefusedType(
            f"The file is named .{ext} but its content is {detected.content_type}: not accepted."
        )
