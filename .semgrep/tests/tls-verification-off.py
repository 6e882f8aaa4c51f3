# Test cases for ../tls-verification-off.yml, checked by:
#   semgrep --test --strict --config .semgrep/tls-verification-off.yml .semgrep/tests/tls-verification-off.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import os
import smtplib
import socket
import ssl
import urllib.request
import warnings

import aiohttp
import certifi
import httpx
import jwt
import paramiko
import requests
import urllib3
from requests.packages.urllib3.exceptions import InsecureRequestWarning

URL = "https://internal.example.com/api"
VERIFY_TLS = False

# --- tls-verification-disabled --------------------------------------------------------

# ruleid: tls-verification-disabled
requests.get(URL, verify=False, timeout=5)
# ruleid: tls-verification-disabled
requests.post(URL, json={}, verify=False, timeout=5)
# ruleid: tls-verification-disabled
requests.get(URL, verify=VERIFY_TLS, timeout=5)
# ruleid: tls-verification-disabled
client = httpx.Client(verify=False)
# ruleid: tls-verification-disabled
async_client = httpx.AsyncClient(base_url=URL, verify=False)
session = requests.Session()
# ruleid: tls-verification-disabled
session.verify = False
# ok: tls-verification-disabled
requests.get(URL, timeout=5)
# ok: tls-verification-disabled
requests.get(URL, verify=True, timeout=5)
# ok: tls-verification-disabled
requests.get(URL, verify="/etc/ssl/certs/internal-ca.pem", timeout=5)
# ok: tls-verification-disabled
requests.get(URL, verify=certifi.where(), timeout=5)
# ok: tls-verification-disabled
session.verify = "/etc/ssl/certs/internal-ca.pem"
# ok: tls-verification-disabled
claims = jwt.decode("token", "key", verify=False)

# ruleid: tls-verification-disabled
context = ssl._create_unverified_context()
# ruleid: tls-verification-disabled
ssl._create_default_https_context = ssl._create_unverified_context
context = ssl.create_default_context()
# ruleid: tls-verification-disabled
context.check_hostname = False
# ruleid: tls-verification-disabled
context.verify_mode = ssl.CERT_NONE
# ok: tls-verification-disabled
strict = ssl.create_default_context(cafile="/etc/ssl/certs/internal-ca.pem")
# ok: tls-verification-disabled
strict.check_hostname = True
# ok: tls-verification-disabled
strict.verify_mode = ssl.CERT_REQUIRED
# ok: tls-verification-disabled
urllib.request.urlopen(URL, context=strict, timeout=5)
# ruleid: tls-verification-disabled
wrapped = ssl.wrap_socket(socket.socket(), cert_reqs=ssl.CERT_NONE)
# ruleid: tls-verification-disabled
pool = urllib3.PoolManager(cert_reqs="CERT_NONE")
# ok: tls-verification-disabled
pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
# ruleid: tls-verification-disabled
os.environ["PYTHONHTTPSVERIFY"] = "0"
# ruleid: tls-verification-disabled
os.environ["CURL_CA_BUNDLE"] = ""


async def fetch():
    # ruleid: tls-verification-disabled
    connector = aiohttp.TCPConnector(ssl=False)
    # ok: tls-verification-disabled
    checked = aiohttp.TCPConnector(ssl=ssl.create_default_context())
    async with aiohttp.ClientSession(connector=checked) as http:
        # ruleid: tls-verification-disabled
        async with http.get(URL, ssl=False) as response:
            return await response.text()


ssh = paramiko.SSHClient()
# ruleid: tls-verification-disabled
ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
# ok: tls-verification-disabled
ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
# ok: tls-verification-disabled
ssh.load_system_host_keys()

# --- tls-insecure-protocol --------------------------------------------------------------

# ruleid: tls-insecure-protocol
legacy = ssl.SSLContext(ssl.PROTOCOL_TLSv1)
# ruleid: tls-insecure-protocol
legacy = ssl.SSLContext(ssl.PROTOCOL_SSLv3)
# ok: tls-insecure-protocol
modern = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
# ruleid: tls-insecure-protocol
modern.minimum_version = ssl.TLSVersion.TLSv1
# ok: tls-insecure-protocol
modern.minimum_version = ssl.TLSVersion.TLSv1_2

# --- tls-warnings-silenced -------------------------------------------------------------

# ruleid: tls-warnings-silenced
urllib3.disable_warnings()
# ruleid: tls-warnings-silenced
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
# ruleid: tls-warnings-silenced
requests.packages.urllib3.disable_warnings(InsecureRequestWarning)
# ruleid: tls-warnings-silenced
warnings.filterwarnings("ignore", category=InsecureRequestWarning)
# ok: tls-warnings-silenced
warnings.filterwarnings("ignore", category=DeprecationWarning)
