#!/usr/bin/env python3
"""The fake MESH server's optional mutual TLS: with --cert/--key/--ca a client must present a
certificate from the CA. (The C++ client reaches it through itk::http::Client, issue-4; this test
keeps the fake itself honest meanwhile.) Certificates are made here with the openssl command."""

import datetime
import hashlib
import hmac
import os
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
import uuid

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mesh_server.py")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "X26ABC1.X26.api.mesh-client.nhs.uk")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout",
                f"{name}.key", "-out", f"{name}.csr", cwd=d)
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", *extra, cwd=d)


def token(mailbox="X26ABC1", password="password", key="TestKey"):
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M")
    nonce = str(uuid.uuid4())
    digest = hmac.new(key.encode(), f"{mailbox}:{nonce}:1:{password}:{ts}".encode(),
                      hashlib.sha256).hexdigest()
    return f"NHSMESH {mailbox}:{nonce}:1:{ts}:{digest}"


class MutualTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        make_pki(d)
        cls.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--cert", f"{d}/server.pem", "--key",
             f"{d}/server.key", "--ca", f"{d}/ca.pem"], stdout=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        cls.port = int(line.split()[1])

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=10)
        cls.proc.stdout.close()
        cls.dir.cleanup()

    def context(self, with_client_cert):
        d = self.dir.name
        ctx = ssl.create_default_context(cafile=f"{d}/ca.pem")
        if with_client_cert:
            ctx.load_cert_chain(f"{d}/client.pem", f"{d}/client.key")
        return ctx

    def get_inbox(self, ctx):
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}/messageexchange/X26ABC1/inbox")
        req.add_header("Authorization", token())
        req.add_header("Accept", "application/vnd.mesh.v2+json")
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status

    def test_client_certificate_accepted(self):
        self.assertEqual(self.get_inbox(self.context(True)), 200)

    def test_no_client_certificate_refused(self):
        with self.assertRaises((ssl.SSLError, urllib.error.URLError, ConnectionError, OSError)):
            self.get_inbox(self.context(False))


if __name__ == "__main__":
    unittest.main()
