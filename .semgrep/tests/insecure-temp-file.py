# Test cases for ../insecure-temp-file.yml, checked by:
#   semgrep --test --strict --config .semgrep/insecure-temp-file.yml .semgrep/tests/insecure-temp-file.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import os
import stat
import tempfile
from pathlib import Path
from tempfile import mktemp

# --- insecure-temp-file ---------------------------------------------------------------

# ruleid: insecure-temp-file
path = tempfile.mktemp()
# ruleid: insecure-temp-file
path = mktemp(suffix=".csv", dir="/srv/exports")
# ok: insecure-temp-file
handle, path = tempfile.mkstemp(suffix=".csv")
# ok: insecure-temp-file
with tempfile.NamedTemporaryFile("w", suffix=".csv") as export:
    export.write("id\n")
# ok: insecure-temp-file
with tempfile.TemporaryDirectory() as scratch:
    pass
# ok: insecure-temp-file
scratch_dir = tempfile.mkdtemp()

# --- predictable-temp-path ------------------------------------------------------------

# ruleid: predictable-temp-path
with open("/tmp/report.csv", "w") as report:
    report.write("id\n")
# ruleid: predictable-temp-path
open(f"/tmp/upload-{os.getpid()}.bin", "wb").write(b"")
# ruleid: predictable-temp-path
Path("/tmp/app.lock").write_text("1")
# ok: predictable-temp-path
with open("/tmp/report.csv") as report:
    report.read()
# ok: predictable-temp-path
with open(os.path.join(tempfile.gettempdir(), "x"), "r") as report:
    report.read()
# ok: predictable-temp-path
with open("/srv/app/report.csv", "w") as report:
    report.write("id\n")
