"""The project's gitleaks rules (.gitleaks.toml), through the real gate.

The gaps of issue #23 (Django and Flask keys, database URLs, passwords, GCP
key files, hex keys under the entropy floor, a key containing EXAMPLE), the
false positives it named, one finding per secret, and a check that the config
catches at least what gitleaks' defaults catch. Every secret-shaped value is
built at run time: this file is in the history the gate scans.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from secrets_repos import (
    ALNUM,
    CONFIG,
    GateRun,
    aws_key,
    commit,
    entropy,
    github_token,
    new_repo,
    random_text,
    random_value,
    run_gate,
)

from tools import gitleaks

# PEM armour, assembled: the armour lines of a key written out here would be a
# key to gitleaks' `private-key` rule when the gate scans this file.
DASHES = "-" * 5
DJANGO = string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)"


def with_symbols(length: int, symbols: str = "#$") -> str:
    """A value holding symbols that stop gitleaks' generic value classes, so that
    only the rule under test can match it."""
    half = (length - len(symbols)) // 2
    return draw(ALNUM, half) + symbols + draw(ALNUM, length - half - len(symbols))


def hex_under_the_floor() -> str:
    """32 hex digits whose entropy the generic rules' 3.5 floor rejects."""
    while True:
        text = "".join(
            secrets.choice("0123456789abcdef"[: secrets.choice((9, 10, 11))]) for _ in range(32)
        )
        if 2.8 < entropy(text) <= 3.5:
            return text


