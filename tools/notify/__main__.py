"""The edge of `nox -s notify`: configuration, one-line messages, exit codes.

Exit 0: delivered, skipped (no URL, or PIPELINE_OFFLINE=1 for a remote host),
or not delivered (an unreachable SOC must not turn a green build red).
Exit 1: SHUFFLE_WEBHOOK_URL is set but not an http(s) URL; or the run's outcome
could not be read (a broken reports/pipeline.json, PIPELINE_STATUS or
PIPELINE_GATE_RESULTS), in which case the SOC is still told, with status
"unknown" or what the environment said, before notify fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tools import notify
from tools.network import OFFLINE_ENV, offline_requested
from tools.notify import inputs, payload, target
from tools.notify.delivery import MAX_TOTAL_S, Policy, deliver_within

EXIT_OK, EXIT_BAD_CONFIG = 0, 1


def say(line: str) -> None:
    print(f"notify: {line}", flush=True)


def warn(line: str) -> None:
    print(f"notify: warning: {line}", file=sys.stderr, flush=True)


def error(line: str) -> None:
    print(f"notify: error: {line}", file=sys.stderr, flush=True)


def number(low: float, high: float, kind: Callable[[str], float] = float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low < value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in ({low:g}, {high:g}]")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    defaults = Policy()
    cli = argparse.ArgumentParser(prog="notify", description=__doc__.splitlines()[0])
    cli.add_argument("--record", type=Path, default=inputs.PIPELINE_RECORD, help="pipeline record")
    cli.add_argument(
        "--budget",
        type=number(0, MAX_TOTAL_S - defaults.grace_s),
        default=defaults.budget_s,
        help="seconds after which no attempt starts (default %(default)s)",
    )
    cli.add_argument("--attempts", type=number(0, 10, int), default=defaults.attempts)
    cli.add_argument("--connect-timeout", type=number(0, 30), default=defaults.connect_timeout_s)
    cli.add_argument("--read-timeout", type=number(0, 30), default=defaults.read_timeout_s)
    cli.add_argument("--backoff", type=number(0, 10), default=defaults.backoff_s)
    cli.add_argument("--retry-after-cap", type=number(0, 30), default=defaults.retry_after_cap_s)
    return cli


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    policy = Policy(
        connect_timeout_s=args.connect_timeout,
        read_timeout_s=args.read_timeout,
        attempts=int(args.attempts),
        backoff_s=args.backoff,
        retry_after_cap_s=args.retry_after_cap,
        budget_s=args.budget,
    )
    if not notify.configured():
        say(notify.NOT_CONFIGURED)
        return EXIT_OK
    try:
        webhook = target.parse(os.environ[notify.URL_ENV])
    except target.BadURL as bad:
        error(str(bad))
        return EXIT_BAD_CONFIG
    if webhook.plaintext_remote:
        warn(f"plain http to {webhook.host}: the payload travels unencrypted, use https")
    if offline_requested() and not webhook.loopback:
        say(f"notification skipped: {OFFLINE_ENV}=1 forbids reaching {webhook.host}")
        return EXIT_OK

    outcome, problems = inputs.read_outcome(args.record)
    for problem in problems:
        error(f"{problem}; notifying with status {outcome.status!r}")
    document = payload.build(
        outcome, inputs.run_context(), problems[0].source if problems else None
    )
    secret = os.environ.get(target.SECRET_ENV) or None
    signed = "signed" if secret else f"UNSIGNED ({target.SECRET_ENV} is not set)"
    say(
        f"sending run status {document.status} (severity {document.severity_label}) "
        f"to {webhook.host}, {signed}, event {document.event_id}"
    )
    result = deliver_within(
        webhook, document.body(), event_id=document.event_id, secret=secret, policy=policy, log=say
    )
    if result.delivered:
        say(f"delivered to {webhook.host} ({result.reason}) after {result.attempts} attempt(s)")
    else:
        warn(f"notification NOT delivered to {webhook.host}: {result.reason}")
    return EXIT_BAD_CONFIG if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
