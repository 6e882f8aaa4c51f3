"""`nox -s notify`: post the run's outcome to the SOC webhook, authenticated,
bounded in time and size, without ever printing the webhook URL, the signing
secret or the token header's value.

inputs    what happened: reports/pipeline.json, or the CI job's environment
payload   the JSON document sent (counts and rule ids, never findings' text)
signing   the signatures: Standard Webhooks, GitHub's X-Hub-Signature-256, legacy
schemes   which of them (and a static token header) the webhook carries
target    validating the receivers' URLs and naming them by their host only
delivery  httpx with timeouts, retries, backoff and a hard time bound
"""

import os

# Here rather than in target: the pipeline asks without importing httpx.
URL_ENV = "SHUFFLE_WEBHOOK_URL"
NOT_CONFIGURED = f"notification skipped: {URL_ENV} is not set"


def configured() -> bool:
    """Whether a webhook is set at all: without one there is nowhere to post."""
    return bool(os.environ.get(URL_ENV, "").strip())
