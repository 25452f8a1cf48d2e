#!/usr/bin/env python3
"""verify_pack: check a Clearance evidence pack offline (SPEC R39). No Clearance, no network.

    verify_pack.py PACK.zip --verifier-key 'clearance.local/audit+1a2b3c4d+AX…'

Checks, and prints every finding:

- every file in the zip is listed in ``manifest.json`` with its SHA-256 and size, and every
  listed file is there with exactly those bytes;
- the checkpoint in the manifest is a C2SP signed note signed by the verifier key (Ed25519);
- every line of ``records.jsonl``: its chain ``hash`` recomputed from its own fields, and its
  RFC 9162 inclusion proof leading to the checkpoint's root hash at the checkpoint's size;
- every document under ``documents/`` is cited by a chained record: an evidence-document
  record, proven in the log, whose ``sha256`` is the file's hash;
- the records named by the manifest (count and sequence numbers) are all there.

Exit 0: every check passed. Exit 1: a finding (or a pack that cannot be read). Its one
dependency is ``cryptography`` (Ed25519), the witness's library."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ENTRY_KEYS = (
    "seq",
    "model",
    "history_table",
    "history_id",
    "object_id",
    "object_repr",
    "action",
    "actor",
    "user_id",
    "at",
    "reason",
    "changes",
    "content_digest",
    "prev_hash",
)
ED25519 = 0x01
DASH = "\u2014 "
CHUNK = 1024 * 1024
DOCUMENT_MODEL = "evidencedocument"


class PackError(Exception):
    pass


# --- C2SP signed note --------------------------------------------------------------------


def parse_verifier_key(text: str) -> tuple[str, bytes, bytes]:
    """``<name>+<hex key id>+<base64(0x01 ‖ public key)>`` → (name, key id, public key)."""
    try:
        name, key_id_hex, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
        key_id = bytes.fromhex(key_id_hex)
    except ValueError as exc:
        raise PackError(f"the verifier key does not parse: {exc}") from exc
    if len(raw) != 33 or raw[0] != ED25519 or len(key_id) != 4:
        raise PackError("the verifier key is not an Ed25519 note verifier key")
    public = raw[1:]
    expected = hashlib.sha256(name.encode() + b"\n" + raw[:1] + public).digest()[:4]
    if expected != key_id:
        raise PackError("the verifier key's id does not match its name and key")
    return name, key_id, public


def verify_checkpoint(note: str, verifier_key: str) -> tuple[str, int, bytes]:
    """(origin, tree size, root hash) of a checkpoint note signed by ``verifier_key``."""
    name, key_id, public = parse_verifier_key(verifier_key)
    if "\n\n" not in note:
        raise PackError("the checkpoint is not a signed note (no blank line)")
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    verified = False
    for line in signatures.splitlines():
        if not line.startswith(DASH):
            continue
        try:
            signer, encoded = line[len(DASH) :].rsplit(" ", 1)
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            continue
        if signer != name or raw[:4] != key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body.encode())
            verified = True
        except InvalidSignature:
            raise PackError("the checkpoint's signature does not verify") from None
    if not verified:
        raise PackError(f"the checkpoint carries no signature by {name}")
    lines = body.splitlines()
    if len(lines) < 3 or not lines[1].isdigit():
        raise PackError("the checkpoint's text is not origin / size / root hash")
    root = base64.b64decode(lines[2])
    if len(root) != 32:
        raise PackError("the checkpoint's root hash is not 32 bytes")
    return lines[0], int(lines[1]), root


# --- the hash chain's canonical form and RFC 9162 proofs ----------------------------------


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(record: dict) -> str:
    entry = {**record, "actor": record.get("user")}
    return hashlib.sha256(canonical({key: entry.get(key) for key in ENTRY_KEYS})).hexdigest()


def leaf_hash(entry_hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root a proof leads to (PackError when it is malformed)."""
    if index >= size:
        raise PackError("leaf index beyond the tree size")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise PackError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise PackError("inclusion proof too short")
    return r


# --- the pack ------------------------------------------------------------------------------


