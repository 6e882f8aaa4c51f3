"""The edge of `nox -s notify`: configuration, one-line messages, exit codes.

Receivers: the webhook (SHUFFLE_WEBHOOK_URL), TheHive (THEHIVE_URL), or both,
served at once within one time bound.

Exit 0: delivered, skipped (no receiver, or PIPELINE_OFFLINE=1 for a remote
host), or not delivered (an unreachable SOC must not turn a green build red).
Exit 1: a notify variable is set but unusable (a URL that is not http(s), an
unknown scheme, a token without its header, TheHive without its API key...),
and then nothing is sent; or the run's outcome could not be read (a broken
reports/pipeline.json, PIPELINE_STATUS or PIPELINE_GATE_RESULTS), in which case
the SOC is still told, with status "unknown" or what the environment said,
before notify fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tools import notify
from tools.network import OFFLINE_ENV, offline_requested
from tools.notify import inputs, payload, schemes, target, thehive
from tools.notify.delivery import MAX_TOTAL_S, Delivery, Policy, Result, deliver_all

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


@dataclass(frozen=True)
class Receivers:
    """Where the outcome goes, as configured; None where nothing is set."""

    webhook: target.Target | None = None
    auth: schemes.Auth = field(default_factory=schemes.Auth)
    hive: thehive.Config | None = None


def configure(env: Mapping[str, str]) -> Receivers:
    """Every receiver's configuration, checked before anything is sent;
    BadConfig names the first variable that is set but unusable."""
    webhook = None
    auth = schemes.Auth()
    if env.get(notify.URL_ENV, "").strip():
        webhook = target.parse(env[notify.URL_ENV])
        auth = schemes.from_environment(env)
    return Receivers(webhook, auth, thehive.from_environment(env))


def reachable_now(receivers: Receivers) -> Receivers:
    """``receivers`` less those PIPELINE_OFFLINE=1 forbids, each skip said."""
    if not offline_requested():
        return receivers
    webhook, hive = receivers.webhook, receivers.hive
    if webhook and not webhook.loopback:
        say(f"notification skipped: {OFFLINE_ENV}=1 forbids reaching {webhook.host}")
        webhook = None
    if hive and not hive.target.loopback:
        say(f"TheHive alert skipped: {OFFLINE_ENV}=1 forbids reaching {hive.target.host}")
        hive = None
    return Receivers(webhook, receivers.auth, hive)


def webhook_delivery(
    webhook: target.Target, auth: schemes.Auth, document: payload.Payload
) -> Delivery:
    body, event_id = document.body(), document.event_id
    say(
        f"sending run status {document.status} (severity {document.severity_label}) "
        f"to {webhook.host}, {auth.describe()}, event {event_id}"
    )
    checked = ["the URL's token", "the secret"]
    if schemes.TOKEN in auth.schemes:
        checked.append(schemes.TOKEN_ENV)
    return Delivery(
        webhook,
        body,
        event_id,
        auth=lambda: schemes.headers(auth, body, event_id),
        refused_hint=f"check {', '.join(checked[:-1])} and {checked[-1]}",
        hidden=auth.hidden,
    )


def hive_delivery(hive: thehive.Config, document: payload.Payload) -> Delivery:
    say(
        f"sending run status {document.status} (severity {document.severity_label}) "
        f"to TheHive at {hive.target.host} as an alert, sourceRef {document.dedupe_key}"
    )
    return Delivery(
        hive.target,
        thehive.body(document),
        document.event_id,
        auth=lambda: thehive.headers(hive),
        label=f"TheHive at {hive.target.host}",
        already_delivered=thehive.already_exists,
        refused_hint=thehive.REFUSED_HINT,
        hidden=(hive.api_key,),
    )


def report(what: str, host: str, result: Result) -> None:
    if result.delivered:
        say(f"{what} delivered to {host} ({result.reason}) after {result.attempts} attempt(s)")
    else:
        warn(f"{what} NOT delivered to {host}: {result.reason}")


def policy_of(args: argparse.Namespace) -> Policy:
    return Policy(
        connect_timeout_s=args.connect_timeout,
        read_timeout_s=args.read_timeout,
        attempts=int(args.attempts),
        backoff_s=args.backoff,
        retry_after_cap_s=args.retry_after_cap,
        budget_s=args.budget,
    )


def receivers_now() -> Receivers | None:
    """The receivers to tell now; None when there are none, said why. BadConfig
    when a notify variable is set but unusable."""
    if not notify.configured():
        say(notify.NOT_CONFIGURED)
        return None
    receivers = configure(os.environ)
    if receivers.webhook and receivers.webhook.plaintext_remote:
        host = receivers.webhook.host
        warn(f"plain http to {host}: the payload travels unencrypted, use https")
    receivers = reachable_now(receivers)
    return receivers if receivers.webhook or receivers.hive else None


def send(receivers: Receivers, document: payload.Payload, policy: Policy) -> None:
    """Deliver ``document`` to every receiver at once, each result said."""
    deliveries: list[tuple[str, Delivery]] = []
    if receivers.webhook:
        deliveries.append(
            ("notification", webhook_delivery(receivers.webhook, receivers.auth, document))
        )
    if receivers.hive:
        deliveries.append(("TheHive alert", hive_delivery(receivers.hive, document)))
    results = deliver_all([delivery for _, delivery in deliveries], policy=policy, log=say)
    for (what, delivery), result in zip(deliveries, results, strict=True):
        report(what, delivery.target.host, result)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        receivers = receivers_now()
    except target.BadConfig as bad:
        error(str(bad))
        return EXIT_BAD_CONFIG
    if receivers is None:
        return EXIT_OK
    outcome, problems = inputs.read_outcome(args.record)
    for problem in problems:
        error(f"{problem}; notifying with status {outcome.status!r}")
    document = payload.build(
        outcome, inputs.run_context(), problems[0].source if problems else None
    )
    send(receivers, document, policy_of(args))
    return EXIT_BAD_CONFIG if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
