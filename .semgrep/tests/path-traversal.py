# Test cases for ../path-traversal.yml, checked by:
#   semgrep --test --strict --config .semgrep/path-traversal.yml .semgrep/tests/path-traversal.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import os
import os.path
import shutil
import tarfile
from pathlib import Path

from django.http import FileResponse, HttpResponse
from fastapi import FastAPI
from fastapi.responses import FileResponse as StarletteFileResponse
from flask import Flask, abort, request, send_file, send_from_directory
from werkzeug.security import safe_join
from werkzeug.utils import secure_filename

app = Flask(__name__)
api = FastAPI()
UPLOADS = "/srv/uploads"
BASE = Path("/srv/files")


@app.route("/read")
def read():
    name = request.args.get("name")
    # ruleid: path-traversal
    with open(name) as handle:
        data = handle.read()
    # ruleid: path-traversal
    data = open(os.path.join(UPLOADS, name)).read()
    # ruleid: path-traversal
    data = open(UPLOADS + "/" + name, "rb").read()
    # ruleid: path-traversal
    data = open(f"{UPLOADS}/{name}").read()
    path = "/srv/uploads/%s" % name
    # ruleid: path-traversal
    data = open(path).read()
    # ok: path-traversal
    data = open(os.path.join(UPLOADS, os.path.basename(name))).read()
    # ok: path-traversal
    data = open(os.path.join(UPLOADS, secure_filename(name))).read()
    # ok: path-traversal
    data = open(os.path.join(UPLOADS, "index.txt")).read()
    return data


@app.route("/download/<path:filename>")
def download(filename):
    # ruleid: path-traversal
    return send_file(os.path.join(UPLOADS, filename))


@app.route("/files/<path:filename>")
def files(filename):
    # ok: path-traversal
    return send_from_directory(UPLOADS, filename)


@app.route("/safe/<path:filename>")
def safe(filename):
    path = safe_join(UPLOADS, filename)
    if path is None:
        abort(404)
    # ok: path-traversal
    return send_file(path)


@app.route("/checked")
def checked():
    requested = request.args["file"]
    full = os.path.realpath(os.path.join(UPLOADS, requested))
    if not full.startswith(UPLOADS + os.sep):
        abort(403)
    # ok: path-traversal
    return send_file(full)


@app.route("/naive")
def naive_check():
    requested = request.args["file"]
    full = os.path.join(UPLOADS, requested)
    # A prefix check on an unresolved path does not stop "../".
    if not full.startswith(UPLOADS):
        abort(403)
    # ruleid: path-traversal
    return send_file(full)


@app.route("/pathlib")
def with_pathlib():
    name = request.args["name"]
    target = BASE / name
    # ruleid: path-traversal
    text = target.read_text()
    # ruleid: path-traversal
    Path(name).write_text("x")
    # ruleid: path-traversal
    text = (BASE / request.args["other"]).read_bytes()
    resolved = (BASE / name).resolve()
    if not resolved.is_relative_to(BASE):
        abort(403)
    # ok: path-traversal
    text = resolved.read_text()
    # ok: path-traversal
    text = (BASE / Path(name).name).read_text()
    return text


@app.post("/upload")
def upload():
    file = request.files["file"]
    # ruleid: path-traversal
    file.save(os.path.join(UPLOADS, file.filename))
    # ok: path-traversal
    file.save(os.path.join(UPLOADS, secure_filename(file.filename)))
    return "", 201


@app.post("/delete")
def delete():
    name = request.form["name"]
    # ruleid: path-traversal
    os.remove(os.path.join(UPLOADS, name))
    # ruleid: path-traversal
    shutil.rmtree(os.path.join(UPLOADS, name))
    # ruleid: path-traversal
    shutil.copy(os.path.join(UPLOADS, "template.txt"), os.path.join(UPLOADS, name))
    # ok: path-traversal
    os.remove(os.path.join(UPLOADS, os.path.basename(name)))
    # ruleid: path-traversal
    entries = os.listdir(os.path.join(UPLOADS, request.form["dir"]))
    # ok: path-traversal
    entries = os.listdir(UPLOADS)
    return ""


def django_download(request):
    name = request.GET["name"]
    # ruleid: path-traversal
    return FileResponse(open(os.path.join(UPLOADS, name), "rb"))


def django_report(request, report_name):
    # ruleid: path-traversal
    with open("/srv/reports/" + report_name) as handle:
        return HttpResponse(handle.read(), content_type="text/plain")


def django_safe(request):
    name = os.path.basename(request.GET["name"])
    # ok: path-traversal
    return FileResponse(open(os.path.join(UPLOADS, name), "rb"))


@api.get("/files/{name}")
async def fastapi_file(name: str):
    # ruleid: path-traversal
    return StarletteFileResponse(f"/srv/files/{name}")


@api.get("/ids/{file_id}")
async def fastapi_by_id(file_id: int):
    # ok: path-traversal
    return StarletteFileResponse(f"/srv/files/{file_id}.pdf")


def local_config():
    # ok: path-traversal
    with open(os.path.join(os.path.dirname(__file__), "config.json")) as handle:
        return handle.read()


# --- tarfile-extraction-traversal -----------------------------------------------------


@app.post("/import")
def import_archive():
    upload = request.files["archive"]
    with tarfile.open(fileobj=upload.stream) as archive:
        # ruleid: tarfile-extraction-traversal
        archive.extractall("/srv/imports")
        # ok: tarfile-extraction-traversal
        archive.extractall("/srv/imports", filter="data")
    bundle = tarfile.open("/srv/bundles/latest.tar.gz")
    # ruleid: tarfile-extraction-traversal
    bundle.extract("README", path="/srv/imports")
    # ok: tarfile-extraction-traversal
    bundle.extract("README", path="/srv/imports", filter="data")
    # ok: tarfile-extraction-traversal
    bundle.extractall("/srv/imports", members=checked_members(bundle))
    return "", 204


def checked_members(archive):
    for member in archive.getmembers():
        if os.path.isabs(member.name) or ".." in member.name.split("/"):
            raise ValueError(member.name)
        yield member
