#!/usr/bin/env python3
"""A witness for Clearance's audit log (R36): stand-alone, its one dependency `cryptography`.

    witness.py --url https://clearance.example.org --token TOKEN \\
        --log-key 'clearance.local/audit+1a2b3c4d+AV…' --key witness.key --state witness.json

Each run fetches the latest checkpoint (GET /api/v1/audit/checkpoint/), checks the log's
signature with --log-key, and checks that it extends the last checkpoint this witness
co-signed (kept in --state): the same size must have the same root, a larger size must come
with a consistency proof (GET /api/v1/audit/proof/consistency/, RFC 9162 2.1.4.2) that
verifies, and a smaller size is a rollback. Only then it co-signs (C2SP tlog-cosignature,
cosignature/v1), posts the line (POST /api/v1/audit/checkpoints/{size}/cosignatures/) and
records the checkpoint in its state file.

--key holds the witness's note private key, type 0x04 (`manage.py audit_keygen NAME
--witness`): `PRIVATE+KEY+<name>+<hash>+<base64(0x04 ‖ seed)>`; register its verifier key
(second line) with POST /api/v1/audit/witnesses/.

Exit status: 0 co-signed; 1 THE LOG FORKED (a rewritten or rolled-back history: nothing is
signed and the state is kept as evidence); 2 cannot tell (network, bad answer, bad key).
It fails closed: nothing is signed unless every check passed."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DASH = "\u2014 "
OK, FORKED, UNKNOWN = 0, 1, 2


class Fork(Exception):
    """The log's history does not extend what this witness signed before."""


class CannotTell(Exception):
    """Anything else that stops the witness (it then signs nothing)."""


def _key_id(name: str, key_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public).digest()[:4]


def _public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes_raw()


def load_witness_key(text: str) -> tuple[str, Ed25519PrivateKey]:
    parts = text.strip().splitlines()[0].split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise CannotTell("--key is not a note private key (PRIVATE+KEY+name+hash+base64)")
    name, hash_hex, raw = parts[2], parts[3], base64.b64decode(parts[4])
    if len(raw) != 33 or raw[0] != 0x04:
        raise CannotTell("--key must be a cosignature/v1 key (type 0x04)")
    private = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if _key_id(name, 0x04, _public(private)).hex() != hash_hex:
        raise CannotTell("--key's hash does not match its name and key")
    return name, private


def load_log_key(text: str) -> tuple[str, bytes, bytes]:
    name, hash_hex, encoded = text.strip().split("+", 2)
    raw = base64.b64decode(encoded)
    if len(raw) != 33 or raw[0] != 0x01:
        raise CannotTell("--log-key must be an Ed25519 note verifier key (type 0x01)")
    if _key_id(name, 0x01, raw[1:]).hex() != hash_hex:
        raise CannotTell("--log-key's hash does not match its name and key")
    return name, _key_id(name, 0x01, raw[1:]), raw[1:]


def open_checkpoint(note: str, log_key: tuple[str, bytes, bytes]) -> tuple[str, int, bytes]:
    """(note text, size, root) when the log's signature verifies; CannotTell otherwise."""
    name, key_id, public = log_key
    text, sep, signatures = note.partition("\n\n")
    if not sep:
        raise CannotTell("the checkpoint is not a signed note")
    text += "\n"
    for line in signatures.splitlines():
        if not line.startswith(DASH):
            continue
        who, _, encoded = line[len(DASH) :].partition(" ")
        raw = base64.b64decode(encoded)
        if who == name and raw[:4] == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], text.encode())
            except InvalidSignature:
                raise CannotTell("the log's signature on the checkpoint does not verify") from None
            lines = text.rstrip("\n").split("\n")
            return text, int(lines[1]), base64.b64decode(lines[2])
    raise CannotTell("the checkpoint is not signed by --log-key")


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def consistent(first: int, second: int, old: bytes, new: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2."""
    if first == second:
        return not proof and old == new
    if not 0 < first < second or not proof:
        return False
    if first & (first - 1) == 0:
        proof = [old, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old and sr == new and sn == 0


class Log:
    def __init__(self, url: str, token: str, timeout: float = 15):
        self.url, self.token, self.timeout = url.rstrip("/") + "/api/v1", token, timeout

    def call(self, path: str, body: bytes | None = None) -> bytes:
        request = urllib.request.Request(
            self.url + path, data=body, method="POST" if body else "GET"
        )
        request.add_header("Authorization", f"Token {self.token}")
        if body is not None:
            request.add_header("Content-Type", "text/plain; charset=utf-8")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            raise CannotTell(f"{path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CannotTell(f"{path}: {exc}") from None


def read_state(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CannotTell(f"cannot read the state file {path}: {exc}") from None


def write_state(path: str, state: dict) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".witness-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    os.replace(tmp, path)


def check_extends(log: Log, state: dict | None, size: int, root: bytes) -> None:
    if state is None:
        return  # the first checkpoint this witness sees: trust on first use
    old_size, old_root = state["tree_size"], base64.b64decode(state["root_hash"])
    if size < old_size:
        raise Fork(f"the log shrank from {old_size} to {size} entries (a rollback)")
    if size == old_size:
        if root != old_root:
            raise Fork(f"two different roots for size {size}: history was rewritten")
        return
    answer = json.loads(log.call(f"/audit/proof/consistency/?from={old_size}&to={size}"))
    proof = [base64.b64decode(h) for h in answer["hashes"]]
    if not consistent(old_size, size, old_root, root, proof):
        raise Fork(
            f"checkpoint {size} does not extend checkpoint {old_size} this witness signed: "
            "the consistency proof fails (history was rewritten)"
        )


def cosign(text: str, name: str, private: Ed25519PrivateKey, now: int) -> str:
    message = f"cosignature/v1\ntime {now}\n".encode() + text.encode()
    raw = _key_id(name, 0x04, _public(private)) + now.to_bytes(8, "big") + private.sign(message)
    return f"{DASH}{name} {base64.b64encode(raw).decode()}\n"


def run(args) -> int:
    with open(args.key, encoding="utf-8") as handle:
        name, private = load_witness_key(handle.read())
    log_key = load_log_key(args.log_key)
    log = Log(args.url, args.token)
    note = log.call("/audit/checkpoint/").decode("utf-8")
    text, size, root = open_checkpoint(note, log_key)
    check_extends(log, read_state(args.state), size, root)
    line = cosign(text, name, private, int(time.time()))
    log.call(f"/audit/checkpoints/{size}/cosignatures/", line.encode())
    write_state(
        args.state,
        {"tree_size": size, "root_hash": base64.b64encode(root).decode(), "note": note},
    )
    print(f"co-signed checkpoint {size} as {name}")
    return OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Clearance's base URL")
    parser.add_argument("--token", default=os.environ.get("CLEARANCE_TOKEN", ""))
    parser.add_argument("--log-key", required=True, help="the log's verifier key")
    parser.add_argument("--key", required=True, help="file holding the witness private key")
    parser.add_argument("--state", required=True, help="state file (the last checkpoint signed)")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except Fork as exc:
        print(f"FORK: THE AUDIT LOG FORKED — refusing to co-sign. {exc}", file=sys.stderr)
        return FORKED
    except (CannotTell, OSError, ValueError, KeyError) as exc:
        print(f"witness: cannot tell, nothing signed: {exc}", file=sys.stderr)
        return UNKNOWN


if __name__ == "__main__":
    sys.exit(main())
