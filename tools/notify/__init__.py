"""`nox -s notify`: post the run's outcome to the SOC webhook and/or as a TheHive
alert, authenticated, bounded in time and size, without ever printing a URL's
token, the signing secret, the token header's value or the API key.

inputs    what happened: reports/pipeline.json, or the CI job's environment
payload   the JSON document sent (counts and rule ids, never findings' text)
signing   the signatures: Standard Webhooks, GitHub's X-Hub-Signature-256, legacy
schemes   which of them (and a static token header) the webhook carries
thehive   the same outcome as a TheHive alert, its Markdown escaped
target    validating the receivers' URLs and naming them by their host only
delivery  httpx with timeouts, retries, backoff and a hard time bound
"""

import os

# Here rather than in target: the pipeline asks without importing httpx.
URL_ENV = "SHUFFLE_WEBHOOK_URL"
THEHIVE_URL_ENV = "THEHIVE_URL"
NOT_CONFIGURED = f"notification skipped: {URL_ENV} is not set"


def configured() -> bool:
    """Whether a receiver is set at all (a webhook, TheHive, or both): without
    one there is nowhere to post."""
    return any(os.environ.get(name, "").strip() for name in (URL_ENV, THEHIVE_URL_ENV))
