# Test cases for ../sql-injection.yml, checked by:
#   semgrep --test --strict --config .semgrep/sql-injection.yml .semgrep/tests/sql-injection.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import sqlite3
import sys

import pandas as pd
import psycopg2
import sqlalchemy
from django.db import connection
from django.db.models.expressions import RawSQL
from django.http import JsonResponse
from fastapi import FastAPI
from flask import Flask, jsonify, request
from flask import request as req
from psycopg2 import sql
from sqlalchemy import text

app = Flask(__name__)
api = FastAPI()
db = sqlite3.connect("app.db")
engine = sqlalchemy.create_engine("sqlite://")
TABLE = "users"


@app.route("/users")
def find_user():
    name = request.args.get("name")
    cursor = db.cursor()
    # ruleid: sql-injection
    cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
    # ruleid: sql-injection
    cursor.execute("SELECT * FROM users WHERE name = '{}'".format(name))
    # ruleid: sql-injection
    cursor.execute(f"SELECT * FROM users WHERE name = '{name}'")
    # ruleid: sql-injection
    cursor.execute("SELECT * FROM users WHERE name = '" + name + "'")
    query = "SELECT * FROM users WHERE name = '%s'" % name
    # ruleid: sql-injection
    cursor.execute(query)
    # ruleid: sql-injection
    db.execute(request.form["query"])
    # ruleid: sql-injection
    db.executescript(request.get_json()["script"])
    # ok: sql-injection
    cursor.execute("SELECT * FROM users WHERE name = ?", (name,))
    # ok: sql-injection
    cursor.execute("SELECT * FROM users WHERE name = :name", {"name": name})
    # ok: sql-injection
    cursor.execute(f"SELECT * FROM {TABLE} WHERE name = ?", [name])
    # ok: sql-injection
    cursor.execute("SELECT * FROM users WHERE id = %d" % int(request.args["id"]))
    return jsonify(cursor.fetchall())


@app.post("/orders")
def search_orders():
    data = request.get_json()
    conditions = ["1 = 1"]
    conditions.append("status = '%s'" % data["status"])
    where = " AND ".join(conditions)
    with engine.connect() as conn:
        # ruleid: sql-injection
        conn.execute(text(f"SELECT * FROM orders WHERE {where}"))
        # ruleid: sql-injection
        conn.execute(sqlalchemy.text("SELECT * FROM orders WHERE id = " + data["id"]))
        # ruleid: sql-injection
        engine.execute("DELETE FROM orders WHERE id = %s" % data["id"])
        # ok: sql-injection
        conn.execute(text("SELECT * FROM orders WHERE status = :status"), {"status": data["status"]})
        # ok: sql-injection
        conn.execute(sqlalchemy.text("SELECT * FROM orders WHERE id = :id"), dict(id=data["id"]))
    ids = data["ids"]
    placeholders = ", ".join("?" * len(ids))
    # ok: sql-injection
    db.execute(f"SELECT * FROM orders WHERE id IN ({placeholders})", ids)
    marks = ",".join(["%s"] * len(ids))
    # ok: sql-injection
    db.execute("SELECT * FROM orders WHERE id IN (%s)" % marks, ids)
    # ruleid: sql-injection
    db.executemany("INSERT INTO audit VALUES ('%s', ?)" % data["who"], [(1,), (2,)])
    # ok: sql-injection
    db.executemany("INSERT INTO audit VALUES (?, ?)", [(data["who"], 1)])
    return jsonify([])


@app.route("/report")
def report():
    order = req.args.get("order", "name")
    # ruleid: sql-injection
    frame = pd.read_sql(f"SELECT * FROM users ORDER BY {order}", engine)
    # ok: sql-injection
    frame = pd.read_sql("SELECT * FROM users WHERE name = %(n)s", engine, params={"n": order})
    # The identifier is quoted by psycopg2 itself.
    pg = psycopg2.connect("")
    # ok: sql-injection
    pg.cursor().execute(sql.SQL("SELECT * FROM {} LIMIT 5").format(sql.Identifier(order)))
    return frame.to_json()


