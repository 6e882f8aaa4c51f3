# Test cases for ../insecure-file-permissions.yml, checked by:
#   semgrep --test --strict --config .semgrep/insecure-file-permissions.yml .semgrep/tests/insecure-file-permissions.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import os
import stat
from pathlib import Path

# --- world-writable-permissions ----------------------------------------------------------

# ruleid: world-writable-permissions
os.chmod("/srv/app/uploads", 0o777)
# ruleid: world-writable-permissions
os.chmod("/srv/app/config.yml", 0o666)
# ruleid: world-writable-permissions
os.makedirs("/srv/app/cache", mode=0o777, exist_ok=True)
# ruleid: world-writable-permissions
os.chmod("/srv/app/run.sh", stat.S_IRWXU | stat.S_IRWXO)
# ruleid: world-writable-permissions
os.umask(0)
# ok: world-writable-permissions
os.chmod("/srv/app/config.yml", 0o600)
# ok: world-writable-permissions
os.chmod("/srv/app/run.sh", 0o755)
# ok: world-writable-permissions
os.makedirs("/srv/app/cache", mode=0o700, exist_ok=True)
# ok: world-writable-permissions
os.umask(0o077)
# ok: world-writable-permissions
Path("/srv/app/key.pem").chmod(0o400)
