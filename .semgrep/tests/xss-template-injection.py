# Test cases for ../xss-template-injection.yml, checked by:
#   semgrep --test --strict --config .semgrep/xss-template-injection.yml .semgrep/tests/xss-template-injection.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import html

import jinja2
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.html import escape as django_escape
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from flask import Flask, jsonify, make_response, render_template, render_template_string, request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

app = Flask(__name__)
api = FastAPI()


# --- template-injection ---------------------------------------------------------------


@app.route("/hello")
def hello():
    name = request.args.get("name", "world")
    # ruleid: template-injection
    return render_template_string("<h1>Hello " + name + "!</h1>")


@app.route("/hello2")
def hello_fstring():
    name = request.args.get("name", "world")
    template = f"<h1>Hello {name}!</h1>"
    # ruleid: template-injection
    return render_template_string(template)


@app.route("/hello3")
def hello_format():
    # ruleid: template-injection
    return render_template_string("<p>%s</p>" % request.args["msg"])


@app.route("/custom")
def custom_template():
    # ruleid: template-injection
    return render_template_string(request.form["template"])


@app.route("/jinja")
def jinja_direct():
    source = request.args["tpl"]
    # ruleid: template-injection
    return jinja2.Template(source).render()


@app.route("/env")
def jinja_env():
    env = Environment(autoescape=True)
    # ruleid: template-injection
    return env.from_string("Dear {{ user }}, " + request.args["note"]).render(user="x")


def render_email(subject):
    # ruleid: template-injection
    return render_template_string("<title>{}</title>".format(subject))


@app.route("/hello-safe")
def hello_safe():
    name = request.args.get("name", "world")
    # ok: template-injection
    return render_template_string("<h1>Hello {{ name }}!</h1>", name=name)


@app.route("/page")
def page():
    # ok: template-injection, xss
    return render_template("page.html", name=request.args.get("name"))


GREETING = "<p>Hello {{ name }}</p>"
# ok: template-injection
greeting = jinja2.Environment(autoescape=True).from_string(GREETING)
# ok: template-injection
footer = render_template_string("<footer>{{ year }}</footer>", year=2024)


# --- xss ------------------------------------------------------------------------------


@app.route("/search")
def search():
    q = request.args.get("q", "")
    # ruleid: xss
    return f"<p>Results for {q}</p>"


@app.route("/echo")
def echo():
    # ruleid: xss
    return request.args["msg"]


@app.route("/echo2")
def echo_variable():
    msg = request.args.get("msg", "")
    # ruleid: xss
    return msg


@app.route("/rendered")
def rendered():
    page = render_template("page.html", q=request.args.get("q"))
    # ok: xss
    return page


@app.route("/greet/<name>")
def greet(name):
    # ruleid: xss
    return "<h1>Hello " + name + "</h1>", 200


@app.route("/markup")
def markup():
    bio = request.form["bio"]
    # ruleid: xss
    return render_template("profile.html", bio=Markup(bio))


@app.route("/markup2")
def markup_from_stored():
    comment = load_comment()
    # ruleid: markup-from-formatted-values
    html_comment = Markup(f"<div class='comment'>{comment.body}</div>")
    # ok: markup-from-formatted-values
    safe_comment = Markup("<div class='comment'>{}</div>").format(comment.body)
    # ok: markup-from-formatted-values
    escaped = Markup(f"<div>{escape(comment.body)}</div>")
    return render_template("comment.html", comment=html_comment, safe=safe_comment)


@app.route("/response")
def response():
    # ruleid: xss
    return make_response(f"<html><body>{request.args['name']}</body></html>")


@app.route("/escaped")
def escaped():
    q = request.args.get("q", "")
    # ok: xss
    return f"<p>Results for {escape(q)}</p>"


@app.route("/escaped2")
def escaped_html():
    # ok: xss
    return "<p>" + html.escape(request.args["q"]) + "</p>"


@app.route("/json")
def as_json():
    # ok: xss
    return jsonify(q=request.args.get("q"))


@app.route("/dict")
def as_dict():
    # ok: xss
    return {"q": request.args.get("q")}


def django_search(request):
    q = request.GET.get("q", "")
    # ruleid: xss
    return HttpResponse("<p>You searched for " + q + "</p>")


def django_profile(request):
    # ruleid: xss
    bio = mark_safe(request.POST["bio"])
    return render(request, "profile.html", {"bio": bio})


def django_banner(user):
    # ruleid: markup-from-formatted-values
    return mark_safe("<b>Welcome %s</b>" % user.first_name)


def django_streamed(request):
    response = HttpResponse()
    # ruleid: xss
    response.write("<p>" + request.GET["q"] + "</p>")
    with open("/srv/app/last-query.txt", "w") as handle:
        # ok: xss
        handle.write(request.GET["q"])
    return response


def django_safe(request):
    q = request.GET.get("q", "")
    # ok: xss
    return HttpResponse("<p>You searched for " + django_escape(q) + "</p>")


def django_format_html(request):
    # ok: xss
    return HttpResponse(format_html("<p>You searched for {}</p>", request.GET.get("q", "")))


def django_plain(request):
    # ok: xss
    return HttpResponse(request.GET.get("q", ""), content_type="text/plain")


def django_json(request):
    # ok: xss
    return JsonResponse({"q": request.GET.get("q", "")})


def django_render(request):
    # ok: xss
    return render(request, "search.html", {"q": request.GET.get("q", "")})


# ok: xss, markup-from-formatted-values
BANNER = mark_safe("<b>Maintenance tonight</b>")


@api.get("/page", response_class=HTMLResponse)
async def fastapi_page(name: str):
    # ruleid: xss
    return HTMLResponse(f"<h1>{name}</h1>")


@api.get("/hello")
async def fastapi_json(name: str):
    # ok: xss
    return f"Hello {name}"


# --- jinja2-autoescape-disabled -------------------------------------------------------

# ruleid: jinja2-autoescape-disabled
plain_env = jinja2.Environment(loader=FileSystemLoader("templates"))
# ruleid: jinja2-autoescape-disabled
off_env = Environment(loader=FileSystemLoader("templates"), autoescape=False)
# ok: jinja2-autoescape-disabled
html_env = Environment(loader=FileSystemLoader("templates"), autoescape=select_autoescape())
# ok: jinja2-autoescape-disabled
on_env = jinja2.Environment(autoescape=True)
# ruleid: jinja2-autoescape-disabled
app.jinja_env.autoescape = False
# ok: jinja2-autoescape-disabled
app.jinja_env.autoescape = True
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # ruleid: jinja2-autoescape-disabled
        "OPTIONS": {"autoescape": False},
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # ok: jinja2-autoescape-disabled
        "OPTIONS": {"autoescape": True},
    },
]
