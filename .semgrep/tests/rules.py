# Test cases for ../rules.yml, checked by:
#   semgrep --test --config .semgrep/rules.yml .semgrep/tests/rules.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; any other line reported by any rule fails the test
# too. "todoruleid" and "todook" record known misses and false positives.
# Deliberately insecure: excluded from the project's scan (.semgrepignore) and from ruff.
# ruff: noqa
import asyncio
import asyncio as aio
import os
import shlex
import socket
import socketserver
import subprocess
import subprocess as sp
from asyncio import run as run_coroutine
from http.server import HTTPServer
from os import system
from subprocess import Popen
from wsgiref.simple_server import make_server

import flask
import jwt
import jwt as pyjwt
import waitress
from flask import Flask
from jose import jwt as jose_jwt
from jwt import decode as decode_token

app = Flask(__name__)
user_input = input()
TOKEN = user_input
KEY = os.environ["JWT_KEY"]


# --- flask-debug-true -------------------------------------------------------------

# ruleid: flask-debug-true
app.run(debug=True)
# ruleid: flask-debug-true
app.run("127.0.0.1", 5000, debug=1)
# ruleid: flask-debug-true
flask.Flask(__name__).run(port=5000, debug=True)
# ok: flask-debug-true
app.run(debug=False)
# ok: flask-debug-true
app.run(debug=0)
# ok: flask-debug-true
app.run()
# ok: flask-debug-true
app.run(debug=os.environ.get("FLASK_DEBUG") == "1")

DEBUG = True
# ruleid: flask-debug-true
app.run(debug=DEBUG)

run_options = {"port": 5000, "debug": True}
# ruleid: flask-debug-true
app.run(**run_options)
# ruleid: flask-debug-true
app.run("127.0.0.1", **dict(port=5000, debug=True))
safe_options = {"port": 5000, "debug": False}
# ok: flask-debug-true
app.run(**safe_options)
spaced_options = {'debug' :  1, 'port': 5000}
# ruleid: flask-debug-true
app.run(**spaced_options)
other_options = {"sqldebug": True, "use_debugger": False}
# ok: flask-debug-true
app.run(**other_options)

# ruleid: flask-debug-true
app.config["DEBUG"] = True
# ok: flask-debug-true
app.config["DEBUG"] = False
# ok: flask-debug-true
app.config["TESTING"] = True
# ruleid: flask-debug-true
app.config[ 'DEBUG' ] = 1
# ok: flask-debug-true
app.config["DEBUG_TB_ENABLED"] = True
# ruleid: flask-debug-true
app.config.update(DEBUG=True)
# ruleid: flask-debug-true
app.config.update({"DEBUG": True, "TESTING": False})
# ok: flask-debug-true
app.config.update(TESTING=True, DEBUG=False)
# ruleid: flask-debug-true
app.config.from_mapping(DEBUG=1)
# ruleid: flask-debug-true
app.debug = True
# ok: flask-debug-true
app.debug = False


def debug_switched_back_off() -> None:
    debug = True
    debug = False
    # ok: flask-debug-true
    app.run(debug=debug)


def debug_from_caller(debug: bool) -> None:
    # ok: flask-debug-true
    app.run(debug=debug)


class Settings:
    debug = False


settings = Settings()
# ok: flask-debug-true
settings.debug = True


async def main() -> None:
    pass


# asyncio's event-loop debug mode is not Flask's debugger, however it is imported.
# ok: flask-debug-true
asyncio.run(main(), debug=True)
# ok: flask-debug-true
aio.run(main(), debug=True)
# ok: flask-debug-true
run_coroutine(main(), debug=True)


# --- subprocess-shell-true --------------------------------------------------------

# ruleid: subprocess-shell-true
subprocess.run(user_input, shell=True)
# ruleid: subprocess-shell-true
subprocess.run(f"ls {user_input}", shell=True, check=True)
# ruleid: subprocess-shell-true
subprocess.call("grep -R " + user_input, shell=1)
# ruleid: subprocess-shell-true
subprocess.check_output("echo %s" % user_input, shell=True)
# ruleid: subprocess-shell-true
subprocess.Popen(args="tar xf {}".format(user_input), shell=True)
# ok: subprocess-shell-true
subprocess.run("ls -l /tmp", shell=True)
# ok: subprocess-shell-true
subprocess.check_call(args="ls -l", shell=True)
# ok: subprocess-shell-true
subprocess.run(["ls", user_input])
# ok: subprocess-shell-true
subprocess.run(user_input, shell=False)