def _digest(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_files(archive: zipfile.ZipFile, manifest: dict, findings: list[str]) -> dict:
    """Every file against the manifest; returns {path: sha256} of the files as they are."""
    listed = {f["path"]: f for f in manifest.get("files", [])}
    actual = {}
    for name in archive.namelist():
        if name == "manifest.json" or name.endswith("/"):
            continue
        sha, size = _digest(archive, name)
        actual[name] = sha
        entry = listed.get(name)
        if entry is None:
            findings.append(f"{name}: in the pack but not in the manifest")
        elif (entry.get("sha256"), entry.get("size")) != (sha, size):
            findings.append(
                f"{name}: does not match the manifest (sha256 {sha}, {size} bytes; the "
                f"manifest says {entry.get('sha256')}, {entry.get('size')} bytes)"
            )
    for path in listed:
        if path not in actual:
            findings.append(f"{path}: listed in the manifest but missing from the pack")
    return actual


def check_records(
    archive: zipfile.ZipFile, size: int, root: bytes, findings: list[str]
) -> tuple[set[str], set[int]]:
    """Every record's hash and inclusion proof; returns the document hashes that proven
    records cite, and the sequence numbers present."""
    cited, seqs = set(), set()
    if "records.jsonl" not in archive.namelist():
        findings.append("records.jsonl: missing")
        return cited, seqs
    with archive.open("records.jsonl") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                record = json.loads(raw)
            except ValueError:
                findings.append(f"records.jsonl line {number}: not JSON")
                continue
            problem = _record_problem(record, size, root)
            if problem:
                findings.append(f"records.jsonl line {number} (seq {record.get('seq')}): {problem}")
                continue
            seqs.add(record["seq"])
            if record.get("model") == DOCUMENT_MODEL:
                cited.update(_document_hashes(record))
    return cited, seqs


def _record_problem(record: dict, size: int, root: bytes) -> str | None:
    if entry_hash(record) != record.get("hash"):
        return "its hash does not match its contents (the record was edited)"
    proof = record.get("inclusion_proof") or {}
    try:
        if proof.get("tree_size") != size or proof.get("leaf_index") != record["seq"] - 1:
            return "its inclusion proof is not against the pack's checkpoint"
        leaf = leaf_hash(record["hash"])
        if base64.b64decode(proof.get("leaf_hash", "")) != leaf:
            return "its inclusion proof names another leaf"
        path = [base64.b64decode(h) for h in proof.get("hashes", [])]
        if root_from_inclusion(proof["leaf_index"], size, leaf, path) != root:
            return "its inclusion proof does not lead to the checkpoint's root hash"
    except (PackError, ValueError, TypeError, KeyError) as exc:
        return f"its inclusion proof is malformed ({exc})"
    return None


def _document_hashes(record: dict) -> set[str]:
    return {
        c.get("new")
        for c in record.get("changes") or []
        if c.get("field") == "sha256" and isinstance(c.get("new"), str)
    }


def verify(path: str, verifier_key: str) -> list[str]:
    findings: list[str] = []
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"{path}: not a readable zip ({exc})"]
    with archive:
        try:
            manifest = json.loads(archive.read("manifest.json"))
        except (KeyError, ValueError) as exc:
            return [f"manifest.json: missing or not JSON ({exc})"]
        actual = check_files(archive, manifest, findings)
        try:
            _origin, size, root = verify_checkpoint(manifest.get("checkpoint", ""), verifier_key)
        except PackError as exc:
            findings.append(f"checkpoint: {exc}")
            return findings
        cited, seqs = check_records(archive, size, root, findings)
        for name, sha in sorted(actual.items()):
            if name.startswith("documents/") and sha not in cited:
                findings.append(f"{name}: not cited by any chained record (sha256 {sha})")
        expected = manifest.get("record_seqs")
        if isinstance(expected, list):
            for seq in sorted(set(expected) - seqs):
                findings.append(f"records.jsonl: the record with seq {seq} is missing")
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Clearance evidence pack offline.")
    parser.add_argument("pack", help="the evidence pack (.zip)")
    parser.add_argument("--verifier-key", required=True, help="the log's note verifier key")
    args = parser.parse_args(argv)
    try:
        findings = verify(args.pack, args.verifier_key)
    except PackError as exc:
        findings = [str(exc)]
    if findings:
        for finding in findings:
            print(f"FAIL {finding}")
        print(f"{len(findings)} finding(s): the pack does NOT verify")
        return 1
    print(f"OK {args.pack}: every file, the checkpoint, every record and document verify")
    return 0


if __name__ == "__main__":
    sys.exit(main())