# Data reaching SQL through a helper: the formatting is the flaw, wherever the value
# comes from.
def user_by_email(email):
    cursor = db.cursor()
    # ruleid: sql-injection
    cursor.execute("SELECT id FROM users WHERE email = '%s'" % email)
    # ok: sql-injection
    cursor.execute("SELECT id FROM users WHERE email = %s", (email,))
    return cursor.fetchone()


def build_query(column, value):
    return "SELECT * FROM users WHERE %s = '%s'" % (column, value)


@app.route("/by")
def by_column():
    # ruleid: sql-injection
    db.execute(build_query(request.args["column"], request.args["value"]))
    return ""


# --- Django ---------------------------------------------------------------------------


def django_search(request):
    term = request.GET.get("q", "")
    with connection.cursor() as cursor:
        # ruleid: sql-injection
        cursor.execute("SELECT * FROM shop_product WHERE name LIKE '%%%s%%'" % term)
        # ok: sql-injection
        cursor.execute("SELECT * FROM shop_product WHERE name LIKE %s", ["%" + term + "%"])
    # ruleid: sql-injection
    products = Product.objects.raw(f"SELECT * FROM shop_product WHERE name = '{term}'")
    # ok: sql-injection
    products = Product.objects.raw("SELECT * FROM shop_product WHERE name = %s", [term])
    # ruleid: sql-injection
    products = Product.objects.extra(where=["name = '%s'" % term])
    # ok: sql-injection
    products = Product.objects.extra(where=["name = %s"], params=[term])
    # ruleid: sql-injection
    products = Product.objects.annotate(rank=RawSQL("SELECT rank FROM r WHERE n = '" + term + "'", []))
    # ok: sql-injection
    products = Product.objects.annotate(rank=RawSQL("SELECT rank FROM r WHERE n = %s", [term]))
    # ok: sql-injection
    products = Product.objects.filter(name__icontains=term)
    return JsonResponse({"n": len(list(products))})


def django_detail(request, slug):
    with connection.cursor() as cursor:
        # ruleid: sql-injection
        cursor.execute("SELECT * FROM shop_product WHERE slug = '" + slug + "'")
        # ok: sql-injection
        cursor.execute("SELECT * FROM shop_product WHERE slug = %s", [slug])
    return JsonResponse({})


# --- FastAPI --------------------------------------------------------------------------


@api.get("/items/{item_id}")
async def read_item(item_id: str, q: str = ""):
    # ruleid: sql-injection
    rows = await database.fetch_all(f"SELECT * FROM items WHERE id = '{item_id}'")
    # ok: sql-injection
    rows = await database.fetch_all("SELECT * FROM items WHERE id = :id", values={"id": item_id})
    # ruleid: sql-injection
    row = await pool.fetchrow("SELECT * FROM items WHERE name = '%s'" % q)
    # ok: sql-injection
    row = await pool.fetchrow("SELECT * FROM items WHERE name = $1", q)
    return rows


@api.get("/count/{item_id}")
async def count_item(item_id: int):
    # ok: sql-injection
    return db.execute(f"SELECT count(*) FROM items WHERE id = {item_id}").fetchone()


# --- command line ---------------------------------------------------------------------

if __name__ == "__main__":
    # ruleid: sql-injection
    db.execute("DELETE FROM users WHERE name = '%s'" % sys.argv[1])
    # ok: sql-injection
    db.execute("DELETE FROM users WHERE name = ?", (sys.argv[1],))
    name = input("name: ")
    # ruleid: sql-injection
    db.execute(f"SELECT * FROM users WHERE name = '{name}'")
    # ok: sql-injection
    db.execute("SELECT * FROM users WHERE name = ?", (name,))
    # ok: sql-injection
    db.execute("SELECT count(*) FROM users")
