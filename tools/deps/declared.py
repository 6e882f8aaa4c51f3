"""What a manifest declares: the records every declaration form is read into.

A ``Declared`` is one dependency as its manifest states it (an exact pin or a
range, with the line it stands on); a ``Manifest`` is one file of the
repository's, with everything it declares and every problem found reading it
(an index option, a direct URL). The forms (requirements files, pyproject.toml,
the locks) are read in ``tools.deps.forms``; which files count is decided in
``tools.deps.discovery``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tools.errors import PinError
from tools.verdict import Finding

PROJECT, PIPELINE = "project", "pipeline"
# The rule ids of what reading a manifest finds: supply-chain risks, not advisories.
INDEX_OPTION = "deps-index-option"
DIRECT_URL = "deps-direct-url"


@dataclass(frozen=True)
class Declared:
    """One dependency as a manifest declares it."""

    manifest: str  # the manifest's path, relative to the repository
    line: int
    name: str  # canonical (PEP 503)
    specifier: str = ""  # "" for any version
    marker: str | None = None
    hashes: tuple[str, ...] = ()
    # "build" for a build system's requires: installed apart, so resolved apart.
    scope: str = "install"

    @property
    def exact(self) -> str | None:
        """The one version this pins, or None for a range."""
        clauses = [clause.strip() for clause in self.specifier.split(",") if clause.strip()]
        if len(clauses) != 1:
            return None
        clause = clauses[0]
        for operator in ("===", "=="):
            if clause.startswith(operator):
                version = clause.removeprefix(operator).strip()
                return version if version and "*" not in version else None
        return None

    def requirement(self) -> str:
        """A PEP 508 line for a resolver (markers kept: the resolver weighs them)."""
        marker = f" ; {self.marker}" if self.marker else ""
        return f"{self.name}{self.specifier}{marker}"


@dataclass
class Manifest:
    path: str  # relative to the repository, POSIX
    form: str  # "requirements", "pyproject", "uv.lock", "poetry.lock", ...
    owner: str = PROJECT  # PROJECT, or PIPELINE for the pipeline's own tool locks
    declared: list[Declared] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    is_lock: bool = False  # every entry exact: what an install gets
    locked_by: str | None = None  # the lock that pins this manifest's ranges, if any
    includes: list[str] = field(default_factory=list)  # files it pulls in (-r, -c)


def parse_requirement(text: str, manifest: str, line: int) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as error:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise PinError(f"{manifest}:{line}: not a requirement ({error}): {shown}") from None


def declared(requirement: Requirement, manifest: str, line: int, **extra: object) -> Declared:
    return Declared(
        manifest=manifest,
        line=line,
        name=canonicalize_name(requirement.name),
        specifier=str(requirement.specifier),
        marker=str(requirement.marker) if requirement.marker else None,
        **extra,  # type: ignore[arg-type]
    )


def direct_url(manifest: str, line: int, name: str) -> Finding:
    return Finding(
        rule=DIRECT_URL,
        level="error",
        path=manifest,
        line=line,
        message=(
            f"{name} comes from a URL or a path outside the repository, which no advisory "
            "can be matched against: depend on a released version"
        ),
        blocking=True,
    )
