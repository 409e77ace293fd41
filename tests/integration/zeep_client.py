#!/usr/bin/env python3
"""A SOAP client that nobody in this project wrote (Debian's python3-zeep) sends one ITK
Distribution Envelope to the router, as an NHS 111 system would: zeep reads the ITK WSDL
(fixtures itk2/schemas/wsdl/NHS111-v3-0.wsdl), builds the SOAP body from the schema types it
includes, posts it with the WSDL's SOAPAction and parses the SimpleMessageResponse the WSDL
declares as the operation's output.

The ITK headers (WS-Addressing MessageID, Action, To; WS-Security Timestamp and Username,
spec/itk2.md §4.2) are handed to zeep as SOAP header elements: zeep's own WS-Addressing plugin
writes MessageIDs as urn:uuid:..., which ITK refuses (WS-ADR-01: an upper-case UUID).

usage: zeep_client.py WSDL ROUTER_URL SENT_FILE
Writes the exact bytes zeep posted to SENT_FILE, prints "SimpleMessageResponse: <text>", and
exits 0; exits 1 on a SOAP fault or any other failure.
"""
import datetime
import sys
import uuid

from lxml import etree
import zeep
from zeep.transports import Transport

ITK = "urn:nhs-itk:ns:201005"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SERVICE = "urn:nhs-itk:services:201005:SendNHS111Report-v2-0"
OPERATION = "SendNHS111Report-v2-0"
BINDING = "{%s}SendNHS111Report-v2-0_pttBinding" % ITK


class RecordingTransport(Transport):
    """zeep's HTTP transport, keeping a copy of the bytes it posts."""

    def __init__(self, sent_file):
        super().__init__()
        self.sent_file = sent_file

    def post(self, address, message, headers):
        with open(self.sent_file, "wb") as f:
            f.write(message)
        return super().post(address, message, headers)


def upper_uuid():
    return str(uuid.uuid4()).upper()


def element(ns, name, text=None, parent=None, nsmap=None):
    tag = "{%s}%s" % (ns, name)
    e = etree.SubElement(parent, tag) if parent is not None else etree.Element(tag, nsmap=nsmap)
    if text is not None:
        e.text = text
    return e


def itk_headers(url):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    security = element(WSSE, "Security", nsmap={"wsse": WSSE, "wsu": WSU})
    timestamp = element(WSU, "Timestamp", parent=security)
    timestamp.set("{%s}Id" % WSU, upper_uuid())
    element(WSU, "Created", now.strftime(stamp), parent=timestamp)
    element(WSU, "Expires", (now + datetime.timedelta(minutes=10)).strftime(stamp),
            parent=timestamp)
    token = element(WSSE, "UsernameToken", parent=security)
    element(WSSE, "Username", "nhs111-system", parent=token)
    return [
        element(WSA, "MessageID", upper_uuid(), nsmap={"wsa": WSA}),
        element(WSA, "Action", SERVICE, nsmap={"wsa": WSA}),
        element(WSA, "To", url, nsmap={"wsa": WSA}),
        security,
    ]


def distribution_envelope():
    """The DE as zeep's schema types take it: nested dicts, the payload as an lxml element."""
    payload_id = "uuid_" + upper_uuid()
    report = etree.fromstring(
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="%s"/>'
        "<title>NHS 111 report</title></ClinicalDocument>" % upper_uuid())
    return dict(
        header=dict(
            service=SERVICE,
            trackingid=upper_uuid(),
            addresslist=dict(address=[dict(uri="urn:nhs-uk:addressing:ods:RHM")]),
            auditIdentity=dict(id=[dict(uri="urn:nhs-uk:identity:ods:NHS111:system")]),
            manifest=dict(count=1, manifestitem=[dict(id=payload_id, mimetype="text/xml")]),
            senderAddress=dict(uri="urn:nhs-uk:addressing:ods:NHS111"),
        ),
        payloads=dict(count=1, payload=[dict(id=payload_id, _value_1=report)]),
    )


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    wsdl, url, sent_file = argv[1:]
    client = zeep.Client(wsdl, transport=RecordingTransport(sent_file))
    service = client.create_service(BINDING, url)
    try:
        result = service[OPERATION](_soapheaders=itk_headers(url), **distribution_envelope())
    except zeep.exceptions.Fault as fault:
        detail = etree.tostring(fault.detail).decode() if fault.detail is not None else ""
        print("SOAP fault: %s %s %s" % (fault.code, fault.message, detail))
        return 1
    print("SimpleMessageResponse: %s" % result)
    return 0 if result == "OK" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
