"""C2SP signed notes with Ed25519 (R34) and cosignature/v1 (R36): pure, no Django.

- signed-note (c2sp.org/signed-note, golang.org/x/mod/sumdb/note): a note is UTF-8 text
  ending in a newline, a blank line, then signature lines ``— <name> <base64(key ID ‖
  signature)>``; key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]; Ed25519 is type
  0x01 and signs the note text (everything before the blank line, final newline included).
- keys: private ``PRIVATE+KEY+<name>+<hex key ID>+<base64(type ‖ 32-byte seed)>``,
  verifier ``<name>+<hex key ID>+<base64(type ‖ 32-byte public key)>``.
- tlog-cosignature: type 0x04; the signature is ``u64 timestamp ‖ Ed25519 signature`` over
  ``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint's note text."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014 "  # an em dash and a space open every signature line


class NoteError(ValueError):
    """A key, note or signature that does not parse or does not verify."""


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    type: int
    public_key: bytes

    def __str__(self) -> str:
        return verifier_string(self.name, self.type, self.public_key)


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def _check_name(name: str) -> str:
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise NoteError("a key name is non-empty, with no spaces and no '+'")
    return name


def verifier_string(name: str, key_type: int, public_key: bytes) -> str:
    encoded = base64.b64encode(bytes([key_type]) + public_key).decode()
    return f"{name}+{key_id(name, key_type, public_key).hex()}+{encoded}"


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def generate_key(name: str, key_type: int = ED25519) -> tuple[str, str]:
    """A new (private key, verifier key) pair in the note key formats."""
    _check_name(name)
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    public = _raw_public(private)
    skey = "+".join(
        [
            "PRIVATE",
            "KEY",
            name,
            key_id(name, key_type, public).hex(),
            base64.b64encode(bytes([key_type]) + seed).decode(),
        ]
    )
    return skey, verifier_string(name, key_type, public)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("not valid base64") from exc


@dataclass(frozen=True)
class Signer:
    name: str
    key_id: bytes
    private: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, ED25519, _raw_public(self.private))


def parse_private_key(text: str) -> Signer:
    parts = (text or "").strip().split("+", 4)  # base64 may hold '+': split off the fields
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("a note private key is PRIVATE+KEY+<name>+<hash>+<base64>")
    name, hash_hex, material = _check_name(parts[2]), parts[3], _b64(parts[4])
    if len(material) != 33 or material[0] != ED25519:
        raise NoteError("only Ed25519 note keys (type 0x01) sign checkpoints")
    private = Ed25519PrivateKey.from_private_bytes(material[1:])
    expected = key_id(name, ED25519, _raw_public(private))
    if hash_hex != expected.hex():
        raise NoteError("the private key's hash does not match its name and key")
    return Signer(name, expected, private)


def parse_verifier_key(text: str, *, key_type: int | None = None) -> Verifier:
    parts = (text or "").strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<hash>+<base64>")
    name, hash_hex, material = _check_name(parts[0]), parts[1], _b64(parts[2])
    if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("an Ed25519 verifier key is type 0x01 or 0x04 and 32 bytes")
    if key_type is not None and material[0] != key_type:
        raise NoteError(f"the key must be of type 0x{key_type:02x}")
    kid = key_id(name, material[0], material[1:])
    if hash_hex != kid.hex():
        raise NoteError("the key hash does not match the key's name and public key")
    return Verifier(name, kid, material[0], material[1:])


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The note text of a checkpoint (C2SP tlog-checkpoint): origin, size, root hash."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def signature_line(name: str, payload: bytes) -> str:
    return f"{DASH}{name} {base64.b64encode(payload).decode()}\n"


def sign_note(body: str, signer: Signer) -> str:
    signature = signer.private.sign(body.encode())
    return body + "\n" + signature_line(signer.name, signer.key_id + signature)


def split_note(note: str) -> tuple[str, list[str]]:
    """(note text, signature lines without their newline)."""
    body, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("a signed note is text, a blank line, then signature lines")
    lines = signatures[:-1].split("\n")
    if not all(line.startswith(DASH) for line in lines):
        raise NoteError("every line after the blank line is a signature line")
    return body + "\n", lines


def parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """(name, key ID, signature bytes after the key ID)."""
    if not line.startswith(DASH):
        raise NoteError("a signature line starts with an em dash and a space")
    name, _sep, encoded = line[len(DASH) :].strip("\n").partition(" ")
    raw = _b64(encoded)
    if not name or len(raw) < 5:
        raise NoteError("a signature line names a key and carries a signature")
    return name, raw[:4], raw[4:]


def _verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def verify_note(note: str, verifier: Verifier) -> str:
    """The note text, when a signature line of ``verifier`` verifies; else NoteError."""
    body, lines = split_note(note)
    for line in lines:
        name, kid, signature = parse_signature_line(line)
        if name == verifier.name and kid == verifier.key_id:
            if _verify(verifier.public_key, signature, body.encode()):
                return body
            raise NoteError(f"the signature of {name} does not verify")
    raise NoteError(f"the note carries no signature by {verifier.name}")


def cosignature_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


def cosign(body: str, name: str, private: Ed25519PrivateKey, timestamp: int) -> str:
    """A cosignature/v1 line over the checkpoint whose note text is ``body``."""
    public = _raw_public(private)
    signature = private.sign(cosignature_message(body, timestamp))
    return signature_line(
        name, key_id(name, COSIGNATURE_V1, public) + timestamp.to_bytes(8, "big") + signature
    )


def verify_cosignature(line: str, body: str, verifier: Verifier) -> int:
    """The cosignature's timestamp, when ``line`` is ``verifier``'s cosignature/v1 over the
    checkpoint with note text ``body``; else NoteError."""
    name, kid, rest = parse_signature_line(line)
    if verifier.type != COSIGNATURE_V1 or name != verifier.name or kid != verifier.key_id:
        raise NoteError("the line is not a cosignature by this witness key")
    if len(rest) != 8 + 64:
        raise NoteError("a cosignature/v1 carries an 8-byte timestamp and a 64-byte signature")
    timestamp = int.from_bytes(rest[:8], "big")
    if timestamp >= 2**63:
        raise NoteError("the cosignature's timestamp is out of range")
    if not _verify(verifier.public_key, rest[8:], cosignature_message(body, timestamp)):
        raise NoteError(f"the cosignature of {name} does not verify over this checkpoint")
    return timestamp
