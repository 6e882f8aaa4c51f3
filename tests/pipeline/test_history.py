"""The `secrets` gate cannot be blinded: each way of hiding a change from
`git log -p` (attributes, drivers, merges, messages, binaries) fails the gate
with the right rule, and the planted value shows in no output.

Every secret-shaped value is built at run time: this file is in the history the
gate scans.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from secrets_repos import (
    CONFIG,
    GIT_ENV,
    GateRun,
    aws_key,
    commit,
    git,
    github_token,
    new_repo,
    run_gate,
)

from tools import gitleaks, history
from tools.gates import secrets as gate


def leaks(run: GateRun) -> list[tuple[str, str, str, int | None]]:
    """(rule, kind, file, line) of each leak the gate reported."""
    found = run.report("secrets.json")["leaks"]
    return sorted((leak["rule"], leak["kind"], leak["file"], leak["line"]) for leak in found)


def assert_caught(run: GateRun, *expected: tuple[str, str, str, int | None], shown: str) -> None:
    """The gate failed on exactly ``expected``, and ``shown`` appears nowhere."""
    assert run.code == 1, run.stderr
    assert run.record["status"] == "failed"
    assert leaks(run) == sorted(expected)
    run.assert_never_shows(shown)


def both_modes(repo: Path, base: str) -> list[GateRun]:
    """The full history, and the pull request's range BASE..HEAD."""
    return [run_gate(repo), run_gate(repo, env={gate.BASE_REF_ENV: base})]


def plain_gitleaks_git(repo: Path) -> int:
    """What `gitleaks git` alone says of ``repo``: its exit code, 3 for leaks."""
    binary, _ = gitleaks.find()
    argv = [str(binary), "git", "--no-banner", "--redact", "--exit-code=3", f"--config={CONFIG}"]
    result = subprocess.run([*argv, "."], cwd=repo, env=GIT_ENV, capture_output=True, check=False)
    return result.returncode


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = new_repo(tmp_path / "repo")
    commit(path, "start", {"README.md": "# demo\n"})
    return path


# -- attributes, drivers and git configuration cannot hide a change -----------------


# Each spelling, and whether it blinds plain `gitleaks git` (`-text` only changes
# line endings, but is read the same way).
ATTRIBUTES = {
    "*.cfg -diff": True,
    "*.cfg binary": True,
    "*.cfg diff=hide": True,
    "*.cfg -text": False,
}


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_attributes_cannot_hide_a_file(repo: Path, attribute: str) -> None:
    base = git(repo, "rev-parse", "HEAD")
    # A textconv that prints nothing: `git log -p` would show an empty change.
    git(repo, "config", "diff.hide.textconv", "true")
    token = github_token()
    commit(repo, "deploy", {".gitattributes": attribute + "\n", "deploy.cfg": f"token={token}\n"})
    if ATTRIBUTES[attribute]:
        assert plain_gitleaks_git(repo) == 0  # the hole: gitleaks alone passes
    for run in both_modes(repo, base):
        assert_caught(run, ("github-pat", "file", "deploy.cfg", 1), shown=token)


def test_attributes_from_info_and_global_config_cannot_hide_a_file(
    repo: Path, tmp_path: Path
) -> None:
    (repo / ".git" / "info" / "attributes").write_text("*.cfg -diff\n", encoding="utf-8")
    global_attributes = tmp_path / "attributes"
    global_attributes.write_text("*.ini binary\n", encoding="utf-8")
    global_config = tmp_path / "gitconfig"
    global_config.write_text(f"[core]\n\tattributesFile = {global_attributes}\n", "utf-8")
    first, second = github_token(), aws_key()
    commit(repo, "deploy", {"a.cfg": f"token={first}\n", "b.ini": f"id = {second}\n"})
    run = run_gate(repo, env={"GIT_CONFIG_GLOBAL": str(global_config)})
    assert_caught(
        run,
        ("github-pat", "file", "a.cfg", 1),
        ("aws-access-token", "file", "b.ini", 1),
        shown=first,
    )
    run.assert_never_shows(second)


# -- merges: a merge's own changes, against each parent ----------------------------------


