"""The in-process steps of ``make bench``, each run by benchmarks/run.py as its own process:

    python -m benchmarks.steps <step> --out result.json

with DATABASE_URL pointing at the benchmark database. A step prints progress on stderr and
writes its figures as JSON. No timing here is ever asserted: they are reported."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from compliance.audit.context import system_actor  # noqa: E402
from compliance.models import (  # noqa: E402
    AllowlistEntry,
    AllowlistStatus,
    Release,
    ReleaseStatus,
    SignOff,
    SignOffStatus,
)

BENCH_USER = "bench-reader"


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bench_user(role: str = "staff"):
    User = get_user_model()
    user = User.objects.filter(username=BENCH_USER).first()
    if user is None:
        with system_actor("make_bench"):
            user = User(username=BENCH_USER, email="bench@lab.example")
            user.set_unusable_password()
            user.save()
            user.groups.add(Group.objects.get(name=role))
    return user


# --- HTTP targets ------------------------------------------------------------------------
def step_targets(args) -> dict:
    """A token for the load generator and the objects the endpoints are asked about."""
    from knox.models import AuthToken

    user = bench_user()
    _, token = AuthToken.objects.create(user=user)
    entry = (
        AllowlistEntry.objects.filter(
            status=AllowlistStatus.APPROVED, release__status=ReleaseStatus.LIMITED
        )
        .select_related("release")
        .order_by("release_id", "id")
        .first()
    )
    gated = (
        Release.objects.filter(status=ReleaseStatus.IN_REVIEW)
        .order_by("-review_round", "id")
        .first()
    )
    if entry is None or gated is None:
        raise SystemExit("the benchmark database has no limited release with an approved partner")
    return {
        "token": token,
        "access": {"release": entry.release.slug, "partner": entry.partner_id},
        "gate": {"release": gated.slug, "round": gated.review_round},
    }


# --- service write with and without history ----------------------------------------------
def step_write(args) -> dict:
    """decide_signoff (R9) with history (and the audit chain, when present) vs with
    simple-history switched off (SIMPLE_HISTORY_ENABLED=False), interleaved one by one so
    both see the same database, cache and machine load."""
    from compliance.services import decide_signoff

    actor = bench_user()
    n = args.n
    pending = list(
        SignOff.objects.filter(
            status=SignOffStatus.PENDING, release__status=ReleaseStatus.IN_REVIEW
        )
        .filter(round=django.db.models.F("release__review_round"))
        .order_by("id")
        .values_list("id", flat=True)[: 2 * n + 20]
    )
    if len(pending) < 2 * n + 20:
        raise SystemExit(f"need {2 * n + 20} pending sign-offs, found {len(pending)}")
    timings = {"with_history": [], "without_history": []}

    def decide(pk: int) -> float:
        so = SignOff.objects.get(pk=pk)
        t0 = time.perf_counter()
        decide_signoff(so, actor=actor, decision="approved", evidence="make bench")
        return time.perf_counter() - t0

    warm = pending[:20]
    for pk in warm[:10]:
        decide(pk)
    with override_settings(SIMPLE_HISTORY_ENABLED=False):
        for pk in warm[10:]:
            decide(pk)
    rest = pending[20:]
    for i in range(n):
        timings["with_history"].append(decide(rest[2 * i]))
        with override_settings(SIMPLE_HISTORY_ENABLED=False):
            timings["without_history"].append(decide(rest[2 * i + 1]))
    out = {"n": n}
    for key, values in timings.items():
        out[key] = {
            "median_ms": round(statistics.median(values) * 1000, 3),
            "mean_ms": round(statistics.fmean(values) * 1000, 3),
            "p90_ms": round(statistics.quantiles(values, n=10)[-1] * 1000, 3),
        }
    out["ratio_median"] = round(
        out["with_history"]["median_ms"] / out["without_history"]["median_ms"], 3
    )
    out["ratio_mean"] = round(out["with_history"]["mean_ms"] / out["without_history"]["mean_ms"], 3)
    out["chain"] = audit_chain_present()
    return out


def audit_chain_present() -> bool:
    from django.apps import apps

    try:
        apps.get_model("compliance", "AuditRecord")
    except LookupError:
        return False
    return True


STEPS = {"targets": step_targets, "write": step_write}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "make bench runs on PostgreSQL"
    result = STEPS[args.step](args)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
