"""`nox -s notify`: post the run's outcome to the SOC webhook, signed, bounded in
time and size, without ever printing the webhook URL or the signing secret.

inputs    what happened: reports/pipeline.json, or the CI job's environment
payload   the JSON document sent (counts and rule ids, never findings' text)
signing   HMAC-SHA256 headers a receiver verifies and uses to reject replays
target    validating SHUFFLE_WEBHOOK_URL and naming it by its host only
delivery  httpx with timeouts, retries, backoff and a hard time bound
"""

import os

# Here rather than in target: the pipeline asks without importing httpx.
URL_ENV = "SHUFFLE_WEBHOOK_URL"
NOT_CONFIGURED = f"notification skipped: {URL_ENV} is not set"


def configured() -> bool:
    """Whether a webhook is set at all: without one there is nowhere to post."""
    return bool(os.environ.get(URL_ENV, "").strip())
