# Test cases for ../weak-crypto.yml, checked by:
#   semgrep --test --strict --config .semgrep/weak-crypto.yml .semgrep/tests/weak-crypto.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import hashlib
import hmac
import os
import random
import secrets
import string
from hashlib import md5, sha256

import bcrypt
from Crypto.Cipher import AES, ARC4, DES, DES3, Blowfish
from Crypto.PublicKey import RSA
from Crypto.Random import get_random_bytes
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, abort, request
from werkzeug.security import check_password_hash, generate_password_hash

app = Flask(__name__)
KEY = os.environ["APP_KEY"].encode()

# --- weak-hash ------------------------------------------------------------------------


def fingerprint(data: bytes) -> str:
    # ruleid: weak-hash
    return hashlib.md5(data).hexdigest()


def legacy_signature(body: bytes) -> str:
    # ruleid: weak-hash
    return hashlib.sha1(body).hexdigest()


# ruleid: weak-hash
digest = md5(b"payload").hexdigest()
# ruleid: weak-hash
digest = hashlib.new("md5", b"payload").hexdigest()
# ruleid: weak-hash
mac = hmac.new(KEY, b"payload", hashlib.md5).hexdigest()
# ruleid: weak-hash
h = hashes.Hash(hashes.SHA1())
# ok: weak-hash
digest = hashlib.sha256(b"payload").hexdigest()
# ok: weak-hash
digest = hashlib.md5(b"cache-key", usedforsecurity=False).hexdigest()
# ok: weak-hash
digest = hashlib.blake2b(b"payload").hexdigest()
# ok: weak-hash
mac = hmac.new(KEY, b"payload", hashlib.sha256).hexdigest()
# ok: weak-hash
h = hashes.Hash(hashes.SHA256())

# --- weak-password-hash ----------------------------------------------------------------


def store_user(username, password):
    # ruleid: weak-password-hash
    hashed = hashlib.sha256(password.encode()).hexdigest()
    # ruleid: weak-password-hash
    hashed = sha256((SALT + password).encode()).hexdigest()
    hasher = hashlib.sha512()
    # ruleid: weak-password-hash
    hasher.update(password.encode())
    # ok: weak-password-hash
    hashed = generate_password_hash(password)
    # ok: weak-password-hash
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    salt = os.urandom(16)
    # ok: weak-password-hash
    hashed = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)
    # ok: weak-password-hash
    hashed = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return hashed


@app.post("/register")
def register():
    # ruleid: weak-password-hash
    hashed = hashlib.sha256(request.form["password"].encode()).hexdigest()
    # ruleid: weak-hash
    legacy = hashlib.md5(request.form["password"].encode()).hexdigest()
    # ok: weak-password-hash
    checksum = hashlib.sha256(request.get_data()).hexdigest()
    return ""


# --- weak-cipher ------------------------------------------------------------------------

key8 = get_random_bytes(8)
# ruleid: weak-cipher
cipher = DES.new(key8, DES.MODE_CBC)
# ruleid: weak-cipher
cipher = DES3.new(get_random_bytes(24), DES3.MODE_CBC)
# ruleid: weak-cipher
cipher = ARC4.new(get_random_bytes(16))
# ruleid: weak-cipher
cipher = Blowfish.new(get_random_bytes(16), Blowfish.MODE_CBC)
# ruleid: weak-cipher
cipher = AES.new(get_random_bytes(16), AES.MODE_ECB)
# ruleid: weak-cipher
cipher = Cipher(algorithms.AES(os.urandom(32)), modes.ECB())
# ruleid: weak-cipher
cipher = Cipher(algorithms.TripleDES(os.urandom(24)), modes.CBC(os.urandom(8)))
# ok: weak-cipher
cipher = AES.new(get_random_bytes(16), AES.MODE_GCM)
# ok: weak-cipher
cipher = Cipher(algorithms.AES(os.urandom(32)), modes.GCM(os.urandom(12)))
# ok: weak-cipher
aead = AESGCM(AESGCM.generate_key(bit_length=256))

# --- weak-key-size ----------------------------------------------------------------------

# ruleid: weak-key-size
private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
# ruleid: weak-key-size
legacy_key = RSA.generate(1024)
# ok: weak-key-size
private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
# ok: weak-key-size
modern_key = RSA.generate(2048)
# ok: weak-key-size
ec_key = ec.generate_private_key(ec.SECP256R1())

# --- insecure-random-for-secret --------------------------------------------------------------


def generate_token():
    # ruleid: insecure-random-for-secret
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(32))


def new_session():
    # ruleid: insecure-random-for-secret
    session_id = random.getrandbits(128)
    # ruleid: insecure-random-for-secret
    reset_code = random.randint(100000, 999999)
    # ruleid: insecure-random-for-secret
    password = "".join(random.choices(string.ascii_letters, k=12))
    # ruleid: insecure-random-for-secret
    api_key = "%032x" % random.getrandbits(128)
    # ok: insecure-random-for-secret
    token = secrets.token_urlsafe(32)
    # ok: insecure-random-for-secret
    reset_code = secrets.randbelow(900000) + 100000
    # ok: insecure-random-for-secret
    password = "".join(secrets.choice(string.ascii_letters) for _ in range(16))
    # ok: insecure-random-for-secret
    otp = random.SystemRandom().randint(100000, 999999)
    # ok: insecure-random-for-secret
    delay = random.uniform(0.5, 1.5)
    # ok: insecure-random-for-secret
    colour = random.choice(["red", "green", "blue"])
    return session_id


def shuffle_deck(deck):
    # ok: insecure-random-for-secret
    random.shuffle(deck)
    return deck


# --- non-constant-time-comparison ------------------------------------------------------------


@app.post("/webhook")
def webhook():
    signature = request.headers.get("X-Signature", "")
    expected = hmac.new(KEY, request.get_data(), hashlib.sha256).hexdigest()
    # ruleid: non-constant-time-comparison
    if signature != expected:
        abort(403)
    # ruleid: non-constant-time-comparison
    if hmac.new(KEY, request.get_data(), hashlib.sha256).hexdigest() == signature:
        pass
    # ok: non-constant-time-comparison
    if not hmac.compare_digest(signature, expected):
        abort(403)
    # ok: non-constant-time-comparison
    if signature == "":
        abort(400)
    return ""


def check_api_key(request):
    # ruleid: non-constant-time-comparison
    return request.headers.get("X-Api-Key") == os.environ["API_KEY"] or api_key == provided_token


def check_api_key_safely(provided):
    # ok: non-constant-time-comparison
    return secrets.compare_digest(provided, os.environ["API_KEY"])


def cache_is_fresh(recorded_digest, lock):
    # ok: non-constant-time-comparison
    return recorded_digest == lock.digest


def token_kind(token_type):
    # ok: non-constant-time-comparison
    return token_type == "bearer"


TOKEN = "token"


def scheme_is_token(scheme: str) -> bool:
    # ok: non-constant-time-comparison
    return scheme == TOKEN
