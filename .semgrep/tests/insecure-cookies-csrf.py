# Test cases for ../insecure-cookies-csrf.yml, checked by:
#   semgrep --test --strict --config .semgrep/insecure-cookies-csrf.yml .semgrep/tests/insecure-cookies-csrf.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import os

from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from flask import Flask, make_response, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect

app = Flask(__name__)
csrf = CSRFProtect(app)
api = FastAPI()
COOKIE_OPTIONS = {"secure": True, "httponly": True, "samesite": "Lax"}


# --- insecure-cookie ------------------------------------------------------------------


@app.route("/login", methods=["POST"])
def login():
    response = make_response("welcome")
    token = issue_token(request.form["user"])
    # ruleid: insecure-cookie
    response.set_cookie("session", token)
    # ruleid: insecure-cookie
    response.set_cookie("session", token, httponly=True)
    # ruleid: insecure-cookie
    response.set_cookie("session", token, secure=True)
    # ruleid: insecure-cookie
    response.set_cookie("session", token, secure=False, httponly=True)
    # ruleid: insecure-cookie
    response.set_cookie("session", token, secure=True, httponly=False, samesite="Lax")
    # ruleid: insecure-cookie
    response.set_cookie(key="remember", value=token, max_age=3600)
    # ok: insecure-cookie
    response.set_cookie("session", token, secure=True, httponly=True, samesite="Lax")
    # ok: insecure-cookie
    response.set_cookie("session", token, httponly=True, samesite="Strict", secure=True)
    # ok: insecure-cookie
    response.set_cookie("session", token, **COOKIE_OPTIONS)
    # ok: insecure-cookie
    jar.set_cookie(make_cookie("session", token))
    # ok: insecure-cookie
    self.set_cookie(copy.copy(cookie))
    # ruleid: insecure-cookie
    response.set_cookie("remember")
    # ok: insecure-cookie
    response.set_cookie("session", token, secure=not app.debug, httponly=True)
    # ok: insecure-cookie
    response.delete_cookie("legacy")
    return response


def django_login(request):
    response = HttpResponse("ok")
    # ruleid: insecure-cookie
    response.set_cookie("sessionid", "abc", max_age=3600)
    # ruleid: insecure-cookie
    response.set_signed_cookie("user", "42", salt="x")
    # ok: insecure-cookie
    response.set_signed_cookie("user", "42", salt="x", secure=True, httponly=True)
    return response


@api.post("/login")
async def fastapi_login():
    response = JSONResponse({"ok": True})
    # ruleid: insecure-cookie
    response.set_cookie(key="access_token", value="t", httponly=True, secure=False)
    # ok: insecure-cookie
    response.set_cookie(key="access_token", value="t", httponly=True, secure=True, samesite="lax")
    return response


# --- insecure-session-cookie-settings -------------------------------------------------

# ruleid: insecure-session-cookie-settings
app.config["SESSION_COOKIE_SECURE"] = False
# ruleid: insecure-session-cookie-settings
app.config["SESSION_COOKIE_HTTPONLY"] = False
# ruleid: insecure-session-cookie-settings
app.config.update(SESSION_COOKIE_SECURE=False, SESSION_COOKIE_SAMESITE="Lax")
# ruleid: insecure-session-cookie-settings
app.config["REMEMBER_COOKIE_SECURE"] = False
# ok: insecure-session-cookie-settings
app.config["SESSION_COOKIE_SECURE"] = True
# ok: insecure-session-cookie-settings
app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True)
# ok: insecure-session-cookie-settings
app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
# ok: insecure-session-cookie-settings
app.config["SESSION_COOKIE_SECURE"] = os.environ.get("HTTPS", "1") == "1"

# Django settings.py
# ruleid: insecure-session-cookie-settings
SESSION_COOKIE_SECURE = False
# ruleid: insecure-session-cookie-settings
CSRF_COOKIE_SECURE = False
# ruleid: insecure-session-cookie-settings
SESSION_COOKIE_SAMESITE = None
# ok: insecure-session-cookie-settings
SESSION_COOKIE_HTTPONLY = True
# ok: insecure-session-cookie-settings
CSRF_COOKIE_HTTPONLY = False


class DevelopmentConfig:
    # ruleid: insecure-session-cookie-settings
    SESSION_COOKIE_SECURE = False


class ProductionConfig:
    # ok: insecure-session-cookie-settings
    SESSION_COOKIE_SECURE = True


# --- csrf-protection-disabled ---------------------------------------------------------


# ruleid: csrf-protection-disabled
@csrf_exempt
def payment_webhook(request):
    return JsonResponse({"ok": True})


# ruleid: csrf-protection-disabled
@method_decorator(csrf_exempt, name="dispatch")
class TransferView(View):
    def post(self, request):
        return JsonResponse({"ok": True})


def plain_view(request):
    return JsonResponse({})


# ruleid: csrf-protection-disabled
exempted = csrf_exempt(plain_view)


# ok: csrf-protection-disabled
@csrf_protect
def transfer(request):
    return JsonResponse({"ok": True})


# ruleid: csrf-protection-disabled
@csrf.exempt
@app.route("/api/transfer", methods=["POST"])
def flask_transfer():
    return {"ok": True}


# ruleid: csrf-protection-disabled
csrf.exempt(api_blueprint)

# ok: csrf-protection-disabled
@app.route("/api/transfer2", methods=["POST"])
def flask_transfer_protected():
    return {"ok": True}


# ruleid: csrf-protection-disabled
app.config["WTF_CSRF_ENABLED"] = False
# ruleid: csrf-protection-disabled
WTF_CSRF_ENABLED = False
# ok: csrf-protection-disabled
app.config["WTF_CSRF_ENABLED"] = True
# ok: csrf-protection-disabled
app.config["WTF_CSRF_TIME_LIMIT"] = 3600


class TestingConfig:
    # ruleid: csrf-protection-disabled
    WTF_CSRF_ENABLED = False


class SearchForm(FlaskForm):
    # ruleid: csrf-protection-disabled
    class Meta:
        csrf = False


# ruleid: csrf-protection-disabled
form = SearchForm(meta={"csrf": False})
# ok: csrf-protection-disabled
form = SearchForm(meta={"locales": ["en"]})

# ruleid: csrf-protection-disabled
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
]

# ok: csrf-protection-disabled
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