def draw(alphabet: str, length: int) -> str:
    """Random characters, with no entropy floor (for short or narrow values)."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def gmail_app_password() -> str:
    return " ".join(draw(string.ascii_lowercase, 4) for _ in range(4))


def gcp_service_account() -> str:
    body = base64.b64encode(secrets.token_bytes(1200)).decode()
    pem = f"{DASHES}BEGIN PRIVATE KEY{DASHES}\n" + "\n".join(textwrap.wrap(body, 64))
    key = {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem + f"\n{DASHES}END PRIVATE KEY{DASHES}\n",
        "client_email": "deployer@demo-project.iam.gserviceaccount.com",
        "client_id": "1" + draw(string.digits, 20),
    }
    return json.dumps(key, indent=2)


# Each sample: how to build its line, and the rule that must report it (None:
# any rule, the line is what counts).
CAUGHT: dict[str, tuple[Callable[[], str], str | None]] = {
    # the generic assignment rule's shapes
    "api_key": (lambda: f'api_key = "{random_value()}"', None),
    "apikey in YAML": (lambda: f"apikey: {random_value()}", None),
    "SECRET_KEY": (lambda: f'SECRET_KEY = "{random_value()}"', None),
    "value with -_+/=": (lambda: f"DEPLOY_TOKEN={random_value('-_+/=')}", None),
    "JSON with spacing": (lambda: f'  "api_key"  :  "{random_value()}",', None),
    "type annotation": (lambda: f'API_TOKEN: str = "{random_value()}"', None),
    "subscript": (lambda: f"app.config['SECRET_KEY'] = '{random_value()}'", None),
    "padded base64": (lambda: f'secret => "{random_value()}=="', None),
    # the gaps of issue #23
    "Django startproject key": (
        lambda: f"SECRET_KEY = 'django-insecure-{random_text(DJANGO, 50)}'",
        "django-secret-key",
    ),
    "Django key": (lambda: f'SECRET_KEY = "{random_text(DJANGO, 50)}"', "django-secret-key"),
    "Flask secret_key": (
        lambda: f"app.secret_key = '{with_symbols(24)}'",
        "flask-secret-key",
    ),
    "Flask bytes key, docs style": (
        lambda: "app.secret_key = b'" + draw(ALNUM, 8) + '"#y\\n\\xec]/' + "'",
        "flask-secret-key",
    ),
    "Flask config key with symbols": (
        lambda: f'app.config["SECRET_KEY"] = "{with_symbols(20)}"',
        "flask-secret-key",
    ),
    "DATABASE_URL": (
        lambda: f'DATABASE_URL = "postgres://app:{random_text(ALNUM, 16)}@db.internal:5432/app"',
        "database-url-password",
    ),
    "SQLALCHEMY_DATABASE_URI": (
        lambda: f"SQLALCHEMY_DATABASE_URI = 'mysql+pymysql://app:{with_symbols(12)}@db/app'",
        "database-url-password",
    ),
    "REDIS_URL": (
        lambda: f"REDIS_URL=redis://:{random_text(ALNUM, 20)}@cache:6379/0",
        "database-url-password",
    ),
    "EMAIL_HOST_PASSWORD": (
        lambda: f"EMAIL_HOST_PASSWORD = '{with_symbols(14)}'",
        "password-assignment",
    ),
    "Gmail app password": (
        lambda: f'EMAIL_HOST_PASSWORD = "{gmail_app_password()}"',
        "password-assignment",
    ),
    "Django DATABASES password": (
        lambda: f"        'PASSWORD': '{with_symbols(12)}',",
        "password-assignment",
    ),
    ".env password": (lambda: f"DB_PASSWORD={with_symbols(12)}", "password-assignment"),
    "YAML password": (lambda: f"  password: {with_symbols(12, '$%')}", "password-assignment"),
    "hex .env key under the floor": (
        lambda: f"API_KEY={hex_under_the_floor()}",
        "hex-key-assignment",
    ),
    "a real token containing EXAMPLE": (
        lambda: "GH_AUTH=" + github_token()[:18] + "EXAMPLE" + draw(ALNUM, 15),
        "github-pat",
    ),
}
IGNORED: dict[str, Callable[[], str]] = {
    # placeholders, matched whole
    "YOUR_API_KEY": lambda: 'api_key = "YOUR_API_KEY"',
    "your_token_here": lambda: 'API_TOKEN = "your_token_here_0123456789"',
    "changeme": lambda: 'SECRET_KEY = "changeme-0123456789abcdef"',
    "example": lambda: 'token: "example-token-0123456789abcdef"',
    "run of x": lambda: 'api_key = "{}"'.format("x" * 32),
    "masked": lambda: 'STRIPE_KEY = "sk_live_xxxxxxxxxxxxxxxx"',
    "AWS docs access key id": lambda: (
        f'aws_access_key_id = "AKIA{draw(string.ascii_uppercase + "0123456789", 9)}EXAMPLE"'
    ),
    "AWS docs secret key": lambda: (
        f'aws_secret_access_key = "{random_text(ALNUM + "/+", 30)}EXAMPLEKEY"'
    ),
    # names, not secrets
    "a name, not a value": lambda: 'WEBHOOK_SECRET_ENV = "SHUFFLE_WEBHOOK_SECRET"',
    "publicToken": lambda: f'publicToken = "{random_value()}"',
    "csrf-token": lambda: f'<meta name="csrf-token" content="{random_value()}">',
    "csrf-token YAML": lambda: f'csrf-token: "{random_value()}"',
    "a secret's name": lambda: 'LLM_SECRET_NAME = "NEXUS-GPT4-API-KEY"',
    "TOKEN_URL": lambda: 'TOKEN_URL = "https://auth.example.invalid/oauth2/v2/token"',
    "API_KEY_HEADER": lambda: 'API_KEY_HEADER = "X-Api-Key-2"',
    # a typical settings file's non-secrets
    "key from the environment": lambda: 'SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]',
    "local database": lambda: 'DATABASE_URL = "postgres://postgres:postgres@localhost:5432/app"',
    "URL without a password": lambda: 'REDIS_URL = "redis://localhost:6379/0"',
    "URL from variables": lambda: (
        'SQLALCHEMY_DATABASE_URI = "postgresql://${DB_USER}:${DB_PASSWORD}@db/app"'
    ),
    "password from the environment": lambda: (
        'EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")'
    ),
    "password validator": lambda: (
        "    {'NAME': 'django.contrib.auth.password_validation.MinimumLengthValidator'},"
    ),
    "password timeout": lambda: "PASSWORD_RESET_TIMEOUT = 259200",
    "password help": lambda: 'password_help = "At least 12 characters and 1 digit"',
    "Actions secret": lambda: "      password: ${{ secrets.REGISTRY_PASSWORD }}",
    "cache key": lambda: f'cache_key = "{secrets.token_hex(16)}"',
    "empty digest": lambda: 'etag_key = "d41d8cd98f00b204e9800998ecf8427e"',
    "gitleaks:allow": lambda: (
        f'api_key = "{random_value()}"  '
        "# gitleaks:allow generic-api-key-assignment, generic-api-key -- a sample value"
    ),
}


@dataclass
class Samples:
    run: GateRun
    lines: dict[str, int]  # sample -> its line in settings.txt
    values: list[str]

    def rules_on(self, name: str) -> set[str]:
        return {
            leak["rule"]
            for leak in self.run.report("secrets.json")["leaks"]
            if leak["file"] == "settings.txt" and leak["line"] == self.lines[name]
        }


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    repo = new_repo(tmp_path_factory.mktemp("rules") / "repo")
    text = [build() for build, _ in CAUGHT.values()] + [build() for build in IGNORED.values()]
    lines = {name: number for number, name in enumerate([*CAUGHT, *IGNORED], 1)}
    key_file = gcp_service_account()
    commit(repo, "samples", {"settings.txt": "\n".join(text) + "\n", "sa.json": key_file})
    values = [line.split("=", 1)[-1].split(":", 1)[-1] for line in text[: len(CAUGHT)]]
    values.append(json.loads(key_file)["private_key"].splitlines()[1])
    return Samples(run_gate(repo), lines, values)


@pytest.mark.parametrize("name", CAUGHT)
def test_each_secret_is_caught_by_its_rule(samples: Samples, name: str) -> None:
    rule = CAUGHT[name][1]
    found = samples.rules_on(name)
    assert found == {rule} if rule else len(found) == 1, found


@pytest.mark.parametrize("name", IGNORED)
def test_placeholders_and_names_are_not_secrets(samples: Samples, name: str) -> None:
    assert samples.rules_on(name) == set()


def test_a_service_account_key_file_is_one_finding(samples: Samples) -> None:
    on_key_file = [
        (leak["rule"], leak["line"])
        for leak in samples.run.report("secrets.json")["leaks"]
        if leak["file"] == "sa.json"
    ]
    # gitleaks' own `private-key` matches the same span: one finding, ours.
    assert on_key_file == [("gcp-service-account-key", 5)]


def test_samples_fail_the_gate_without_showing_a_value(samples: Samples) -> None:
    assert samples.run.code == 1
    samples.run.assert_never_shows(*(value.strip(" '\",") for value in samples.values))


def plain_gitleaks(folder: Path, config: Path, report: Path) -> list[tuple[str, int]]:
    binary, _ = gitleaks.find()
    subprocess.run(
        [
            *(str(binary), "dir", "--no-banner", "--redact", "-c", str(config)),
            *("--report-format=json", f"--report-path={report}", "."),
        ],
        cwd=folder,
        capture_output=True,
        check=False,
    )
    return sorted((leak["RuleID"], leak["StartLine"]) for leak in json.loads(report.read_text()))


def test_one_line_two_rules_is_one_finding(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    commit(repo, "key", {"app.py": f'api_key = "{random_value()}"\n'})
    by_gitleaks = plain_gitleaks(repo, CONFIG, tmp_path / "raw.json")
    assert {rule for rule, _ in by_gitleaks} == {"generic-api-key", "generic-api-key-assignment"}
    run = run_gate(repo)
    assert [(leak["rule"], leak["line"]) for leak in run.report("secrets.json")["leaks"]] == [
        ("generic-api-key", 1)
    ]


def provider_samples() -> list[str]:
    """Shapes gitleaks' default rules know, built at run time."""
    pem = base64.b64encode(secrets.token_bytes(600)).decode()
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    claims = base64.urlsafe_b64encode(b'{"sub":"1234567890","name":"x"}').decode().rstrip("=")
    return [
        f"aws_id={aws_key()}",
        f"GH_AUTH={github_token()}",
        f"gitlab = glpat-{random_text(ALNUM, 20)}",
        f"slack = xoxb-{draw(string.digits, 12)}-{draw(string.digits, 12)}-"
        + random_text(ALNUM, 24),
        f"stripe = sk_live_{random_text(ALNUM, 24)}",
        f"npm = npm_{random_text(ALNUM, 36)}",
        f"jwt = {header}.{claims}.{random_text(ALNUM + '-_', 43)}",
        f'db_password = "{random_value()}"',
        f'auth = "{random_value()}"',
        f"{DASHES}BEGIN RSA PRIVATE KEY{DASHES}",
        *textwrap.wrap(pem, 64),
        f"{DASHES}END RSA PRIVATE KEY{DASHES}",
    ]


