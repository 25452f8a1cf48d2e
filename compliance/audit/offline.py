"""Check an exported audit file without the application or its database.

    python -m compliance.audit.offline export.jsonl        (or export.csv)
    python manage.py verify_export export.jsonl

Each line's ``hash`` is recomputed from the line itself (so an edited field, reason or
change is caught) and each line must link to the one before it (``prev_hash`` equals the
previous line's ``hash``) whenever their ``seq`` are consecutive. A filtered export has
gaps in ``seq`` (reported as ``contiguous: false``); an unfiltered one starting at seq 1
is checked link by link from the genesis hash. Keep the last ``hash`` of an export
somewhere else: a later export must contain the same hash at the same seq."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator

from compliance.audit.chain import GENESIS_HASH, entry_hash
from compliance.audit.csvcells import restore_cell


def _entry(line: dict) -> dict:
    """An export line → the dict the chain hashes (ENTRY_KEYS)."""
    return {**line, "actor": line["user"]}


def parse_csv_row(row: dict) -> dict:
    """A CSV row (all text, cells neutralised against formulas) → the same dict a JSONL
    line holds."""
    row = {key: restore_cell(value) for key, value in row.items()}
    return {
        **row,
        "seq": int(row["seq"]),
        "id": int(row["id"]),
        "history_id": int(row["history_id"]),
        "user_id": int(row["user_id"]) if row["user_id"] else None,
        "changes": json.loads(row["changes"]),
    }


def read_lines(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        if path.endswith(".csv"):
            yield from map(parse_csv_row, csv.DictReader(handle))
        else:
            for text in handle:
                if text.strip():
                    yield json.loads(text)


def verify_lines(lines: Iterable[dict]) -> dict:
    """{"ok", "checked", "broken", "contiguous", "first_seq", "last_seq", "last_hash"}."""
    checked, previous, contiguous, first = 0, None, True, None
    broken = None
    for line in lines:
        checked += 1
        seq = line.get("seq")
        first = seq if first is None else first
        problem = None
        try:
            if entry_hash(_entry(line)) != line["hash"]:
                problem = ("hash_mismatch", "the line's fields do not match its hash")
        except (KeyError, TypeError) as exc:
            problem = ("malformed", f"missing or bad field: {exc}")
        if problem is None:
            if previous is None:
                if seq == 1 and line["prev_hash"] != GENESIS_HASH:
                    problem = ("link_broken", "seq 1 does not start from the genesis hash")
            elif seq <= previous["seq"]:
                problem = ("out_of_order", f"seq {seq} after {previous['seq']}")
            elif seq == previous["seq"] + 1:
                if line["prev_hash"] != previous["hash"]:
                    problem = ("link_broken", "prev_hash is not the previous line's hash")
            else:
                contiguous = False
        if problem is not None:
            broken = {"line": checked, "seq": seq, "problem": problem[0], "detail": problem[1]}
            break
        previous = line
    return {
        "ok": broken is None,
        "checked": checked,
        "broken": broken,
        "contiguous": contiguous,
        "first_seq": first,
        "last_seq": previous["seq"] if previous else None,
        "last_hash": previous["hash"] if previous else None,
    }


def verify_file(path: str) -> dict:
    return verify_lines(read_lines(path))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m compliance.audit.offline EXPORT.jsonl|EXPORT.csv", file=sys.stderr)
        return 2
    result = verify_file(args[0])
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
