#!/usr/bin/env python3
"""A fake MESH API server for the itk-router tests, written from spec/itk3-mesh.md section 3.

An independent peer for the C++ MESH client: python stdlib only (ThreadingHTTPServer + ssl). It
checks what real MESH checks and the sandbox does not (token reuse, clock skew), keeps everything
in memory, and listens on 127.0.0.1 on the port given (0: any free port), printing

    PORT <n>

on stdout once it is ready. Optional mutual TLS: --cert/--key (server), --ca (client certificates
required and checked against it).

Mailbox API (every route needs Authorization: NHSMESH mailbox:nonce:count:timestamp:hmac):
  POST /messageexchange/{mbx}                                handshake
  GET  /messageexchange/{mbx}/inbox                          list (max_results, continue_from,
                                                             workflow_filter)
  GET  /messageexchange/{mbx}/inbox/{id}[/{n}]               download chunk (206 until the last)
  PUT  /messageexchange/{mbx}/inbox/{id}/status/acknowledged acknowledge
  POST /messageexchange/{mbx}/outbox                         send (chunk 1)
  POST /messageexchange/{mbx}/outbox/{id}/{n}                send chunk n
  GET  /messageexchange/{mbx}/outbox/tracking?messageID=     tracking
Admin API for tests (no auth):
  POST   /messageexchange/admin/report     inject a REPORT (sandbox shape)
  POST   /messageexchange/admin/inject     put a DATA message in an inbox (chunks, gzip)
  POST   /messageexchange/admin/fault      next N requests of an operation fail (status or drop),
                                           or are held open (hold) until released; with after
                                           the operation is done and only its answer is held
  POST   /messageexchange/admin/release    answer the held requests: mode "drop" (close the
                                           connection, the operation not done) or "proceed"
  POST   /messageexchange/admin/deny       refuse a workflow (error 17)
  GET    /messageexchange/admin/messages   every message's metadata
  GET    /messageexchange/admin/message/{id}  one message with its data (base64)
  GET    /messageexchange/admin/stats      request, authentication-failure and held-request counts
  DELETE /messageexchange/admin/reset      forget messages, tokens, faults (held requests dropped)

With --cert the admin API is also served over plain HTTP on a second port, so a test can drive
the fake without a client certificate; the ready line is then

    PORT <n> ADMIN <m>
"""

import argparse
import base64
import datetime
import gzip
import hashlib
import hmac
import io
import json
import os
import re
import ssl
import sys
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

V2 = "application/vnd.mesh.v2+json"
SKEW = datetime.timedelta(hours=2)  # section 3.2: within 2 hours of server time


class Message:
    def __init__(self, sender, recipient, workflow, headers, encoding, total, message_type="DATA"):
        self.id = uuid.uuid4().hex.upper()
        self.sender = sender
        self.recipient = recipient
        self.workflow = workflow
        self.local_id = headers.get("mex-localid", "")
        self.subject = headers.get("mex-subject", "")
        self.file_name = headers.get("mex-filename", "") or self.id + ".dat"
        self.content_type = headers.get("mex-content-type", "")
        self.message_type = message_type
        self.encoding = encoding  # the Content-Encoding every chunk was sent with
        self.total = total
        self.chunks = []  # as received (gzip when encoding is gzip)
        self.status = "uploading" if total > 1 else "accepted"
        self.linked_message_id = ""
        self.status_code = "00"
        self.status_event = "TRANSFER"
        self.status_description = "Transferred to recipient mailbox"
        self.status_success = "SUCCESS"
        self.downloads = 0
        self.acknowledged = 0
        self.created = datetime.datetime.now(datetime.timezone.utc)

    def plain(self):
        return b"".join(gzip.decompress(c) if self.encoding == "gzip" else c for c in self.chunks)

    def meta(self, with_data=False):
        m = {
            "message_id": self.id, "sender": self.sender, "recipient": self.recipient,
            "workflow_id": self.workflow, "local_id": self.local_id, "subject": self.subject,
            "file_name": self.file_name, "content_type": self.content_type,
            "message_type": self.message_type, "content_encoding": self.encoding,
            "total_chunks": self.total, "chunks_received": len(self.chunks),
            "chunk_sizes": [len(c) for c in self.chunks], "status": self.status,
            "linked_message_id": self.linked_message_id, "status_code": self.status_code,
            "downloads": self.downloads, "acknowledged": self.acknowledged,
        }
        if with_data:
            m["data_b64"] = base64.b64encode(self.plain()).decode()
        return m


