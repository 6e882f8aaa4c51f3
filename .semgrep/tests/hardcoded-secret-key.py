# Test cases for ../hardcoded-secret-key.yml, checked by:
#   semgrep --test --strict --config .semgrep/hardcoded-secret-key.yml .semgrep/tests/hardcoded-secret-key.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure (the values are made up): excluded from the
# project's scan, from ruff and from gitleaks.
# ruff: noqa
import hmac
import os
import secrets
import smtplib
from hashlib import sha256

import boto3
import jwt
import psycopg2
import redis
from cryptography.fernet import Fernet
from decouple import config
from flask import Flask
from itsdangerous import URLSafeTimedSerializer

app = Flask(__name__)

# --- Flask ----------------------------------------------------------------------------

# ruleid: hardcoded-secret-key
app.secret_key = "secret-key-do-not-share"  # gitleaks:allow flask-secret-key -- a made-up value the Semgrep rule's fixture needs
# ruleid: hardcoded-secret-key
app.secret_key = b'_5#y2L"F4Q8z\n\xec]/'  # gitleaks:allow flask-secret-key -- a made-up value the Semgrep rule's fixture needs
# ruleid: hardcoded-secret-key
app.config["SECRET_KEY"] = "dev"
# ruleid: hardcoded-secret-key
app.config["JWT_SECRET_KEY"] = "super-secret"
# ruleid: hardcoded-secret-key
app.config.update(SECRET_KEY="change-me-in-production", DEBUG=False)  # gitleaks:allow flask-secret-key -- a made-up value the Semgrep rule's fixture needs
# ruleid: hardcoded-secret-key
app.config.from_mapping(SECRET_KEY="dev")
# ruleid: hardcoded-secret-key
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "fallback-secret")
# ruleid: hardcoded-secret-key
app.secret_key = os.getenv("FLASK_SECRET_KEY", "insecure-default")
# ok: hardcoded-secret-key
app.secret_key = os.environ["SECRET_KEY"]
# ok: hardcoded-secret-key
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY")
# ok: hardcoded-secret-key
app.config["SECRET_KEY"] = secrets.token_hex(32)
# ok: hardcoded-secret-key
app.secret_key = os.urandom(32)
# ok: hardcoded-secret-key
app.config["SESSION_COOKIE_NAME"] = "session"
# ok: hardcoded-secret-key
app.config.from_envvar("APP_SETTINGS")
# ok: hardcoded-secret-key
API_KEY = "YOUR_API_KEY"
# ok: hardcoded-secret-key
app.config["SECRET_KEY"] = "replace-me"
# ok: hardcoded-secret-key
STRIPE_TOKEN = "xxxxxxxxxxxx"


class Config:
    # ruleid: hardcoded-secret-key
    SECRET_KEY = "my-precious"
    # ruleid: hardcoded-secret-key
    JWT_SECRET_KEY = "jwt-secret-string"
    # ok: hardcoded-secret-key
    JWT_ALGORITHM = "HS256"
    # ok: hardcoded-secret-key
    JWT_TOKEN_LOCATION = "headers"


class ProductionConfig(Config):
    # ok: hardcoded-secret-key
    SECRET_KEY = os.environ["SECRET_KEY"]


# --- Django settings --------------------------------------------------------------------

# ruleid: hardcoded-secret-key
SECRET_KEY = "django-insecure-q3@#k!a9v2x$z0)w8^m*l1n5b7c6d4e"  # gitleaks:allow flask-secret-key -- a made-up value the Semgrep rule's fixture needs
# ruleid: hardcoded-secret-key
SECRET_KEY = config("SECRET_KEY", default="unsafe-dev-key")
# ok: hardcoded-secret-key
SECRET_KEY = config("SECRET_KEY")
# ok: hardcoded-secret-key
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "shop",
        # ruleid: hardcoded-secret-key
        "PASSWORD": "Sup3rS3cret!",  # gitleaks:allow password-assignment -- a made-up value the Semgrep rule's fixture needs
        # ok: hardcoded-secret-key
        "USER": "shop",
    },
    "replica": {
        # ok: hardcoded-secret-key
        "PASSWORD": os.environ["REPLICA_PASSWORD"],
    },
}
# ok: hardcoded-secret-key
PASSWORD_RESET_TIMEOUT = 3600
# ok: hardcoded-secret-key
CSRF_HEADER_NAME = "HTTP_X_CSRFTOKEN"