# ok: subprocess-shell-true
subprocess.run(f"ls -l {shlex.quote(user_input)}", shell=True)
# ok: subprocess-shell-true
os.system("grep -R " + shlex.quote(user_input) + " /var/log")
# ok: subprocess-shell-true
subprocess.check_output(shlex.join(["tar", "xf", user_input]), shell=True)
# Only the presence of the quoting is checked: one quoted part hides an unquoted one.
# todoruleid: subprocess-shell-true
subprocess.run(f"cp {shlex.quote(user_input)} {user_input}.bak", shell=True)

LISTING = "ls -l"
# ok: subprocess-shell-true
subprocess.run(LISTING, shell=True)


def command_from_caller(command: str) -> None:
    # ruleid: subprocess-shell-true
    subprocess.run(command, shell=True)


# ruleid: subprocess-shell-true
os.system("rm -rf " + user_input)
# ok: subprocess-shell-true
os.system("true")
# ruleid: subprocess-shell-true
system(user_input)
# ruleid: subprocess-shell-true
sp.call(user_input, shell=True)
# ruleid: subprocess-shell-true
Popen(user_input, shell=True)
# ok: subprocess-shell-true
Popen("make all", shell=True)
# ruleid: subprocess-shell-true
os.popen(user_input)
# ruleid: subprocess-shell-true
subprocess.getoutput(f"id {user_input}")
# ok: subprocess-shell-true
subprocess.getoutput("uname -a")
# ruleid: subprocess-shell-true
subprocess.getstatusoutput(user_input)


async def shell_in_asyncio() -> None:
    # ruleid: subprocess-shell-true
    await asyncio.create_subprocess_shell(user_input)
    # ok: subprocess-shell-true
    await asyncio.create_subprocess_exec("ls", user_input)
    # ruleid: subprocess-shell-true
    await asyncio.subprocess.create_subprocess_shell(f"ls {user_input}")
    # ok: subprocess-shell-true
    await asyncio.subprocess.create_subprocess_shell("ls -l")
    loop = asyncio.get_running_loop()
    # ruleid: subprocess-shell-true
    await loop.subprocess_shell(asyncio.SubprocessProtocol, "grep " + user_input)
    # ok: subprocess-shell-true
    await loop.subprocess_shell(asyncio.SubprocessProtocol, "uptime")
    # ok: subprocess-shell-true
    await loop.subprocess_exec(asyncio.SubprocessProtocol, "ls", user_input)


# The same functions looked up by name.
# ruleid: subprocess-shell-true
getattr(os, "system")(user_input)
# ruleid: subprocess-shell-true
getattr(subprocess, "getoutput")("cat " + user_input)
# ok: subprocess-shell-true
getattr(os, "system")("true")
# ok: subprocess-shell-true
getattr(os, "getcwd")()


# --- jwt-decode-without-verification ----------------------------------------------

# ruleid: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, verify=False)
# ruleid: jwt-decode-without-verification
jwt.decode(TOKEN, options={"verify_signature": False})
# ruleid: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, algorithms=["HS256"], options={"verify_exp": True, "verify_signature": False})
# ruleid: jwt-decode-without-verification
jwt.decode(TOKEN, options=dict(verify_signature=False))
# ruleid: jwt-decode-without-verification
jwt.decode_complete(TOKEN, options={"verify_signature": False})
# ruleid: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, algorithms=["none"])
# ruleid: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, algorithms=["HS256", "None"])
# ruleid: jwt-decode-without-verification
pyjwt.decode(TOKEN, KEY, verify=False)
# ruleid: jwt-decode-without-verification
decode_token(TOKEN, options={"verify_signature": False})
# ruleid: jwt-decode-without-verification
jose_jwt.decode(TOKEN, KEY, options={"verify_signature": False})
# ok: jwt-decode-without-verification
jose_jwt.decode(TOKEN, KEY, algorithms=["HS256"])
# ok: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, algorithms=["HS256"])
# ok: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, algorithms=["HS256"], options={"verify_signature": True})
# ok: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, algorithms=["HS256"], options={"verify_exp": False})
# ok: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, verify=True)
# ok: jwt-decode-without-verification
jwt.decode(TOKEN, KEY, algorithms=["HS256"], options={"require": ["exp", "none"]})

UNVERIFIED = {"verify_signature": False}
ALGORITHMS = ["none"]