class Hold:
    """A request held open by a "hold" fault until a test releases it. With `after` the operation
    is done at once and only its answer is held (MESH took it; the client does not know yet)."""

    def __init__(self, op, after=False):
        self.op = op
        self.after = after
        self.released = threading.Event()
        self.mode = "drop"

    def release(self, mode):
        self.mode = mode
        self.released.set()


HOLD_LIMIT = 300  # seconds; a held request is dropped after this even if never released


class State:
    def __init__(self, mailboxes, shared_key):
        self.lock = threading.Lock()
        self.mailboxes = mailboxes
        self.shared_key = shared_key
        self.clock_offset = datetime.timedelta()
        self.reset()

    def reset(self):
        self.messages = {}
        self.order = []
        self.seen_tokens = set()
        self.faults = []
        self.denied_workflows = set()
        self.stats = {"requests": {}, "auth_failures": {}, "held": {}}
        for hold in getattr(self, "holds", []):
            hold.release("drop")
        self.holds = []

    def count(self, table, key):
        self.stats[table][key] = self.stats[table].get(key, 0) + 1


def v2_error(event, code, msg, message_id=None):
    body = {"detail": [{"event": event, "code": code, "msg": msg}]}
    if message_id:
        body["message_id"] = message_id
    return body


def v1_error(event, code, msg, message_id=None):
    body = {"errorEvent": event, "errorCode": code, "errorDescription": msg}
    if message_id:
        body["messageID"] = message_id
    return body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the pooled client expects
    server_version = "FakeMESH/1"

    # --- plumbing ---

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("mesh: " + (fmt % args) + "\n")

    def state(self):
        return self.server.state

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, body=b"", headers=None):
        if isinstance(body, (dict, list)) or body is None:
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", V2 if self.v2 else "application/json")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, event, code, msg, message_id=None):
        make = v2_error if self.v2 else v1_error
        self.send(status, make(event, code, msg, message_id))

    def mex(self):
        return {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("mex-")}

    def accept_version(self):
        """Section 3.3: v2 only with Accept: application/vnd.mesh.v2+json; a malformed
        vnd.mesh.vX is a 400."""
        accept = self.headers.get("Accept", "")
        m = re.search(r"application/vnd\.mesh\.v(\w+)\+json", accept)
        if "vnd.mesh" in accept and (not m or m.group(1) not in ("1", "2")):
            return None
        return bool(m and m.group(1) == "2")

    def authenticate(self, mailbox):
        """Full NHSMESH checking: scheme, five parts, mailbox match, HMAC, skew, reuse."""
        st = self.state()
        header = self.headers.get("Authorization", "")

        def refuse(reason, msg):
            st.count("auth_failures", reason)
            self.error(403, "", "", msg)
            return False

        if not header.startswith("NHSMESH "):
            return refuse("scheme", "Error reading from Authorization header")
        parts = header[len("NHSMESH "):].split(":")
        if len(parts) != 5 or not all(parts):
            return refuse("format", "Error reading from Authorization header")
        token_mailbox, nonce, count, timestamp, digest = parts
        if token_mailbox != mailbox:
            return refuse("mailbox", "Mailbox id does not match token")
        password = st.mailboxes.get(mailbox)
        if password is None:
            return refuse("unknown_mailbox", "No mailbox matched")
        message = f"{token_mailbox}:{nonce}:{count}:{password}:{timestamp}".encode()
        expected = hmac.new(st.shared_key.encode(), message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, digest.lower()):
            return refuse("hmac", "Invalid Authentication Token")
        try:
            when = datetime.datetime.strptime(timestamp, "%Y%m%d%H%M").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            return refuse("timestamp", "Invalid Authentication Token")
        now = datetime.datetime.now(datetime.timezone.utc) + st.clock_offset
        if abs(now - when) > SKEW:
            return refuse("skew", "Invalid Authentication Token")
        key = (token_mailbox, nonce, count)
        if key in st.seen_tokens:
            return refuse("reuse", "Invalid Authentication Token")
        st.seen_tokens.add(key)
        return True

    def fault(self, op):
        """An injected failure for this operation, if one is due: True when answered, a Hold
        when the request is to be held open (the caller waits outside the state lock)."""
        st = self.state()
        for f in st.faults:
            if f["op"] == op and f["count"] > 0:
                f["count"] -= 1
                if f.get("hold"):
                    hold = Hold(op, bool(f.get("after")))
                    st.holds.append(hold)
                    st.count("held", op)
                    return hold
                if f.get("drop"):
                    self.close_connection = True
                    self.connection.close()
                    return True
                self.send(f["status"], f.get("body", v2_error("", "", "injected fault")))
                return True
        return False

    # --- dispatch ---

    ROUTES = [
        ("POST", r"/messageexchange/admin/report", "admin_report"),
        ("POST", r"/messageexchange/admin/inject", "admin_inject"),
        ("POST", r"/messageexchange/admin/fault", "admin_fault"),
        ("POST", r"/messageexchange/admin/release", "admin_release"),
        ("POST", r"/messageexchange/admin/deny", "admin_deny"),
        ("POST", r"/messageexchange/admin/clock", "admin_clock"),
        ("GET", r"/messageexchange/admin/messages", "admin_messages"),
        ("GET", r"/messageexchange/admin/message/(?P<id>[^/]+)", "admin_message"),
        ("GET", r"/messageexchange/admin/stats", "admin_stats"),
        ("DELETE", r"/messageexchange/admin/reset", "admin_reset"),
        ("GET", r"/messageexchange/_ping", "ping"),
        ("POST", r"/messageexchange/(?P<mbx>[^/]+)", "handshake"),
        ("GET", r"/messageexchange/(?P<mbx>[^/]+)/inbox", "inbox"),
        ("GET", r"/messageexchange/(?P<mbx>[^/]+)/inbox/(?P<id>[^/]+)(?:/(?P<n>\d+))?", "download"),
        ("HEAD", r"/messageexchange/(?P<mbx>[^/]+)/inbox/(?P<id>[^/]+)", "download"),
        ("PUT", r"/messageexchange/(?P<mbx>[^/]+)/inbox/(?P<id>[^/]+)/status/acknowledged",
         "acknowledge"),
        ("POST", r"/messageexchange/(?P<mbx>[^/]+)/outbox", "send_message"),
        ("POST", r"/messageexchange/(?P<mbx>[^/]+)/outbox/(?P<id>[^/]+)/(?P<n>\d+)", "send_chunk"),
        ("GET", r"/messageexchange/(?P<mbx>[^/]+)/outbox/tracking", "tracking"),
    ]
    OPS = {"handshake": "handshake", "inbox": "list", "download": "download",
           "acknowledge": "acknowledge", "send_message": "send", "send_chunk": "send_chunk",
           "tracking": "tracking"}

    def dispatch(self):
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        self.v2 = True
        for method, pattern, name in self.ROUTES:
            m = re.fullmatch(pattern, url.path)
            if method == self.command and m:
                args = m.groupdict()
                payload = self.body()
                with self.state().lock:
                    self.state().count("requests", name)
                    if name in self.OPS:
                        version = self.accept_version()
                        if version is None:
                            self.v2 = True
                            return self.send(400, {"detail": [{"msg": "Accept header api format incorrect"}]})
                        self.v2 = version
                        if not self.authenticate(args["mbx"]):
                            return
                        fault = self.fault(self.OPS[name])
                        if fault is True:
                            return
                        if not fault:
                            return getattr(self, name)(payload, **args)
                        if fault.after:
                            # Done now; the answer is kept until the release.
                            wfile, self.wfile = self.wfile, io.BytesIO()
                            try:
                                getattr(self, name)(payload, **args)
                            finally:
                                answer, self.wfile = self.wfile.getvalue(), wfile
                    else:
                        return getattr(self, name)(payload, **args)
                # A held request: wait (without the lock) until the test releases it.
                fault.released.wait(HOLD_LIMIT)
                if fault.mode != "proceed":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault.after:
                    self.wfile.write(answer)
                    return
                with self.state().lock:
                    return getattr(self, name)(payload, **args)
        self.body()
        self.send(404, {"detail": [{"msg": "Not Found"}]})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = lambda self: self.dispatch()

    # --- mailbox API ---

    def handshake(self, payload, mbx):
        mex = self.mex()
        missing = [h for h in ("mex-clientversion", "mex-osname", "mex-osversion") if h not in mex]
        if missing:
            return self.send(400, {"detail": [{"loc": ["header", h], "msg": "field required",
                                               "type": "value_error.missing"} for h in missing]})
        self.send(200, b"" if self.v2 else json.dumps({"mailboxId": mbx}).encode())

    def inbox(self, payload, mbx):
        st = self.state()
        wf = (self.query.get("workflow_filter") or [""])[0]
        ids = [i for i in st.order if st.messages[i].recipient == mbx
               and st.messages[i].status == "accepted" and self.workflow_matches(wf, st.messages[i])]
        try:
            limit = int((self.query.get("max_results") or ["500"])[0])
        except ValueError:
            limit = 500
        limit = max(10, min(5000, limit))
        after = (self.query.get("continue_from") or [""])[0]
        if after in ids:
            ids_after = ids[ids.index(after) + 1:]
        else:
            ids_after = ids
        page = ids_after[:limit]
        if not self.v2:
            return self.send(200, {"messages": page})
        links = {"self": self.path}
        if len(ids_after) > limit:
            links["next"] = (f"/messageexchange/{mbx}/inbox?max_results={limit}"
                             f"&continue_from={page[-1]}")
        self.send(200, {"messages": page, "links": links, "approx_inbox_count": len(ids)})

    @staticmethod
    def workflow_matches(pattern, msg):
        if not pattern:
            return True
        negate = pattern.startswith("!")
        p = pattern[1:] if negate else pattern
        regex = "^" + re.escape(p).replace(r"\*", ".*") + "$"
        return bool(re.match(regex, msg.workflow)) != negate

    def download(self, payload, mbx, id, n=None):
        st = self.state()
        msg = st.messages.get(id)
        if msg is None or msg.status == "uploading":
            return self.error(404, "RECEIVE", "20", "Message does not exist", id)
        if msg.recipient != mbx:
            return self.error(403, "RECEIVE", "", "Not the recipient", id)
        if msg.status == "acknowledged":
            return self.error(410, "RECEIVE", "", "Message has been acknowledged", id)
        index = int(n) if n else 1
        if index < 1 or index > msg.total:
            return self.error(404, "RECEIVE", "20", "Chunk does not exist", id)
        if index == 1:
            msg.downloads += 1
        data = msg.chunks[index - 1]
        headers = {
            "Content-Type": "application/octet-stream",
            "mex-MessageID": msg.id, "mex-From": msg.sender, "mex-To": msg.recipient,
            "mex-WorkflowID": msg.workflow, "mex-Chunk-Range": f"{index}:{msg.total}",
            "mex-Total-Chunks": str(msg.total), "mex-LocalID": msg.local_id,
            "mex-Subject": msg.subject, "mex-FileName": msg.file_name,
            "mex-MessageType": msg.message_type, "mex-AddressType": "ALL", "mex-Version": "1.0",
            "mex-StatusCode": msg.status_code, "mex-StatusEvent": msg.status_event,
            "mex-StatusDescription": msg.status_description,
            "mex-StatusSuccess": msg.status_success,
            "mex-StatusTimestamp": msg.created.strftime("%Y%m%d%H%M%S"),
        }
        if msg.content_type:
            headers["mex-Content-Type"] = msg.content_type
        if msg.linked_message_id:
            headers["mex-LinkedMsgID"] = msg.linked_message_id
        if msg.encoding == "gzip":
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                headers["Content-Encoding"] = "gzip"
                headers["mex-Content-Compressed"] = "Y"
            else:
                data = gzip.decompress(data)  # section 3.6: decompressed for such clients
        self.send(206 if index < msg.total else 200, data, headers)

    def acknowledge(self, payload, mbx, id):
        st = self.state()
        msg = st.messages.get(id)
        if msg is None or msg.recipient != mbx or msg.status == "uploading":
            return self.error(404, "RECEIVE", "20", "Message does not exist", id)
        msg.status = "acknowledged"
        msg.acknowledged += 1
        self.send(200, b"" if self.v2 else json.dumps({"messageId": id}).encode())

    def check_mex(self, mex):
        """Section 3.5: control characters, URLs in To/WorkflowID/Checksum -> 400 TRANSFER/06."""
        for k, v in mex.items():
            if any(ord(c) < 0x20 for c in v):
                return False
        for k in ("mex-to", "mex-workflowid", "mex-content-checksum"):
            if re.match(r"(?i)https?://", mex.get(k, "")):
                return False
        return True

    def send_message(self, payload, mbx):
        st = self.state()
        mex = self.mex()
        if not self.check_mex(mex):
            return self.error(400, "TRANSFER", "06", "MalformedControlFile")
        if not mex.get("mex-to"):
            return self.error(417, "SEND", "08", "Missing Mex-To")
        if not mex.get("mex-workflowid"):
            return self.error(400, "TRANSFER", "06", "MalformedControlFile")
        encoding = self.headers.get("Content-Encoding", "")
        if encoding and encoding != "gzip":
            return self.error(422, "SEND", "", "UnsupportedContentEncoding")
        if not payload:
            return self.error(417, "COLLECT", "02", "Data file is missing or inaccessible")
        if mex["mex-to"] not in st.mailboxes:
            return self.error(417, "SEND", "12", "Unregistered to address")
        if mex["mex-workflowid"] in st.denied_workflows:
            return self.error(417, "SEND", "17", "Workflow not registered for mailbox")
        total = 1
        if "mex-chunk-range" in mex:
            m = re.fullmatch(r"(\d+):(\d+)", mex["mex-chunk-range"])
            if not m or int(m.group(1)) != 1 or int(m.group(2)) < 1:
                return self.error(417, "SEND", "", "InvalidHeaderChunks")
            total = int(m.group(2))
        if encoding == "gzip" and not self.valid_gzip(payload):
            return self.error(400, "SEND", "", "Content-Encoding gzip but the data is not gzip")
        msg = Message(mbx, mex["mex-to"], mex["mex-workflowid"], mex, encoding, total)
        msg.chunks.append(payload)
        st.messages[msg.id] = msg
        st.order.append(msg.id)
        self.send(202, {"message_id": msg.id} if self.v2 else {"messageID": msg.id})

    @staticmethod
    def valid_gzip(data):
        try:
            gzip.decompress(data)
            return True
        except (OSError, EOFError, zlib.error):
            return False

    def send_chunk(self, payload, mbx, id, n):
        st = self.state()
        msg = st.messages.get(id)
        index = int(n)
        if msg is None:
            return self.error(404, "SEND", "20", "Message does not exist", id)
        if msg.sender != mbx:
            return self.error(403, "SEND", "", "Not the sender", id)
        if msg.status != "uploading":
            return self.error(423, "SEND", "", "Message already finalised", id)
        if index > msg.total:
            return self.error(406, "SEND", "", "Chunk number beyond the total", id)
        m = re.fullmatch(r"(\d+):(\d+)", self.mex().get("mex-chunk-range", ""))
        if not m or int(m.group(1)) != index or int(m.group(2)) != msg.total \
                or index != len(msg.chunks) + 1:
            return self.error(417, "SEND", "", "InvalidHeaderChunks", id)
        if self.headers.get("Content-Encoding", "") != msg.encoding:
            return self.error(417, "SEND", "", "Content-Encoding differs from chunk 1", id)
        if not payload:
            return self.error(417, "COLLECT", "02", "Data file is missing or inaccessible", id)
        if msg.encoding == "gzip" and not self.valid_gzip(payload):
            return self.error(400, "SEND", "", "Content-Encoding gzip but the data is not gzip")
        msg.chunks.append(payload)
        if len(msg.chunks) == msg.total:
            msg.status = "accepted"
        self.send(202, None if self.v2 else {"messageID": id, "blockID": index})

    def tracking(self, payload, mbx):
        st = self.state()
        id = (self.query.get("messageID") or [""])[0]
        msg = st.messages.get(id)
        if msg is None or msg.sender != mbx:  # 404, deliberately not 403 (section 3.4)
            return self.error(404, "TRACK", "20", "Message does not exist", id)
        failed = msg.status in ("undeliverable", "error")
        if self.v2:
            return self.send(200, {
                "message_id": msg.id, "local_id": msg.local_id, "workflow_id": msg.workflow,
                "filename": msg.file_name, "recipient": msg.recipient, "status": msg.status,
                "status_success": not failed, "status_code": msg.status_code,
                "status_description": msg.status_description})
        self.send(200, {"messageID": msg.id, "localId": msg.local_id, "workflowId": msg.workflow,
                        "recipient": msg.recipient, "status": msg.status.title(),
                        "statusSuccess": not failed})

    def ping(self, payload):
        self.send(200, {"ping": True})

    # --- admin API ---

    def admin_report(self, payload):
        st = self.state()
        req = json.loads(payload or b"{}")
        mbx = req["mailbox_id"]
        msg = Message("", mbx, req.get("workflow_id", ""),
                      {"mex-localid": req.get("local_id", ""),
                       "mex-subject": req.get("subject", "")}, "", 1, "REPORT")
        msg.chunks.append(b"")
        msg.linked_message_id = req.get("linked_message_id", "")
        msg.status_code = req.get("code", "14")
        msg.status_event = "SEND"
        msg.status_description = req.get("description", "")
        msg.status_success = "ERROR"
        st.messages[msg.id] = msg
        st.order.append(msg.id)
        linked = st.messages.get(msg.linked_message_id)
        if linked is not None:
            linked.status = req.get("status", "undeliverable")
            linked.status_code = msg.status_code
            linked.status_description = msg.status_description
        self.send(200, {"message_id": msg.id})

    def admin_inject(self, payload):
        st = self.state()
        req = json.loads(payload or b"{}")
        data = base64.b64decode(req.get("data_b64", ""))
        size = int(req.get("chunk_size") or 0) or max(1, len(data))
        pieces = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        encoding = "gzip" if req.get("gzip") else ""
        headers = {"mex-localid": req.get("local_id", ""), "mex-subject": req.get("subject", ""),
                   "mex-filename": req.get("file_name", ""),
                   "mex-content-type": req.get("content_type", "")}
        msg = Message(req.get("from", ""), req["to"], req.get("workflow_id", ""), headers,
                      encoding, len(pieces))
        msg.chunks = [gzip.compress(p) if encoding else p for p in pieces]
        msg.status = "accepted"
        st.messages[msg.id] = msg
        st.order.append(msg.id)
        self.send(200, {"message_id": msg.id})

    def admin_fault(self, payload):
        req = json.loads(payload or b"{}")
        self.state().faults.append({"op": req["op"], "status": int(req.get("status", 500)),
                                    "count": int(req.get("count", 1)),
                                    "drop": bool(req.get("drop", False)),
                                    "hold": bool(req.get("hold", False)),
                                    "after": bool(req.get("after", False))})
        self.send(200, {"ok": True})

    def admin_release(self, payload):
        req = json.loads(payload or b"{}")
        mode = req.get("mode", "drop")
        if mode not in ("drop", "proceed"):
            return self.send(400, {"detail": [{"msg": "mode is drop or proceed"}]})
        st = self.state()
        released = [h for h in st.holds if req.get("op") in (None, h.op)]
        st.holds = [h for h in st.holds if h not in released]
        for hold in released:
            hold.release(mode)
        self.send(200, {"released": len(released)})

    def admin_deny(self, payload):
        self.state().denied_workflows.add(json.loads(payload)["workflow_id"])
        self.send(200, {"ok": True})

    def admin_clock(self, payload):
        self.state().clock_offset = datetime.timedelta(
            seconds=float(json.loads(payload)["offset_seconds"]))
        self.send(200, {"ok": True})

    def admin_messages(self, payload):
        st = self.state()
        self.send(200, [st.messages[i].meta() for i in st.order])

    def admin_message(self, payload, id):
        msg = self.state().messages.get(id)
        if msg is None:
            return self.send(404, {"detail": [{"msg": "no such message"}]})
        self.send(200, msg.meta(with_data=True))

    def admin_stats(self, payload):
        self.send(200, self.state().stats)

    def admin_reset(self, payload):
        self.state().reset()
        self.send(200, {"ok": True})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--shared-key", default="TestKey")
    p.add_argument("--mailbox", action="append", default=[],
                   help="ID:password (repeatable); default X26ABC1, X26ABC2, X26ABC3 / password")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca", help="require client certificates issued by this CA")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    mailboxes = dict(m.split(":", 1) for m in args.mailbox) or {
        "X26ABC1": "password", "X26ABC2": "password", "X26ABC3": "password"}

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(mailboxes, args.shared_key)
    server.verbose = args.verbose
    admin = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        if args.ca:
            ctx.load_verify_locations(args.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        # The same state over plain HTTP for the tests' admin calls.
        admin = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        admin.daemon_threads = True
        admin.state = server.state
        admin.verbose = args.verbose
        threading.Thread(target=admin.serve_forever, daemon=True).start()
    # A test that crashes cannot stop its fake: leave when the parent process is gone.
    parent = os.getppid()

    def watch_parent():
        while True:
            if os.getppid() != parent:
                os._exit(0)
            threading.Event().wait(1.0)

    threading.Thread(target=watch_parent, daemon=True).start()
    ready = f"PORT {server.server_address[1]}"
    if admin is not None:
        ready += f" ADMIN {admin.server_address[1]}"
    print(ready, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
