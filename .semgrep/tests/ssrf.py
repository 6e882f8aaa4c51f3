# Test cases for ../ssrf.yml, checked by:
#   semgrep --test --strict --config .semgrep/ssrf.yml .semgrep/tests/ssrf.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import socket
import urllib.request
from urllib.parse import urljoin, urlparse
from urllib.request import Request, urlopen

import aiohttp
import httpx
import requests
import requests as http
import urllib3
from django.http import HttpResponse, JsonResponse
from fastapi import FastAPI
from flask import Flask, abort, jsonify, request

app = Flask(__name__)
api = FastAPI()
ALLOWED_HOSTS = {"api.example.com", "cdn.example.com"}
API_BASE = "https://api.example.com"


@app.route("/proxy")
def proxy():
    url = request.args.get("url")
    # ruleid: ssrf
    resp = requests.get(url, timeout=5)
    # ruleid: ssrf
    requests.post(request.form["callback"], json={"ok": True}, timeout=5)
    # ruleid: ssrf
    http.get(url, timeout=3)
    # ruleid: ssrf
    requests.request("GET", url, timeout=5)
    # ruleid: ssrf
    data = urlopen(url, timeout=5).read()
    # ruleid: ssrf
    data = urllib.request.urlopen(Request(url), timeout=5).read()
    # ok: ssrf
    requests.get("https://api.example.com/status", timeout=5)
    # ok: ssrf
    requests.get(API_BASE + "/status", timeout=5)
    return resp.text


@app.route("/preview")
def preview():
    host = request.args["host"]
    # ruleid: ssrf
    requests.get(f"http://{host}/preview.png", timeout=5)
    # ruleid: ssrf
    requests.get("https://" + host + "/preview.png", timeout=5)
    # ruleid: ssrf
    requests.get("http://%s:8080/health" % host, timeout=5)
    # ruleid: ssrf
    requests.get("http://{}/health".format(host), timeout=5)
    user_id = request.args["id"]
    # ok: ssrf
    requests.get(f"https://api.example.com/users/{user_id}", timeout=5)
    # ok: ssrf
    requests.get("https://api.example.com/users/" + user_id, timeout=5)
    # ok: ssrf
    requests.get(f"{API_BASE}/users/{user_id}", timeout=5)
    # urljoin takes the host of a second argument such as "//evil.example".
    # ruleid: ssrf
    requests.get(urljoin("https://api.example.com/users/", user_id), timeout=5)
    return ""


@app.route("/fetch")
def fetch_allowed():
    url = request.args["url"]
    if urlparse(url).hostname not in ALLOWED_HOSTS:
        abort(400)
    # ok: ssrf
    return requests.get(url, timeout=5).text


@app.route("/fetch2")
def fetch_allowed_inside():
    target = request.args["url"]
    parsed = urlparse(target)
    if parsed.scheme == "https" and parsed.hostname in ALLOWED_HOSTS:
        # ok: ssrf
        return requests.get(target, timeout=5).text
    # ruleid: ssrf
    return requests.get(target, timeout=5).text


def is_allowed_url(url):
    return urlparse(url).hostname in ALLOWED_HOSTS


@app.post("/webhook")
def webhook():
    hook = request.get_json()["url"]
    if not is_allowed_url(hook):
        abort(400)
    # ok: ssrf
    httpx.post(hook, json={}, timeout=5)
    return ""


@app.post("/webhook2")
def webhook_unchecked():
    hook = request.get_json()["url"]
    # ruleid: ssrf
    httpx.post(hook, json={}, timeout=5)
    with httpx.Client(timeout=5) as client:
        # ruleid: ssrf
        client.get(hook)
        # ok: ssrf
        client.get("https://api.example.com/ping")
    session = requests.Session()
    # ruleid: ssrf
    session.get(hook, timeout=5)
    pool = urllib3.PoolManager()
    # ruleid: ssrf
    pool.request("GET", hook)
    # ok: ssrf
    pool.request("GET", "https://api.example.com/ping")
    return ""


@app.route("/avatar/<path:avatar_url>")
def avatar(avatar_url):
    # ruleid: ssrf
    return requests.get(avatar_url, timeout=5).content


@app.route("/port")
def port_check():
    sock = socket.socket()
    # ruleid: ssrf
    sock.connect((request.args["host"], 80))
    # ok: ssrf
    sock.connect(("127.0.0.1", int(request.args["port"])))
    return ""


@api.get("/fetch")
async def fastapi_fetch(url: str):
    async with httpx.AsyncClient() as client:
        # ruleid: ssrf
        r = await client.get(url)
    async with aiohttp.ClientSession() as session:
        # ruleid: ssrf
        async with session.get(url) as r2:
            pass
        # ok: ssrf
        async with session.get("https://api.example.com/") as r3:
            pass
    return r.json()


def django_fetch(request):
    # ruleid: ssrf
    body = requests.get(request.GET["url"], timeout=5).text
    # ok: ssrf
    body = requests.get("https://api.example.com/feed", params={"q": request.GET["q"]}, timeout=5).text
    return HttpResponse(body, content_type="text/plain")


def internal_health():
    # ok: ssrf
    return requests.get("http://localhost:8000/health", timeout=1).ok
