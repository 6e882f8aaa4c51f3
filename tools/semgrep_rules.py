"""The project's own Semgrep rule pack: every ``.semgrep/<name>.yml`` of the
policy, each with its fixture ``.semgrep/tests/<name>.py``.

Two ways to hand it to Semgrep, each chosen for its cost:

- the scan gets the pack merged into one config file: Semgrep validates each
  config file in a separate semgrep-core call, about 0.2 s each, so 16 files as
  16 ``--config`` flags made a scan of this project 61 % slower than
  ``rules.yml`` alone, and the merged file 39 % (medians of 5 rounds, when the
  pack was written; on today's larger tree the merged pack takes 5.96 s against
  4.50 s for the old ``rules.yml``, once each rule names only words its code
  holds: README, "Keep the pack cheap");
- the rule tests run once for every pair (``semgrep --test --config RULES
  TESTS``, 6.5 s for the 16 pairs here), on a copy of the pack outside any
  hidden folder: Semgrep's test mode skips files under one, and would pass
  having tested nothing.

Semgrep names a rule of a local file after the file's folder; every id is
read back as the rule's own (``local_id``), so that an alert, a baseline entry
or a suppression names a rule the same way wherever the pack was read from.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tools import policy
from tools.errors import GateError

FOLDER = ".semgrep"
TESTS = "tests"
SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class Pack:
    files: tuple[Path, ...]  # the rule files, sorted
    fixtures: tuple[Path, ...]  # each one's fixture, in the same order

    def digest(self, *extra: str) -> str:
        """What the rule tests' verdict depends on: every file of the pack."""
        digest = hashlib.sha256("\0".join(extra).encode())
        for path in (*self.files, *self.fixtures):
            digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()


def pack(root: Path | None = None) -> Pack:
    """The policy's rule files and their fixtures; a rule file without its
    fixture, or no rule file at all, is a gate error."""
    folder = (root or policy.root()) / FOLDER
    files = sorted(p for p in folder.glob("*") if p.suffix in SUFFIXES and p.is_file())
    if not files:
        raise GateError(f"{folder} holds no rule file: the gate needs the rules and their tests")
    fixtures = []
    for path in files:
        fixture = folder / TESTS / f"{path.stem}.py"
        if not fixture.is_file():
            raise GateError(
                f"{path.name} has no fixture at {fixture}: every rule file is tested, "
                "with `# ruleid:` and `# ok:` lines"
            )
        fixtures.append(fixture)
    return Pack(tuple(files), tuple(fixtures))


def merged(rules: Pack, dest: Path) -> Path:
    """Every rule of the pack in one config file at ``dest``; a file that is not
    a rule file, or two rules with one id, is a gate error."""
    import yaml  # noqa: PLC0415 -- the sast venv's: the gate table loads this module anywhere

    every: list[dict] = []
    seen: dict[str, str] = {}
    for path in rules.files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise GateError(f"{path.name} is not YAML: {type(error).__name__}") from None
        found = document.get("rules") if isinstance(document, dict) else None
        if not isinstance(found, list):
            raise GateError(f"{path.name} has no `rules:` list")
        for rule in found:
            rule_id = str(rule.get("id")) if isinstance(rule, dict) else "?"
            if rule_id in seen:
                raise GateError(f"rule {rule_id} is in both {seen[rule_id]} and {path.name}")
            seen[rule_id] = path.name
            every.append(rule)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: Semgrep reads it as a rule file, with no YAML writer needed.
    dest.write_text(json.dumps({"rules": every}), encoding="utf-8")
    return dest


def test_layout(rules: Pack, dest: Path) -> tuple[Path, Path]:
    """The pack copied to ``dest/rules`` and ``dest/tests``, names paired."""
    for folder, paths in (("rules", rules.files), ("tests", rules.fixtures)):
        (dest / folder).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copyfile(path, dest / folder / path.name)
    return dest / "rules", dest / "tests"


def id_prefix(config: Path, cwd: Path) -> str:
    """What Semgrep puts before the id of a rule read from ``config``: its
    folder, relative to ``cwd`` when inside it, dotted, leading dots dropped."""
    folder = config.parent.resolve()
    try:
        shown = folder.relative_to(cwd.resolve()).as_posix()
    except ValueError:
        shown = folder.as_posix().lstrip("/")
    return shown.replace("/", ".").lstrip(".") + "."


def local_id(check_id: str, configs: list[Path], cwd: Path) -> str:
    """A rule's own id, whichever local config file it came from."""
    for config in configs:
        prefix = id_prefix(config, cwd)
        if check_id.startswith(prefix):
            return check_id.removeprefix(prefix)
    return check_id


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.semgrep_rules DEST``: the pack merged into DEST, as the
    gate does it (the benchmark's bare Semgrep run times this step too)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.semgrep_rules DEST", file=sys.stderr)
        return 2
    try:
        merged(pack(), Path(args[0]))
    except GateError as error:
        print(f"semgrep_rules: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
