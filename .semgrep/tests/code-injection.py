# Test cases for ../code-injection.yml, checked by:
#   semgrep --test --strict --config .semgrep/code-injection.yml .semgrep/tests/code-injection.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import ast
import builtins
import importlib
import json
import operator
import sys

import pandas as pd
from django.http import JsonResponse
from fastapi import FastAPI
from flask import Flask, abort, jsonify, request

app = Flask(__name__)
api = FastAPI()
OPERATIONS = {"add": operator.add, "sub": operator.sub}
PLUGINS = {"csv": "exporters.csv", "json": "exporters.json"}
GREETING = "print('hello')"

# --- eval-of-dynamic-code ------------------------------------------------------------


@app.route("/calc")
def calc():
    expr = request.args.get("expr")
    # ruleid: eval-of-dynamic-code
    result = eval(expr)
    # ruleid: eval-of-dynamic-code
    result = eval(request.form["expr"], {"__builtins__": {}}, {})
    # ruleid: eval-of-dynamic-code
    exec(request.get_json()["code"])
    # ruleid: eval-of-dynamic-code
    result = eval("2 * " + expr)
    # ruleid: eval-of-dynamic-code
    result = eval(f"{expr} + 1")
    # ruleid: eval-of-dynamic-code
    exec(compile(expr, "<request>", "exec"))
    # ruleid: eval-of-dynamic-code
    result = builtins.eval(expr)
    # ok: eval-of-dynamic-code
    result = ast.literal_eval(expr)
    # ok: eval-of-dynamic-code
    result = json.loads(expr)
    # ok: eval-of-dynamic-code
    result = eval("2 + 3")
    # ok: eval-of-dynamic-code
    exec(GREETING)
    return jsonify(result=result)


@app.route("/op")
def op():
    name = request.args["op"]
    if name not in OPERATIONS:
        abort(400)
    # ok: eval-of-dynamic-code
    return jsonify(result=OPERATIONS[name](int(request.args["a"]), int(request.args["b"])))


def apply_rule(rule, record):
    # ruleid: eval-of-dynamic-code
    return eval(rule.condition, {}, {"record": record})


def run_script(path):
    with open(path) as handle:
        # ruleid: eval-of-dynamic-code
        exec(handle.read())


def django_formula(request):
    # ruleid: eval-of-dynamic-code
    return JsonResponse({"v": eval(request.GET["formula"])})


@api.get("/eval")
async def fastapi_eval(expression: str):
    # ruleid: eval-of-dynamic-code
    return {"result": eval(expression)}


# --- code-injection ---------------------------------------------------------------------


@app.route("/export")
def export():
    fmt = request.args["format"]
    # ruleid: code-injection
    module = importlib.import_module(fmt)
    # ruleid: code-injection
    module = __import__("exporters." + fmt)
    # ok: code-injection
    module = importlib.import_module(PLUGINS[fmt] if fmt in PLUGINS else "exporters.csv")
    # ok: code-injection
    module = importlib.import_module("exporters.csv")
    return module.export()


@app.route("/filter")
def filter_rows():
    frame = pd.read_csv("data.csv")
    # ruleid: code-injection
    rows = frame.query(request.args["where"])
    # ruleid: code-injection
    total = pd.eval(request.args["expr"])
    # ok: code-injection
    rows = frame[frame["city"] == request.args["city"]]
    # ruleid: code-injection
    code = compile(request.form["src"], "<form>", "exec")
    # ok: code-injection
    code = compile("x = 1", "<fixed>", "exec")
    return rows.to_json()


if __name__ == "__main__":
    # ruleid: code-injection
    importlib.import_module(sys.argv[1])
    # ruleid: code-injection
    program = compile(input("python> "), "<stdin>", "exec")
    # ok: code-injection
    program = compile("print(1)", "<fixed>", "exec")