# --- API keys, tokens and passwords -----------------------------------------------------

# ruleid: hardcoded-secret-key
API_KEY = "fixture-api-key-value"
# ruleid: hardcoded-secret-key
GITHUB_TOKEN = "fixture-github-token-value"
# ruleid: hardcoded-secret-key
db_password = "hunter2"  # gitleaks:allow password-assignment -- a made-up value the Semgrep rule's fixture needs
# A value with blanks reads as a label, not a key (e.g. {"secrets": "gitleaks git"}).
# todoruleid: hardcoded-secret-key
KEY_PASSPHRASE = "correct horse battery staple"
# ok: hardcoded-secret-key
GATES = {"secrets": "gitleaks git", "sast": "semgrep scan"}
# ok: hardcoded-secret-key
GITHUB_TOKEN = os.environ["GITHUB_TOKEN"]
# ok: hardcoded-secret-key
TOKEN_URL = "https://auth.example.com/oauth/token"
# ok: hardcoded-secret-key
PASSWORD_FIELD = "password"
# ok: hardcoded-secret-key
token_type = "bearer"
# ok: hardcoded-secret-key
API_KEY_HEADER = "X-API-Key"

# ruleid: hardcoded-secret-key
conn = psycopg2.connect(host="db", user="app", password="app-password")  # gitleaks:allow password-assignment -- a made-up value the Semgrep rule's fixture needs
# ok: hardcoded-secret-key
conn = psycopg2.connect(host="db", user="app", password=os.environ["DB_PASSWORD"])
# ruleid: hardcoded-secret-key
cache = redis.Redis(host="cache", password="redis-pass")  # gitleaks:allow password-assignment -- a made-up value the Semgrep rule's fixture needs
# ruleid: hardcoded-secret-key
s3 = boto3.client("s3", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI")
# ok: hardcoded-secret-key
s3 = boto3.client("s3")

# --- Keys given to libraries ------------------------------------------------------------


def issue_token(user_id):
    # ruleid: hardcoded-secret-key
    return jwt.encode({"sub": user_id}, "my-jwt-secret", algorithm="HS256")


def check_token(token):
    # ruleid: hardcoded-secret-key
    return jwt.decode(token, "my-jwt-secret", algorithms=["HS256"])


def check_token_from_env(token):
    # ok: hardcoded-secret-key
    return jwt.decode(token, os.environ["JWT_KEY"], algorithms=["HS256"])


def sign(body):
    # ruleid: hardcoded-secret-key
    return hmac.new(b"webhook-signing-key", body, sha256).hexdigest()


def sign_from_env(body):
    # ok: hardcoded-secret-key
    return hmac.new(os.environ["WEBHOOK_KEY"].encode(), body, sha256).hexdigest()


# ruleid: hardcoded-secret-key
serializer = URLSafeTimedSerializer("serializer-secret")
# ok: hardcoded-secret-key
serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"])
# ruleid: hardcoded-secret-key
fernet = Fernet(b"ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=")
# ok: hardcoded-secret-key
fernet = Fernet(Fernet.generate_key())


def send_mail(message):
    with smtplib.SMTP("smtp.example.com", 587) as smtp:
        # ruleid: hardcoded-secret-key
        smtp.login("alerts@example.com", "mail-password")
        # ok: hardcoded-secret-key
        smtp.login("alerts@example.com", os.environ["SMTP_PASSWORD"])


# ruleid: hardcoded-secret-key
def connect(user="admin", password="admin123"):  # gitleaks:allow password-assignment -- a made-up value the Semgrep rule's fixture needs
    return psycopg2.connect(user=user, password=password)


# ok: hardcoded-secret-key
def connect_with(user, password=None):
    return psycopg2.connect(user=user, password=password)


# A constant naming the word itself is a label, not a secret.
# ok: hardcoded-secret-key
STANDARD, TOKEN, LEGACY = "standard-webhooks", "token", "legacy"
# ok: hardcoded-secret-key
PASSWORD = "password"
