"""GitHub's REST API, the little the trusted run needs: a workflow run's jobs,
a pull request, a commit status.

httpx with explicit timeouts and no redirects followed (a redirect would carry
the token elsewhere). Any failure is a ``GitHubError`` of one line that names
the request, never the token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from tools.errors import PipelineError
from tools.network import address, offline_requested

API_ENV = "GITHUB_API_URL"
TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105 -- the variable's name, not its value
DEFAULT_API = "https://api.github.com"
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
# A workflow run has one job per gate; 100 a page, and no run has 10 pages of them.
PAGE_SIZE, MAX_PAGES = 100, 10


class GitHubError(PipelineError):
    """GitHub's API could not answer what the trusted run asked."""


@dataclass(frozen=True)
class Api:
    url: str  # the API's root, no trailing slash
    token: str
    repository: str  # owner/name

    @classmethod
    def from_environment(cls) -> Api:
        url = (os.environ.get(API_ENV) or DEFAULT_API).strip().rstrip("/")
        try:
            where = address(url)
        except ValueError as error:
            raise GitHubError(f"{API_ENV} {error}") from None
        if offline_requested() and where.host not in {"127.0.0.1", "::1", "localhost"}:
            raise GitHubError(f"PIPELINE_OFFLINE=1 forbids reaching {where.host}: unset it")
        token = (os.environ.get(TOKEN_ENV) or "").strip()
        if not token:
            raise GitHubError(f"{TOKEN_ENV} is not set: pass ${{{{ github.token }}}} to the job")
        repository = (os.environ.get("GITHUB_REPOSITORY") or "").strip()
        if repository.count("/") != 1:
            raise GitHubError("GITHUB_REPOSITORY is not owner/name")
        return cls(url, token, repository)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        shown = f"{method} {path}"
        try:
            with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
                answer = client.request(method, f"{self.url}{path}", headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise GitHubError(f"GitHub API {shown}: {type(error).__name__}") from None
        if answer.status_code >= 300:
            raise GitHubError(f"GitHub API {shown}: HTTP {answer.status_code}")
        try:
            return answer.json()
        except ValueError:
            raise GitHubError(f"GitHub API {shown}: the answer is not JSON") from None

    def get(self, path: str, **params: str | int) -> Any:
        return self._request("GET", f"/repos/{self.repository}{path}", params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._request("POST", f"/repos/{self.repository}{path}", json=body)

    def jobs(self, run_id: int) -> list[dict[str, Any]]:
        """Every job of the run's latest attempt."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            answer = self.get(f"/actions/runs/{run_id}/jobs", per_page=PAGE_SIZE, page=page)
            batch = answer.get("jobs") if isinstance(answer, dict) else None
            if not isinstance(batch, list):
                raise GitHubError(f"GitHub API: run {run_id}'s jobs are not a list")
            found += [job for job in batch if isinstance(job, dict)]
            if len(batch) < PAGE_SIZE:
                break
        return found

    def status(self, sha: str, state: str, context: str, description: str, url: str) -> None:
        self.post(
            f"/statuses/{sha}",
            {"state": state, "context": context, "description": description, "target_url": url},
        )
