# Test cases for ../xxe.yml, checked by:
#   semgrep --test --strict --config .semgrep/xxe.yml .semgrep/tests/xxe.py
# A "ruleid" annotation names the rules that must report the next line, an "ok"
# annotation rules that must not; "todoruleid" and "todook" record known misses and
# false positives. Deliberately insecure: excluded from the project's scan and from ruff.
# ruff: noqa
import xml.dom.minidom
import xml.etree.ElementTree as ET
import xml.sax
from xml.dom.minidom import parseString
from xml.etree.ElementTree import fromstring
from xml.sax.handler import feature_external_ges

import defusedxml.ElementTree as DET
import defusedxml.minidom
from django.http import HttpResponse
from fastapi import FastAPI, Request
from flask import Flask, request
from lxml import etree

app = Flask(__name__)
api = FastAPI()
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

# --- xml-parser-resolves-entities -----------------------------------------------------

# ruleid: xml-parser-resolves-entities
unsafe = etree.XMLParser(resolve_entities=True)
# ruleid: xml-parser-resolves-entities
unsafe = etree.XMLParser(load_dtd=True, no_network=False)
# ruleid: xml-parser-resolves-entities
unsafe = etree.XMLParser(dtd_validation=True)
# ok: xml-parser-resolves-entities
safe = etree.XMLParser(resolve_entities=False, no_network=True)
sax_parser = xml.sax.make_parser()
# ruleid: xml-parser-resolves-entities
sax_parser.setFeature(feature_external_ges, True)
# ok: xml-parser-resolves-entities
sax_parser.setFeature(feature_external_ges, False)

# --- xml-parsing-untrusted-data ---------------------------------------------------------


@app.post("/import")
def import_xml():
    body = request.data
    # ruleid: xml-parsing-untrusted-data
    root = ET.fromstring(body)
    # ruleid: xml-parsing-untrusted-data
    root = fromstring(request.get_data())
    # ruleid: xml-parsing-untrusted-data
    tree = ET.parse(request.files["document"])
    # ruleid: xml-parsing-untrusted-data
    doc = xml.dom.minidom.parseString(body)
    # ruleid: xml-parsing-untrusted-data
    doc = parseString(request.form["xml"])
    # ruleid: xml-parsing-untrusted-data
    root = etree.fromstring(body)
    # ruleid: xml-parsing-untrusted-data
    tree = etree.parse(request.files["document"])
    # ruleid: xml-parsing-untrusted-data
    xml.sax.parseString(body, xml.sax.ContentHandler())
    # ok: xml-parsing-untrusted-data
    root = DET.fromstring(body)
    # ok: xml-parsing-untrusted-data
    doc = defusedxml.minidom.parseString(body)
    # ok: xml-parsing-untrusted-data
    root = etree.fromstring(body, parser=SAFE_PARSER)
    # ok: xml-parsing-untrusted-data
    root = etree.fromstring(body, SAFE_PARSER)
    # ok: xml-parsing-untrusted-data
    config = ET.parse("config/settings.xml")
    return ""


def django_upload(request):
    # ruleid: xml-parsing-untrusted-data
    root = ET.fromstring(request.body)
    # ok: xml-parsing-untrusted-data
    root = DET.fromstring(request.body)
    return HttpResponse(root.tag)


@api.post("/xml")
async def fastapi_xml(request: Request):
    body = await request.body()
    # ruleid: xml-parsing-untrusted-data
    return {"tag": etree.fromstring(body).tag}
