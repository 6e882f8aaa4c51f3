"""A small OSV-compatible advisory mirror for air-gapped runners.

``database`` loads OSV advisories (a clone of the PyPA Advisory Database, or an
osv.dev-style zip of JSON files) into an index by canonical package name;
``matching`` decides which versions an advisory affects, the way the OSV schema
defines it; ``server`` answers ``POST /v1/query`` as pip-audit expects.

    python -m tools.osv --db PATH [--host 127.0.0.1] [--port 8080]
    python -m tools.osv.bench --db PATH
"""
