# Test cases for ../open-redirect.yml, checked by:
#   semgrep --test --strict --config .semgrep/open-redirect.yml .semgrep/tests/open-redirect.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
from urllib.parse import urlparse

import flask
from django.http import HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import redirect as django_redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from flask import Flask, abort, make_response, redirect, request, url_for

app = Flask(__name__)
api = FastAPI()
ALLOWED_HOSTS = {"example.com", "www.example.com"}


@app.route("/login", methods=["POST"])
def login():
    next_url = request.args.get("next")
    # ruleid: open-redirect
    return redirect(next_url)


@app.route("/logout")
def logout():
    # ruleid: open-redirect
    return redirect(request.args.get("next") or url_for("index"))


@app.route("/go")
def go():
    # ruleid: open-redirect
    return flask.redirect(request.values["url"], code=302)


@app.route("/back")
def back():
    # ruleid: open-redirect
    return redirect(request.referrer)


@app.route("/jump")
def jump():
    target = request.form["target"]
    # ruleid: open-redirect
    return redirect("https://" + target)


@app.route("/slash")
def slash():
    # "/" + "/evil.example" is "//evil.example", another host.
    # ruleid: open-redirect
    return redirect("/" + request.args["path"])


@app.route("/header")
def header():
    response = make_response("", 302)
    # ruleid: open-redirect
    response.headers["Location"] = request.args["to"]
    return response


@app.route("/home")
def home():
    # ok: open-redirect
    return redirect(url_for("index"))


@app.route("/profile")
def profile():
    # ok: open-redirect
    return redirect(url_for("user_profile", username=request.args["user"]))


@app.route("/users")
def users():
    # ok: open-redirect
    return redirect("/users/" + request.args["name"])


@app.route("/users2")
def users_fstring():
    # ok: open-redirect
    return redirect(f"/users/{request.args['name']}")


@app.route("/checked")
def checked():
    target = request.args.get("next", "/")
    if urlparse(target).netloc:
        abort(400)
    # ok: open-redirect
    return redirect(target)


@app.route("/checked2")
def checked_allow_list():
    target = request.args.get("next", "/")
    if urlparse(target).hostname not in ALLOWED_HOSTS:
        target = url_for("index")
    # ok: open-redirect
    return redirect(target)


@app.route("/checked3")
def checked_relative():
    target = request.args.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        abort(400)
    # ok: open-redirect
    return redirect(target)


# ok: open-redirect
root = redirect("/")


def django_login(request):
    next_url = request.GET.get("next", "/")
    # ruleid: open-redirect
    return HttpResponseRedirect(next_url)


def django_moved(request, slug):
    # ruleid: open-redirect
    return HttpResponsePermanentRedirect(request.GET["to"])


def django_shortcut(request):
    # ruleid: open-redirect
    return django_redirect(request.POST["return_to"])


def django_header(request):
    response = HttpResponse(status=302)
    # ruleid: open-redirect
    response["Location"] = request.GET["next"]
    return response


def django_safe(request):
    next_url = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    # ok: open-redirect
    return HttpResponseRedirect(next_url)


def django_reverse(request):
    # ok: open-redirect
    return HttpResponseRedirect(reverse("dashboard"))


def django_named(request):
    # ok: open-redirect
    return django_redirect("dashboard")


@api.get("/out")
async def fastapi_out(url: str):
    # ruleid: open-redirect
    return RedirectResponse(url)


@api.get("/docs-redirect")
async def fastapi_docs():
    # ok: open-redirect
    return RedirectResponse(url="/docs")