def test_the_config_catches_what_the_defaults_catch(tmp_path: Path) -> None:
    """Custom rules keep ids of their own (one named like a default rule would
    replace it) and every placeholder allowlist is anchored: on these samples
    the project config reports every (rule, line) plain gitleaks does, and the
    gate reports every line."""
    folder = tmp_path / "samples"
    folder.mkdir()
    text = [build() for build, _ in CAUGHT.values()] + provider_samples()
    (folder / "samples.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    defaults = tmp_path / "defaults.toml"
    defaults.write_text("[extend]\nuseDefault = true\n", encoding="utf-8")
    by_default = plain_gitleaks(folder, defaults, tmp_path / "defaults.json")
    by_project = plain_gitleaks(folder, CONFIG, tmp_path / "project.json")
    expected = {"aws-access-token", "github-pat", "gitlab-pat", "slack-bot-token"}
    expected |= {"stripe-access-token", "npm-access-token", "jwt", "private-key"}
    assert expected <= {rule for rule, _ in by_default}
    # Every line the defaults flag is flagged, by the same rule where it is a
    # provider's; gitleaks itself drops `generic-api-key` where a more specific
    # rule matched the same secret, which on some lines is now one of ours.
    assert {line for _, line in by_default} < {line for _, line in by_project}
    assert {(r, n) for r, n in by_default if not r.startswith("generic")} <= set(by_project)

    repo = new_repo(tmp_path / "repo")
    commit(repo, "samples", {"samples.txt": "\n".join(text) + "\n"})
    run = run_gate(repo)
    assert {line for _, line in by_default} <= {
        leak["line"] for leak in run.report("secrets.json")["leaks"]
    }
