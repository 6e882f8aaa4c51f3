"""Semgrep's registry packs for an air-gapped runner: fetched once on a
connected machine into a local store, pinned by digest, run from there offline.

    nox -s semgrep-packs -- DIR          # on a connected machine: fetch the configured packs
    PIPELINE_SEMGREP_PACKS=DIR nox -s sast   # anywhere: run them from DIR, no network

The store is one file per pack and ``packs.json``, which records where and when
they were fetched and each file's SHA-256. The gate refuses a store that lacks a
configured pack, or whose file no longer matches its digest, and says how old
the store is. As the advisory mirror does for ``deps``: the same checks on a
laptop, in CI and on a runner with no network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from tools import network, settings
from tools.clock import utc_now
from tools.errors import GateError, PipelineError

STORE_ENV = "PIPELINE_SEMGREP_PACKS"
MANIFEST = "packs.json"
SCHEMA_VERSION = 1
DEFAULT_REGISTRY = "https://semgrep.dev"
TIMEOUT_S = 60
# A store older than this is reported as one to refresh: packs gain rules weekly.
STALE_DAYS = 30


class PackError(PipelineError):
    """A pack could not be fetched or stored."""


def registry() -> str:
    """Where Semgrep fetches the packs from: SEMGREP_URL, as Semgrep itself reads it."""
    return os.environ.get("SEMGREP_URL") or DEFAULT_REGISTRY


def store() -> Path | None:
    value = (os.environ.get(STORE_ENV) or "").strip()
    return Path(value) if value else None


def file_name(pack: str) -> str:
    return pack.replace("/", "-").replace(":", "-") + ".yml"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(folder: Path, packs: tuple[str, ...]) -> tuple[list[Path], str]:
    """The configured packs' files from the store, each checked against its
    digest, and a note saying where they came from and how old they are."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        recorded = manifest["packs"]
        fetched = datetime.fromisoformat(str(manifest["fetched_at"]).replace("Z", "+00:00"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GateError(
            f"{STORE_ENV}={folder} holds no readable {MANIFEST} ({type(error).__name__}): "
            "fetch the packs with `nox -s semgrep-packs -- DIR` on a connected machine"
        ) from None
    files = []
    for pack in packs:
        entry = recorded.get(pack) if isinstance(recorded, dict) else None
        if not isinstance(entry, dict):
            raise GateError(
                f"pack {pack} is not in the store {folder}: fetch it with "
                f"`nox -s semgrep-packs -- {folder}` on a connected machine"
            )
        path = folder / Path(str(entry.get("file"))).name
        if not path.is_file() or digest(path) != entry.get("sha256"):
            raise GateError(
                f"pack {pack} in {folder} is not the file that was fetched (its SHA-256 "
                "differs): fetch the packs again"
            )
        files.append(path.resolve())
    age = (datetime.now(UTC) - fetched).days
    note = (
        f"registry packs from the local store {folder}, fetched {fetched.date()} "
        f"({age} day(s) ago) from {manifest.get('registry', '?')}: {', '.join(packs)}"
    )
    if age > STALE_DAYS:
        note += f"; older than {STALE_DAYS} days: fetch them again"
    return files, note


def fetch(packs: tuple[str, ...], folder: Path, registry: str) -> dict[str, str]:
    """Each pack downloaded from ``registry`` into ``folder``; the manifest last,
    so that a store interrupted half-way holds no manifest naming missing files."""
    # One GET per pack and no session to keep: the standard library is enough here.
    folder.mkdir(parents=True, exist_ok=True)
    host = network.address(registry).host
    recorded = {}
    for pack in packs:
        url = f"{registry.rstrip('/')}/c/{pack}"
        try:
            # http(s) only: network.address above refused any other scheme.
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:  # noqa: S310 -- see above
                body = answer.read()
        except (urllib.error.URLError, OSError) as error:
            raise PackError(f"cannot fetch {pack} from {host}: {error}") from None
        text = body.decode("utf-8", "replace").lstrip()
        if not (text.startswith("rules:") or text.startswith("{")):
            raise PackError(f"{host} answered {pack} with something that is no rule file")
        path = folder / file_name(pack)
        path.write_bytes(body)
        recorded[pack] = {"file": path.name, "sha256": digest(path)}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "registry": host,
        "fetched_at": utc_now(),
        "packs": recorded,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {pack: entry["sha256"] for pack, entry in recorded.items()}


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(prog="semgrep-packs", description=__doc__.splitlines()[0])
    options.add_argument("folder", type=Path, help="the store to fill")
    options.add_argument(
        "--pack",
        action="append",
        default=[],
        help="a pack to fetch (repeatable; default: [tool.pipeline] semgrep-packs)",
    )
    args = options.parse_args(argv)
    try:
        packs = tuple(args.pack) or settings.load().semgrep_packs
        if not packs:
            print("semgrep-packs: no pack is configured: nothing to fetch")
            return 0
        fetched = fetch(packs, args.folder, registry())
    except (PipelineError, ValueError) as error:
        print(f"semgrep-packs: error: {error}", file=sys.stderr)
        return 2
    for pack, sha in fetched.items():
        print(f"semgrep-packs: {pack} -> {args.folder / file_name(pack)} (sha256 {sha[:16]}...)")
    print(f"semgrep-packs: run offline with {STORE_ENV}={args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
