# Test cases for ../command-injection.yml, checked by:
#   semgrep --test --strict --config .semgrep/command-injection.yml .semgrep/tests/command-injection.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import asyncio
import os
import re
import shlex
import subprocess
import subprocess as sp
import sys
from subprocess import PIPE, Popen, check_output

import paramiko
from django.http import HttpResponse
from fastapi import FastAPI
from flask import Flask, abort, request

app = Flask(__name__)
api = FastAPI()
ALLOWED_TOOLS = {"uptime", "df", "free"}
HOSTNAME = re.compile(r"^[a-z0-9.-]{1,253}$")


@app.route("/ping")
def ping():
    host = request.args.get("host")
    # ruleid: command-injection
    out = subprocess.check_output(f"ping -c 1 {host}", shell=True)
    # ruleid: command-injection
    out = subprocess.run("ping -c 1 " + host, shell=True, capture_output=True).stdout
    # ruleid: command-injection
    os.system("ping -c 1 %s" % host)
    # ruleid: command-injection
    out = os.popen("nslookup {}".format(host)).read()
    command = "traceroute " + host
    # ruleid: command-injection
    sp.call(command, shell=True)
    # ruleid: command-injection
    proc = Popen(command, shell=True, stdout=PIPE)
    # ruleid: command-injection
    status, out = subprocess.getstatusoutput("dig " + host)
    # ok: command-injection
    out = subprocess.run(["ping", "-c", "1", host], capture_output=True).stdout
    # ok: command-injection
    out = subprocess.check_output(["ping", "-c", "1", "--", host])
    # ok: command-injection
    out = subprocess.run(f"ping -c 1 {shlex.quote(host)}", shell=True).stdout
    # ok: command-injection
    os.system("ping -c 1 " + shlex.quote(host))
    # ok: command-injection
    out = subprocess.run("uptime", shell=True).stdout
    return out


@app.route("/run")
def run_tool():
    tool = request.args["tool"]
    # ruleid: command-injection
    subprocess.run(tool)
    # ruleid: command-injection
    subprocess.run([tool, "--version"])
    # ruleid: command-injection
    subprocess.run(shlex.split(request.args["cmdline"]))
    # ruleid: command-injection
    subprocess.run(["sh", "-c", request.args["script"]])
    # ruleid: command-injection
    subprocess.run(["/bin/bash", "-c", f"tar czf /tmp/out.tgz {request.args['dir']}"])
    # ruleid: command-injection
    os.execvp(tool, [tool])
    if tool not in ALLOWED_TOOLS:
        abort(400)
    # ok: command-injection
    subprocess.run([tool])
    return ""


@app.route("/lookup")
def lookup():
    host = request.args["host"]
    if not HOSTNAME.fullmatch(host):
        abort(400)
    # ok: command-injection
    return subprocess.check_output(f"nslookup {host}", shell=True)


@app.route("/convert", methods=["POST"])
def convert():
    name = request.form["name"]
    # ruleid: command-injection
    check_output("convert uploads/%s out.png" % name, shell=True)
    # ok: command-injection
    check_output(["convert", "uploads/" + name, "out.png"])
    return ""


def django_backup(request):
    target = request.POST["target"]
    # ruleid: command-injection
    subprocess.Popen("rsync -a /data " + target, shell=True)
    return HttpResponse("started")


def remote(request):
    client = paramiko.SSHClient()
    # ruleid: command-injection
    client.exec_command("cat /var/log/" + request.GET["log"])
    # ok: command-injection
    client.exec_command("uptime")
    return HttpResponse("")


@api.get("/whois/{domain}")
async def whois(domain: str):
    # ruleid: command-injection
    proc = await asyncio.create_subprocess_shell(f"whois {domain}")
    # ruleid: command-injection
    proc = await asyncio.subprocess.create_subprocess_shell("whois " + domain)
    loop = asyncio.get_running_loop()
    # ruleid: command-injection
    await loop.subprocess_shell(asyncio.SubprocessProtocol, "whois " + domain)
    # ok: command-injection
    proc = await asyncio.create_subprocess_exec("whois", domain)
    return {}


@api.get("/count/{n}")
async def count(n: int):
    # ok: command-injection
    return subprocess.run(f"seq {n}", shell=True, capture_output=True).stdout


if __name__ == "__main__":
    # ruleid: command-injection
    os.system("grep -r " + sys.argv[1] + " /var/log")
    # ok: command-injection
    subprocess.run(["grep", "-r", "--", sys.argv[1], "/var/log"])
    host = input("host (name or address): ")
    # ruleid: command-injection
    os.system(f"ping -c 1 {host}")
    # ok: command-injection
    subprocess.run(["ping", "-c", "1", "--", host])
    archive = sys.argv[2]
    # ruleid: command-injection
    subprocess.call("tar xf " + archive, shell=True)