def test_a_secret_added_in_a_merge_is_found(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "feature", {"feature.py": "FEATURE = 1\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "main moves on", {"main.py": "MAIN = 1\n"})
    git(repo, "merge", "-q", "--no-commit", "feature")
    token = github_token()
    (repo / "evil.env").write_text(f"GH_AUTH={token}\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Merge feature")
    merge = git(repo, "rev-parse", "HEAD")
    assert plain_gitleaks_git(repo) == 0
    for run in both_modes(repo, base):
        assert_caught(run, ("github-pat", "file", "evil.env", 1), shown=token)
        assert run.report("secrets.json")["leaks"][0]["commit"] == merge
        assert run.report("secrets.json")["coverage"]["merges"] == 1


def test_a_secret_in_a_conflict_resolution_is_found(repo: Path) -> None:
    commit(repo, "settings", {"settings.py": "TIMEOUT = 1\n"})
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "feature timeout", {"settings.py": "TIMEOUT = 2\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "main timeout", {"settings.py": "TIMEOUT = 3\n"})
    conflicted = subprocess.run(
        ["git", "merge", "-q", "feature"], cwd=repo, env=GIT_ENV, capture_output=True, check=False
    )
    assert conflicted.returncode != 0  # a real conflict, resolved by hand below
    key = aws_key()
    commit(repo, "Merge feature", {"settings.py": f'TIMEOUT = 3\nAWS_KEY_ID = "{key}"\n'})
    assert len(git(repo, "rev-parse", "HEAD^@").split()) == 2
    assert_caught(run_gate(repo), ("aws-access-token", "file", "settings.py", 2), shown=key)


def test_a_secret_a_branch_brings_is_reported_once_at_its_own_commit(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    token = github_token()
    leak = commit(repo, "feature", {"deploy.env": f"GH_AUTH={token}\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "main moves on", {"main.py": "MAIN = 1\n"})
    git(repo, "merge", "-q", "--no-edit", "feature")
    run = run_gate(repo)
    assert_caught(run, ("github-pat", "file", "deploy.env", 1), shown=token)
    assert run.report("secrets.json")["leaks"][0]["commit"] == leak


# -- commit messages and annotated tags ----------------------------------------------------


@pytest.mark.parametrize("where", ["subject", "body"])
def test_a_secret_in_a_commit_message_is_found_and_never_quoted(repo: Path, where: str) -> None:
    base = git(repo, "rev-parse", "HEAD")
    token, marker = github_token(), "zebra-quartz-marker"
    subject = f"deploy with {token}" if where == "subject" else f"deploy {marker}"
    body = f"\n\nThe {marker} token is {token}\n" if where == "body" else ""
    leaky = commit(repo, subject + body, {"app.py": "APP = 1\n"})
    line = 6 if where == "subject" else 8  # tree, parent, author, committer, blank, subject
    for run in both_modes(repo, base):
        assert_caught(run, ("github-pat", "message", history.MESSAGE_PATH, line), shown=token)
        assert run.report("secrets.json")["leaks"][0]["commit"] == leaky
        assert f"message of commit {leaky[:12]}" in run.stderr
        run.assert_never_shows(marker)


def test_a_message_is_never_copied_into_a_report(repo: Path) -> None:
    """gitleaks copies a commit's message into SARIF (`commitMessage`): ours never."""
    marker, token, key = "walrus-umbrella-marker", github_token(), aws_key()
    message = f"add deploy settings {marker}\n\nwith {token}"
    commit(repo, message, {"deploy.py": f'KEY_ID = "{key}"\n'})
    run = run_gate(repo)
    assert run.code == 1
    assert {rule for rule, *_ in leaks(run)} == {"github-pat", "aws-access-token"}
    run.assert_never_shows(marker, token, key)
    for result in run.report("secrets.sarif")["runs"][0]["results"]:
        assert "commitMessage" not in result["partialFingerprints"]


def test_a_secret_in_an_annotated_tag_is_found(repo: Path) -> None:
    token = github_token()
    git(repo, "tag", "-a", "v1.0", "-m", f"release\n\nsigned off with {token}")
    tag = git(repo, "rev-parse", "v1.0")
    run = run_gate(repo)
    assert_caught(run, ("github-pat", "tag", history.TAG_PATH, 8), shown=token)
    assert run.report("secrets.json")["leaks"][0]["commit"] == tag
    assert f"annotated tag object {tag[:12]}" in run.stderr


def test_a_tag_of_another_history_is_not_this_commits_verdict(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    commit(repo, "elsewhere", {"other.py": "OTHER = 1\n"})
    git(repo, "tag", "-a", "other-1", "-m", f"other {github_token()}")
    git(repo, "checkout", "-q", "main")
    run = run_gate(repo)
    assert run.code == 0, run.stderr
    assert run.report("secrets.json")["coverage"]["tags"] == 0


def test_a_range_covers_the_merges_and_messages_of_the_range_only(repo: Path) -> None:
    old_token, new_token = github_token(), github_token()
    commit(repo, f"old {old_token}", {"a.py": "A = 1\n"})
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "feature", {"b.py": "B = 1\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, "main", {"c.py": "C = 1\n"})
    git(repo, "merge", "-q", "--no-edit", "feature")
    base = git(repo, "rev-parse", "HEAD")
    newer = commit(repo, f"new {new_token}", {"d.py": "D = 1\n"})
    run = run_gate(repo, "--base-ref", base)
    assert_caught(run, ("github-pat", "message", history.MESSAGE_PATH, 6), shown=new_token)
    assert run.report("secrets.json")["leaks"][0]["commit"] == newer
    coverage = run.report("secrets.json")["coverage"]
    assert (coverage["commits"], coverage["merges"], coverage["messages"]) == (1, 0, 1)
    run.assert_never_shows(old_token)
    full = run_gate(repo)
    assert full.report("secrets.json")["coverage"]["merges"] == 1
    assert len(leaks(full)) == 2


# -- binary files: their text runs, and what archives hold ------------------------------


def binary_with(text: str) -> bytes:
    return b"\x00\x01\x02\xff header\x00" + text.encode() + b"\x00\xfe\xfd trailer\x00"


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def tarred(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


BINARIES = {
    # name in the repository, how the key is stored, where the gate reports it
    "NUL bytes": ("blob.dat", binary_with, "blob.dat"),
    "an allowlisted extension": ("logo.png", binary_with, "logo.png"),
    "PDF magic on a text file": ("notes.txt", lambda text: f"%PDF-1.4\n{text}\n".encode(), None),
    "UTF-16": ("notes.reg", lambda text: ("\ufeff" + text + "\r\n").encode("utf-16-le"), None),
    "gzip": ("dump.json.gz", lambda text: gzip.compress(text.encode()), "dump.json.gz!dump.json"),
    "bzip2": ("dump.bz2", lambda text: bz2.compress(text.encode()), "dump.bz2!dump"),
    "xz": ("dump.xz", lambda text: lzma.compress(text.encode()), "dump.xz!dump"),
    "zip": (
        "bundle.zip",
        lambda text: zipped("conf/app.ini", text.encode()),
        "bundle.zip!conf/app.ini",
    ),
    "tar.gz in a zip": (
        "nested.zip",
        lambda text: zipped("inner.tgz", tarred("etc/app.ini", text.encode())),
        "nested.zip!inner.tgz!inner.tar!etc/app.ini",
    ),
}


@pytest.mark.parametrize("how", BINARIES)
def test_a_key_in_a_binary_or_archive_is_found(repo: Path, how: str) -> None:
    name, store, reported = BINARIES[how]
    key = aws_key()
    commit(repo, "data", {name: store(f"aws_access_key_id={key}")})
    run = run_gate(repo)
    assert run.code == 1, run.stderr
    assert {(rule, file) for rule, _, file, _ in leaks(run)} == {
        ("aws-access-token", reported or name)
    }
    run.assert_never_shows(key)


def test_a_decompression_bomb_fails_closed(repo: Path) -> None:
    commit(repo, "bomb", {"bomb.gz": gzip.compress(b"\0" * (70 * 2**20))})
    run = run_gate(repo)
    assert run.code == 2, run.stderr
    assert "bomb.gz" in run.record["reason"]
    assert "cannot be read whole" in run.record["reason"]


# -- what the gate's own scan of gitleaks cannot be talked out of ----------------------


def test_gitleaks_allow_is_the_gates_and_counted(repo: Path) -> None:
    token = github_token()
    allow = "# gitleaks:allow github-pat -- revoked before it was committed"
    commit(repo, "allowed", {"a.env": f"GH_AUTH={token}  {allow}\n"})
    run = run_gate(repo)
    assert run.code == 0, run.stderr
    [suppressed] = run.report("secrets.json")["suppressed"]
    assert (suppressed["rule"], suppressed["suppressed_by"]) == ("github-pat", "gitleaks:allow")
    [result] = run.report("secrets.sarif")["runs"][0]["results"]
    assert result["suppressions"][0]["kind"] == "inSource"
    assert "1 finding(s) suppressed" in run.stdout
    run.assert_never_shows(token)


def test_a_gitleaksignore_naming_scratch_files_silences_nothing(repo: Path) -> None:
    token = github_token()
    # Global fingerprints (`file:rule:line`) for the names the gate's scratch files
    # have: gitleaks would honour them if it read this file.
    guesses = "".join(f"{n}:github-pat:2\n{n}/a.env:github-pat:2\n" for n in range(20))
    commit(repo, "ignore", {".gitleaksignore": guesses, "a.env": f"GH_AUTH={token}\n"})
    assert_caught(run_gate(repo), ("github-pat", "file", "a.env", 1), shown=token)


def test_a_clean_history_of_every_kind_passes_and_says_what_it_covered(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "feature", {"feature.py": "FEATURE = 1\n", "logo.png": binary_with("PNG data")})
    git(repo, "checkout", "-q", "main")
    commit(repo, "main", {"data.gz": gzip.compress(b"plain data\n" * 10)})
    git(repo, "merge", "-q", "--no-edit", "feature")
    git(repo, "tag", "-a", "v1", "-m", "first release")
    run = run_gate(repo)
    assert run.code == 0, run.stderr
    coverage = run.report("secrets.json")["coverage"]
    assert coverage["commits"] == 4
    assert coverage["merges"] == 1
    assert coverage["parent_diffs"] == 5
    assert coverage["messages"] == 4
    assert coverage["tags"] == 1
    assert coverage["files"] == 4
    assert coverage["binary_files"] == 2  # the PNG, and the gzip stream itself
    assert coverage["archive_members"] == 1
    assert coverage["bytes_scanned"] > 0
    [note] = [note for note in run.record["notes"] if "commit(s)" in note]
    assert "4 commit(s) of the full history of HEAD: 1 merge(s) against each parent" in note
    assert "4 message(s), 1 annotated tag(s), 4 file version(s) (2 binary" in note
    assert json.loads(json.dumps(run.report("secrets.sarif")))["runs"][0]["results"] == []
