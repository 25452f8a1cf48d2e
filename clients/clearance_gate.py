#!/usr/bin/env python3
"""clearance_gate: may a pipeline deploy these weights? (Clearance SPEC R32)

Asks ``GET /api/v1/releases/{slug}/deploy-check/?stage=…&digest=…`` and exits

    0  allowed: the release is released at that stage and the digest is the reviewed one
    1  refused: Clearance says no (every blocker is printed, in words)
    2  cannot tell: Clearance unreachable, too slow, a server error, a refused token, an
       unknown release, or an answer that does not read as the documented shape.

It fails closed: only a well-formed ``"allowed": true`` with no blockers exits 0. Standard
library only, so it runs in any CI image with Python 3.8+.

    CLEARANCE_TOKEN=… clearance_gate.py --url https://clearance.example.com \\
        --release frontier-2 --stage general --artifact model.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ALLOWED, REFUSED, UNKNOWN = 0, 1, 2
TRANSIENT_STATUSES = {429, 500, 502, 503, 504}

WORDS = {
    "stage_not_released": "the release is {status}: it is not released at the {stage} stage",
    "digest_mismatch": "the artifact's digest is not the one the agencies reviewed",
    "digest_required": "the release names its reviewed digest: pass --digest or --artifact",
}


class CannotTell(Exception):
    """No trustworthy answer: the gate must not let the deploy through."""


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def check_url(base: str, release: str, stage: str, digest: str | None) -> str:
    query = {"stage": stage}
    if digest:
        query["digest"] = digest
    slug = urllib.parse.quote(release, safe="")
    return (
        f"{base.rstrip('/')}/api/v1/releases/{slug}/deploy-check/?{urllib.parse.urlencode(query)}"
    )


def fetch(url: str, token: str, timeout: float) -> dict:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Token {token}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise CannotTell(f"Clearance answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise CannotTell(f"Clearance is unreachable: {getattr(exc, 'reason', exc)}") from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise CannotTell("Clearance's answer is not JSON") from exc


def ask(url: str, token: str, *, timeout: float, retries: int) -> dict:
    """The answer, retrying what may pass (timeouts, 5xx, 429) with a short backoff."""
    for attempt in range(retries + 1):
        try:
            return fetch(url, token, timeout)
        except CannotTell as exc:
            cause = exc.__cause__
            transient = not isinstance(cause, urllib.error.HTTPError) or (
                cause.code in TRANSIENT_STATUSES
            )
            if not transient or attempt == retries:
                raise
            time.sleep(min(2**attempt, 10))
    raise AssertionError("unreachable")


def verdict(answer: dict, *, release: str, stage: str) -> tuple[int, list[str]]:
    """Exit code and the lines to print, from an answer of the documented shape only."""
    if not isinstance(answer, dict) or not isinstance(answer.get("blockers"), list):
        raise CannotTell("Clearance's answer does not have the documented shape")
    if answer.get("release") != release or answer.get("stage") != stage:
        raise CannotTell("Clearance answered about another release or stage")
    allowed, blockers = answer.get("allowed"), answer["blockers"]
    head = f"{release} @ {stage} (status {answer.get('status')}, revision {answer.get('revision')})"
    if allowed is True and not blockers:
        return ALLOWED, [f"ALLOWED: {head}"]
    if allowed is not False or not blockers:
        raise CannotTell("Clearance's answer is inconsistent (allowed and blockers disagree)")
    lines = [f"REFUSED: {head}"]
    for b in blockers:
        kind = b.get("kind") if isinstance(b, dict) else None
        template = WORDS.get(kind, f"{kind}")
        try:
            lines.append("  - " + template.format(**b))
        except (KeyError, IndexError):
            lines.append(f"  - {kind}")
    return REFUSED, lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("CLEARANCE_URL"), help="Clearance base URL")
    p.add_argument("--release", required=True, help="release slug")
    p.add_argument("--stage", required=True, choices=["limited", "general"])
    group = p.add_mutually_exclusive_group()
    group.add_argument("--digest", help="the artifact's digest, e.g. sha256:…")
    group.add_argument("--artifact", help="a file whose sha256 is the digest to check")
    p.add_argument(
        "--token-env", default="CLEARANCE_TOKEN", help="environment variable with the API token"
    )
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    p.add_argument("--retries", type=int, default=2, help="retries of transient failures")
    p.add_argument("--json", action="store_true", help="also print Clearance's answer")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = os.environ.get(args.token_env, "")
    try:
        if not args.url:
            raise CannotTell("no Clearance URL: pass --url or set CLEARANCE_URL")
        if not token:
            raise CannotTell(f"no API token: set {args.token_env}")
        digest = sha256_of(args.artifact) if args.artifact else args.digest
        url = check_url(args.url, args.release, args.stage, digest)
        answer = ask(url, token, timeout=args.timeout, retries=args.retries)
        if args.json:
            print(json.dumps(answer, indent=2, sort_keys=True))
        code, lines = verdict(answer, release=args.release, stage=args.stage)
    except (CannotTell, OSError) as exc:
        print(f"CANNOT TELL (failing closed): {exc}", file=sys.stderr)
        return UNKNOWN
    print("\n".join(lines), file=sys.stdout if code == ALLOWED else sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