def options_through_variables() -> None:
    # ruleid: jwt-decode-without-verification
    jwt.decode(TOKEN, options=UNVERIFIED)
    options = dict(verify_signature=False, verify_aud=False)
    # ruleid: jwt-decode-without-verification
    jwt.decode(TOKEN, KEY, options=options)
    # ruleid: jwt-decode-without-verification
    jwt.decode(TOKEN, KEY, algorithms=ALGORITHMS)


def options_reassigned() -> None:
    options = {"verify_signature": False}
    options = {"verify_signature": True}
    # ok: jwt-decode-without-verification
    jwt.decode(TOKEN, KEY, algorithms=["HS256"], options=options)


def options_on_one_branch(strict: bool) -> None:
    options = {"verify_signature": False}
    if strict:
        options = {"verify_signature": True}
    # ruleid: jwt-decode-without-verification
    jwt.decode(TOKEN, KEY, algorithms=["HS256"], options=options)


def verification_forced_back_on() -> None:
    # Semgrep matches dict literals regardless of key order, so it cannot tell that
    # the later key wins here.
    # todook: jwt-decode-without-verification
    jwt.decode(TOKEN, KEY, algorithms=["HS256"], options={**UNVERIFIED, "verify_signature": True})


# --- hardcoded-bind-all-interfaces ------------------------------------------------

# ruleid: hardcoded-bind-all-interfaces
app.run(host="0.0.0.0")
# ruleid: hardcoded-bind-all-interfaces
app.run(host="::", port=8080)
# ruleid: hardcoded-bind-all-interfaces
app.run(host="")
# ruleid: flask-debug-true, hardcoded-bind-all-interfaces
app.run(host="0.0.0.0", debug=True)
# ok: hardcoded-bind-all-interfaces
app.run(host="127.0.0.1")
# Flask's run() takes the host as its first positional argument.
# ruleid: hardcoded-bind-all-interfaces
app.run("0.0.0.0")
# ruleid: hardcoded-bind-all-interfaces
app.run("::", 8080)
# ok: hardcoded-bind-all-interfaces
app.run("127.0.0.1", 8080)
# ok: hardcoded-bind-all-interfaces
app.run(host="::1")
# ok: hardcoded-bind-all-interfaces
app.run(host=os.environ.get("HOST", "127.0.0.1"))

ANY_HOST = "0.0.0.0"
# ruleid: hardcoded-bind-all-interfaces
waitress.serve(app, host=ANY_HOST, port=8080)
# ruleid: hardcoded-bind-all-interfaces
waitress.create_server(app, host="")
# ruleid: hardcoded-bind-all-interfaces
waitress.serve(app, listen="*:8080")
# ruleid: hardcoded-bind-all-interfaces
waitress.serve(app, listen="127.0.0.1:8080 [::]:8080")
# ok: hardcoded-bind-all-interfaces
waitress.serve(app, listen="127.0.0.1:8080 [::1]:8080")

sock = socket.socket()
# ruleid: hardcoded-bind-all-interfaces
sock.bind(("", 8080))
# ruleid: hardcoded-bind-all-interfaces
sock.bind(("0.0.0.0", 8080))
# ok: hardcoded-bind-all-interfaces
sock.bind(("127.0.0.1", 0))
# ruleid: hardcoded-bind-all-interfaces
socket.create_server(("::", 8080))
# ruleid: hardcoded-bind-all-interfaces
HTTPServer(("", 8000), None)
# ruleid: hardcoded-bind-all-interfaces
socketserver.ThreadingTCPServer(("0.0.0.0", 8000), None)
# ok: hardcoded-bind-all-interfaces
HTTPServer(("localhost", 8000), None)
# ruleid: hardcoded-bind-all-interfaces
make_server("", 8000, app)

# ruleid: hardcoded-bind-all-interfaces
bind_host = os.environ.get("HOST", "0.0.0.0")
# ruleid: hardcoded-bind-all-interfaces
bind_host = os.getenv("HOST", "::")
# ok: hardcoded-bind-all-interfaces
bind_host = os.getenv("HOST", "")


def add_host_option(parser) -> None:
    # ruleid: hardcoded-bind-all-interfaces
    parser.add_argument("--host", default="0.0.0.0")
    # ok: hardcoded-bind-all-interfaces
    parser.add_argument("--host", default="127.0.0.1")


# The empty string means "every interface" only where a server binds.
# ok: hardcoded-bind-all-interfaces
smtp_options = dict(host="", port=25)
