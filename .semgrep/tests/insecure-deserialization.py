# Test cases for ../insecure-deserialization.yml, checked by:
#   semgrep --test --strict --config .semgrep/insecure-deserialization.yml .semgrep/tests/insecure-deserialization.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import base64
import hmac
import json
import marshal
import pickle
import pickle as pkl
import shelve
from pickle import loads as unpickle

import dill
import joblib
import jsonpickle
import numpy as np
import pandas as pd
import torch
import yaml
from flask import Flask, abort, request
from itsdangerous import URLSafeSerializer
from yaml import SafeLoader

app = Flask(__name__)
SECRET = b"loaded-from-the-environment"


@app.route("/session")
def session():
    raw = request.cookies.get("session")
    # ruleid: insecure-deserialization
    user = pickle.loads(base64.b64decode(raw))
    # ruleid: insecure-deserialization
    user = pkl.loads(request.data)
    # ruleid: insecure-deserialization
    user = unpickle(request.get_data())
    # ruleid: insecure-deserialization
    user = dill.loads(request.data)
    # ruleid: insecure-deserialization
    code = marshal.loads(request.data)
    # ruleid: insecure-deserialization
    obj = jsonpickle.decode(request.form["state"])
    # ok: insecure-deserialization
    user = json.loads(base64.b64decode(raw))
    # ok: insecure-deserialization
    blob = pickle.dumps(user)
    return ""


@app.post("/config")
def config():
    body = request.get_data(as_text=True)
    # ruleid: insecure-deserialization
    settings = yaml.load(body)
    # ruleid: insecure-deserialization
    settings = yaml.load(body, Loader=yaml.Loader)
    # ruleid: insecure-deserialization
    settings = yaml.load(body, Loader=yaml.FullLoader)
    # ruleid: insecure-deserialization
    settings = yaml.unsafe_load(body)
    # ruleid: insecure-deserialization
    settings = yaml.full_load(body)
    # ruleid: insecure-deserialization
    docs = list(yaml.load_all(body, Loader=yaml.UnsafeLoader))
    # ok: insecure-deserialization
    settings = yaml.safe_load(body)
    # ok: insecure-deserialization
    settings = yaml.load(body, Loader=yaml.SafeLoader)
    # ok: insecure-deserialization
    settings = yaml.load(body, Loader=SafeLoader)
    # ok: insecure-deserialization
    settings = yaml.load(body, yaml.CSafeLoader)
    # ok: insecure-deserialization
    docs = list(yaml.safe_load_all(body))
    return ""


@app.post("/model")
def upload_model():
    upload = request.files["model"]
    # ruleid: insecure-deserialization
    model = pickle.load(upload)
    # ruleid: insecure-deserialization
    model = joblib.load(request.files["model"].stream)
    # ruleid: insecure-deserialization
    weights = torch.load(upload.stream)
    # ok: insecure-deserialization
    weights = torch.load(upload.stream, weights_only=True)
    # ruleid: insecure-deserialization
    array = np.load(upload.stream, allow_pickle=True)
    # ok: insecure-deserialization
    array = np.load(upload.stream)
    return ""


@app.route("/signed")
def signed():
    blob = base64.b64decode(request.args["blob"])
    data, signature = blob[:-32], blob[-32:]
    if not hmac.compare_digest(signature, hmac.new(SECRET, data, "sha256").digest()):
        abort(403)
    # ok: insecure-deserialization
    return str(pickle.loads(data))


@app.route("/signed2")
def signed_itsdangerous():
    serializer = URLSafeSerializer(SECRET)
    # ok: insecure-deserialization
    return str(serializer.loads(request.args["token"]))


# ok: insecure-deserialization
DEFAULTS = pickle.loads(b"\x80\x04K\x01.")


def test_requests_pickle(prepared):
    # ok: insecure-deserialization
    assert pickle.loads(pickle.dumps(prepared))


def worker(sock):
    # ruleid: insecure-deserialization
    job = pickle.loads(sock.recv(65536))
    return job


def from_cache(redis, key):
    # ruleid: insecure-deserialization
    return pickle.loads(redis.get(key))


# --- pickle-load-from-file -------------------------------------------------------------


def load_model(path):
    with open(path, "rb") as handle:
        # ruleid: pickle-load-from-file
        return pickle.load(handle)


def load_frame(path):
    # ruleid: pickle-load-from-file
    return pd.read_pickle(path)


def open_store(path):
    # ruleid: pickle-load-from-file
    return shelve.open(path)


def load_json(path):
    with open(path) as handle:
        # ok: pickle-load-from-file
        return json.load(handle)


def save_model(model, path):
    with open(path, "wb") as handle:
        # ok: pickle-load-from-file
        pickle.dump(model, handle)
