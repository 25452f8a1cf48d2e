"""R23: ``python manage.py verify_audit`` prints {"ok", "checked", "broken"} as JSON and
exits 1 when the chain is broken.

R34 (docs/audit.md): ``--checkpoint FILE --verifier-key KEY`` also proves today's tree
consistent with that signed checkpoint (a rewritten history is a ``fork``: the result's
``checkpoint``); ``--since-checkpoint`` verifies only the entries after the last checkpoint
a verification found intact."""

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.audit.verify import verify_chain


class Command(BaseCommand):
    help = "Verify the audit hash chain against the history tables (and a checkpoint)."

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", help="a checkpoint note kept outside (a file)")
        parser.add_argument(
            "--verifier-key", help="the log's verifier key (the key itself, or a file)"
        )
        parser.add_argument(
            "--since-checkpoint",
            action="store_true",
            help="only the entries after the last verified checkpoint",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=min(2, os.cpu_count() or 1),
            help="processes that share the history tables (PostgreSQL; default: up to 2)",
        )

    def handle(self, *args, checkpoint=None, verifier_key=None, since_checkpoint=False, **opts):
        from compliance.audit import consistency

        if bool(checkpoint) != bool(verifier_key):
            raise CommandError("--checkpoint and --verifier-key go together")
        if since_checkpoint:
            result = consistency.verify_since_checkpoint()
        else:
            result = verify_chain(workers=max(1, opts.get("workers") or 1))
        if checkpoint:
            result["checkpoint"] = consistency.check_checkpoint(
                _read(checkpoint), _key(verifier_key)
            )
            result["ok"] = result["ok"] and result["checkpoint"]["ok"]
        self.stdout.write(json.dumps(result, indent=2))
        if not result["ok"]:
            raise CommandError("audit chain is broken", returncode=1)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc


def _key(value: str) -> str:
    path = Path(value)
    if "+" not in value and path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value.strip()
