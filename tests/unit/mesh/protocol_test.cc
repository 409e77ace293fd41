// MESH protocol pieces: the NHSMESH token against independently computed HMACs, headers, bodies,
// error classification, gzip chunks and reassembly.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "itk/mesh/protocol.h"
#include "support/temp_dir.h"

namespace itk::mesh {
namespace {

namespace fs = std::filesystem;

TimePoint at(const char* iso) {
  TimePoint t;
  EXPECT_TRUE(parseIsoDateTime(iso, &t)) << iso;
  return t;
}

class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint t) : t_(t) {}
  TimePoint now() const override { return t_; }
  void advance(std::chrono::milliseconds d) { t_ += d; }

 private:
  TimePoint t_;
};

// The HMAC as the openssl command line computes it (an implementation independent of ours).
std::string opensslHmac(const std::string& key, const std::string& message) {
  test::TempDir dir;
  std::string in = dir.write("msg", message);
  std::string cmd = "openssl dgst -sha256 -hmac '" + key + "' -r '" + in + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  char buf[256] = {};
  std::string out = fgets(buf, sizeof buf, p) ? buf : "";
  pclose(p);
  return out.substr(0, out.find(' '));
}

TEST(MeshAuth, MatchesTheVectorsMadeWithPythonHmac) {
  std::ifstream in(std::string(ITK_TEST_DATA_DIR) + "/mesh/auth_vectors.txt");
  ASSERT_TRUE(in) << "tests/data/mesh/auth_vectors.txt";
  std::string line;
  int vectors = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string part; std::getline(ss, part, '|');) f.push_back(part);
    ASSERT_EQ(f.size(), 7u) << line;
    std::string message = f[1] + ":" + f[3] + ":" + f[4] + ":" + f[2] + ":" + f[5];
    EXPECT_EQ(hmacSha256Hex(f[0], message), f[6]) << line;
    AuthToken token{f[1], f[3], f[4], f[5], f[6]};
    EXPECT_TRUE(hmacMatches(token, f[2], f[0]));
    EXPECT_FALSE(hmacMatches(token, f[2] + "x", f[0]));
    ++vectors;
  }
  EXPECT_EQ(vectors, 3);
}

TEST(MeshAuth, HeaderAgreesWithTheOpensslCommand) {
  Credentials c{"x26abc1", "password", "TestKey"};
  std::string header = authorizationHeader(c, "nonce-1", 7, at("2026-11-25T10:00:59Z"));
  // Upper-case mailbox, minute resolution in UTC.
  EXPECT_TRUE(header.starts_with("NHSMESH X26ABC1:nonce-1:7:202611251000:")) << header;
  auto token = parseAuthorization(header);
  ASSERT_TRUE(token.ok());
  std::string expected = opensslHmac("TestKey", "X26ABC1:nonce-1:7:password:202611251000");
  ASSERT_EQ(expected.size(), 64u) << "openssl dgst did not run";
  EXPECT_EQ(token->hmac, expected);
  EXPECT_TRUE(hmacMatches(*token, "password", "TestKey"));
  EXPECT_FALSE(hmacMatches(*token, "password", "OtherKey"));
}

TEST(MeshAuth, TimestampIsUtcMinutes) {
  EXPECT_EQ(authTimestamp(at("2026-01-02T03:04:05Z")), "202601020304");
  EXPECT_EQ(authTimestamp(at("2026-01-02T03:04:05+01:00")), "202601020204");
}

TEST(MeshAuth, EveryTokenIsFresh) {
  FixedClock clock(at("2026-11-25T10:00:00Z"));
  TokenSource tokens({"X26ABC1", "password", "TestKey"}, clock);
  auto a = parseAuthorization(tokens.next());
  auto b = parseAuthorization(tokens.next());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->nonce, b->nonce);
  EXPECT_EQ(a->nonce_count, "1");
  EXPECT_EQ(b->nonce_count, "2");
  EXPECT_TRUE(hmacMatches(*b, "password", "TestKey"));
}

TEST(MeshAuth, ParseRefusesMalformedTokens) {
  EXPECT_FALSE(parseAuthorization("X26ABC1:n:1:202611251000:abc").ok());  // no scheme
  EXPECT_FALSE(parseAuthorization("NHSMESHX26ABC1:n:1:202611251000:abc").ok());
  EXPECT_FALSE(parseAuthorization("NHSMESH X26ABC1:n:1:202611251000").ok());
  EXPECT_FALSE(parseAuthorization("NHSMESH X26ABC1:n::202611251000:abc").ok());
  EXPECT_FALSE(parseAuthorization("NHSMESH a:b:c:d:e:f").ok());
  EXPECT_TRUE(parseAuthorization("NHSMESH a:b:c:d:e").ok());
}

TEST(MeshHeaders, ChunkRanges) {
  EXPECT_EQ(parseChunkRange("1:1"), (ChunkRange{1, 1}));
  EXPECT_EQ(parseChunkRange("3:10"), (ChunkRange{3, 10}));
  for (const char* bad : {"", "1", "0:1", "2:1", "a:b", "1:", ":1", "1:2:3", "-1:2", " 1:2"}) {
    EXPECT_FALSE(parseChunkRange(bad).has_value()) << bad;
  }
  EXPECT_EQ(formatChunkRange({2, 5}), "2:5");
}

TEST(MeshHeaders, SendHeadersAreValidatedAsMeshWould) {
  SendHeaders h{"X26ABC2", "TOC_FHIR_IP_DISCH", "subject", "TRACK-1", "TRACK-1.xml", "text/xml"};
  EXPECT_TRUE(validate(h).ok());
  SendHeaders bad = h;
  bad.to = "";
  EXPECT_FALSE(validate(bad).ok());
  bad = h;
  bad.workflow_id = "";
  EXPECT_FALSE(validate(bad).ok());
  bad = h;
  bad.subject = "line\nbreak";
  EXPECT_FALSE(validate(bad).ok());
  bad = h;
  bad.to = "https://evil";
  EXPECT_FALSE(validate(bad).ok());
  bad = h;
  bad.workflow_id = "HTTP://x";
  EXPECT_FALSE(validate(bad).ok());
  bad = h;
  bad.local_id = std::string(301, 'a');
  EXPECT_FALSE(validate(bad).ok());
  bad.local_id = std::string(300, 'a');
  EXPECT_TRUE(validate(bad).ok());

  http::Headers out = sendRequestHeaders(h, {2, 3}, true);
  EXPECT_EQ(out.get("mex-to"), "X26ABC2");
  EXPECT_EQ(out.get("MEX-WORKFLOWID"), "TOC_FHIR_IP_DISCH");
  EXPECT_EQ(out.get("mex-LocalID"), "TRACK-1");
  EXPECT_EQ(out.get("mex-Chunk-Range"), "2:3");
  EXPECT_EQ(out.get("Content-Encoding"), "gzip");
  EXPECT_FALSE(sendRequestHeaders(h, {1, 1}, false).get("Content-Encoding").has_value());
}

TEST(MeshHeaders, ReceivedHeadersAndReports) {
  http::Headers h;
  h.add("mex-messageid", "20200529155357895317_3573F8");
  h.add("mex-From", "X26ABC2");
  h.add("mex-To", "X26ABC1");
  h.add("mex-WorkflowID", "TEST_WORKFLOW");
  h.add("mex-Chunk-Range", "1:2");
  h.add("mex-Total-Chunks", "2");
  h.add("Content-Encoding", "gzip");
  h.add("mex-MessageType", "DATA");
  ReceivedHeaders r = parseReceivedHeaders(h);
  EXPECT_EQ(r.message_id, "20200529155357895317_3573F8");
  EXPECT_EQ(r.chunk_range, (ChunkRange{1, 2}));
  EXPECT_EQ(r.total_chunks, 2);
  EXPECT_FALSE(r.isReport());
  EXPECT_FALSE(reportOf(r).has_value());

  http::Headers rep;
  rep.add("mex-MessageType", "REPORT");
  rep.add("mex-MessageID", "R-1");
  rep.add("mex-LinkedMsgID", "SENT-1");
  rep.add("mex-LocalID", "TRACK-1");
  rep.add("mex-StatusCode", "14");
  rep.add("mex-StatusEvent", "SEND");
  rep.add("mex-StatusDescription", "Message not collected by recipient after 5 days");
  rep.add("mex-StatusSuccess", "ERROR");
  auto report = reportOf(parseReceivedHeaders(rep));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->report_id, "R-1");
  EXPECT_EQ(report->linked_message_id, "SENT-1");
  EXPECT_EQ(report->local_id, "TRACK-1");
  EXPECT_EQ(report->status_code, "14");
  EXPECT_EQ(report->status_success, "ERROR");
  http::Headers lower;
  lower.add("mex-messagetype", "report");
  EXPECT_TRUE(parseReceivedHeaders(lower).isReport());
}

TEST(MeshBodies, InboxSendTracking) {
  auto v2 = parseInboxList(
      R"({"messages":["A","B"],"links":{"self":"/x","next":"/messageexchange/M/inbox?continue_from=B"},"approx_inbox_count":612})");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->message_ids, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(v2->next, "/messageexchange/M/inbox?continue_from=B");
  EXPECT_EQ(v2->approx_inbox_count, 612);
  auto v1 = parseInboxList(R"({"messages":[]})");
  ASSERT_TRUE(v1.ok());
  EXPECT_TRUE(v1->message_ids.empty());
  EXPECT_FALSE(parseInboxList("[1]").ok());
  EXPECT_FALSE(parseInboxList(R"({"messages":[1]})").ok());
  EXPECT_FALSE(parseInboxList("not json").ok());

  EXPECT_EQ(*parseSendResponse(R"({"message_id":"M-1"})"), "M-1");
  EXPECT_EQ(*parseSendResponse(R"({"messageID":"M-2"})"), "M-2");
  EXPECT_FALSE(parseSendResponse("{}").ok());

  auto t2 = parseTracking(
      R"({"message_id":"M-1","local_id":"L","workflow_id":"W","recipient":"R","status":"accepted","status_success":true,"status_code":"00"})");
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(t2->status, "accepted");
  EXPECT_EQ(t2->status_success, true);
  EXPECT_EQ(t2->local_id, "L");
  auto t1 = parseTracking(
      R"({"messageID":"M-1","localId":"L","status":"Undeliverable","statusSuccess":false})");
  ASSERT_TRUE(t1.ok());
  EXPECT_EQ(t1->status, "undeliverable");
  EXPECT_EQ(t1->status_success, false);
}

TEST(MeshBodies, ErrorBodiesInEveryShape) {
  MeshError v2 = parseErrorBody(
      R"({"message_id":"M","internal_id":"i","detail":[{"event":"SEND","code":"12","msg":"Unregistered to address"}]})");
  EXPECT_EQ(v2.event, "SEND");
  EXPECT_EQ(v2.code, "12");
  EXPECT_EQ(v2.message_id, "M");
  EXPECT_EQ(v2.toString(), "SEND/12 Unregistered to address");
  MeshError v1 = parseErrorBody(
      R"({"messageID":"M","errorEvent":"TRANSFER","errorCode":"06","errorDescription":"MalformedControlFile"})");
  EXPECT_EQ(v1.toString(), "TRANSFER/06 MalformedControlFile");
  MeshError validation = parseErrorBody(
      R"({"detail":[{"loc":["header","mex-osname"],"msg":"field required","type":"value_error.missing"}]})");
  EXPECT_EQ(validation.description, "field required header mex-osname");
  MeshError unhandled =
      parseErrorBody(R"({"internal_id":"x","message":"An internal error occurred"})");
  EXPECT_EQ(unhandled.description, "An internal error occurred");
  EXPECT_EQ(parseErrorBody("<html>bad gateway</html>").description, "<html>bad gateway</html>");
}

TEST(MeshOutcome, EveryClassification) {
  struct Row {
    Operation op;
    int status;
    Code code;
    SendResult::Outcome outcome;
  };
  using O = SendResult::Outcome;
  const Row rows[] = {
      {Operation::kSend, 202, Code::kOk, O::kDelivered},
      {Operation::kSendChunk, 202, Code::kOk, O::kDelivered},
      {Operation::kSend, 500, Code::kUnavailable, O::kRetryable},
      {Operation::kSend, 502, Code::kUnavailable, O::kRetryable},
      {Operation::kSend, 503, Code::kUnavailable, O::kRetryable},
      {Operation::kSend, 504, Code::kUnavailable, O::kRetryable},
      {Operation::kSend, 408, Code::kUnavailable, O::kRetryable},
      {Operation::kSend, 429, Code::kUnavailable, O::kRetryable},
      {Operation::kSend, 400, Code::kRejected, O::kPermanent},
      {Operation::kSend, 417, Code::kRejected, O::kPermanent},
      {Operation::kSend, 422, Code::kRejected, O::kPermanent},
      {Operation::kSend, 413, Code::kRejected, O::kPermanent},
      {Operation::kSendChunk, 406, Code::kRejected, O::kPermanent},
      {Operation::kSendChunk, 417, Code::kRejected, O::kPermanent},
      {Operation::kSendChunk, 423, Code::kRejected, O::kPermanent},
      {Operation::kSendChunk, 404, Code::kUnavailable, O::kRetryable},  // restart the upload
      {Operation::kSend, 404, Code::kRejected, O::kPermanent},
      {Operation::kSend, 403, Code::kAccessDenied, O::kRetryable},
      {Operation::kSend, 401, Code::kAccessDenied, O::kRetryable},
      {Operation::kSendChunk, 403, Code::kAccessDenied, O::kRetryable},
      {Operation::kDownload, 404, Code::kNotFound, O::kPermanent},
      {Operation::kDownload, 410, Code::kNotFound, O::kPermanent},
      {Operation::kAcknowledge, 404, Code::kNotFound, O::kPermanent},
      {Operation::kTracking, 404, Code::kNotFound, O::kPermanent},
      {Operation::kList, 403, Code::kAccessDenied, O::kRetryable},
      {Operation::kHandshake, 400, Code::kRejected, O::kPermanent},
      {Operation::kSend, 302, Code::kUnavailable, O::kRetryable},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::to_string(static_cast<int>(row.op)) + " " + std::to_string(row.status));
    Status s =
        classifyHttp(row.op, row.status, R"({"detail":[{"event":"SEND","code":"12","msg":"m"}]})");
    EXPECT_EQ(s.code(), row.code) << s.toString();
    EXPECT_EQ(toSendResult(s, "ID").outcome, row.outcome);
    EXPECT_EQ(isAuthFailure(s), row.code == Code::kAccessDenied);
    if (!s.ok()) {
      EXPECT_EQ(s.vocabularyCode(), "12");
    }
  }
  // Transport failures from the HTTP client.
  EXPECT_EQ(toSendResult(Status::timeout("no answer")).outcome, O::kRetryable);
  EXPECT_EQ(toSendResult(Status::unavailable("connection refused")).outcome, O::kRetryable);
  EXPECT_EQ(toSendResult(Status::invalid("response too large")).outcome, O::kPermanent);
  SendResult ok = toSendResult(Status(), "MSG-1");
  EXPECT_EQ(ok.remote_id, "MSG-1");
  Status auth =
      classifyHttp(Operation::kSend, 403,
                   R"({"detail":[{"event":"","code":"","msg":"Invalid Authentication Token"}]})");
  EXPECT_NE(toSendResult(auth).detail.find("authentication failure"), std::string::npos);
}

TEST(MeshChunks, GzipRoundTripAndDamage) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  auto packed = gzipCompress(text);
  ASSERT_TRUE(packed.ok());
  EXPECT_LT(packed->size(), text.size());
  EXPECT_EQ(packed->substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(*gzipDecompress(*packed, text.size()), text);
  EXPECT_FALSE(gzipDecompress(*packed, text.size() - 1).ok());  // a bomb is stopped
  EXPECT_FALSE(gzipDecompress(packed->substr(0, packed->size() / 2), 1 << 20).ok());
  EXPECT_FALSE(gzipDecompress("not gzip", 1 << 20).ok());
  EXPECT_EQ(*gzipDecompress(*gzipCompress(""), 10), "");
}

TEST(MeshChunks, SplitOnUncompressedData) {
  std::string data = "abcdefghij";
  auto c = splitChunks(data, 4);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], "abcd");
  EXPECT_EQ(c[2], "ij");
  EXPECT_EQ(splitChunks(data, 10).size(), 1u);
  EXPECT_EQ(splitChunks(data, 100).size(), 1u);
  EXPECT_TRUE(splitChunks("", 4).empty());
}

ReceivedHeaders chunkHeaders(const char* range, const char* encoding) {
  ReceivedHeaders h;
  h.chunk_range = parseChunkRange(range);
  h.content_encoding = encoding;
  return h;
}

TEST(MeshChunks, ReassemblesTheSandboxChunkedMessage) {
  fs::path store = fs::path(ITK_FIXTURES_DIR) / "mesh/sandbox-store/mailboxes";
  if (!fs::exists(store)) GTEST_SKIP() << "no fixtures at " << store;
  std::string c1 = test::readFile((store / "X26ABC2/in/CHUNKED_MESSAGE_GZ/1").string());
  std::string c2 = test::readFile((store / "X26ABC2/in/CHUNKED_MESSAGE_GZ/2").string());
  std::string simple = test::readFile((store / "X26ABC1/in/SIMPLE_MESSAGE/1").string());
  ChunkAssembler a(1 << 20);
  ASSERT_TRUE(a.add(1, 206, chunkHeaders("1:2", "gzip"), c1).ok());
  EXPECT_FALSE(a.complete());
  EXPECT_EQ(a.next(), 2);
  ASSERT_TRUE(a.add(2, 200, chunkHeaders("2:2", "gzip"), c2).ok());
  EXPECT_TRUE(a.complete());
  EXPECT_EQ(a.total(), 2);
  EXPECT_EQ(a.take(), simple);  // MANIFEST: gunzip(1)+gunzip(2) = SIMPLE_MESSAGE/1
}

TEST(MeshChunks, AssemblerRefusesWhatMeshWouldNotSend) {
  ChunkAssembler a(100);
  EXPECT_FALSE(a.add(2, 200, chunkHeaders("2:2", ""), "x").ok());  // out of order
  EXPECT_FALSE(a.add(1, 200, chunkHeaders("1:2", ""), "x").ok());  // 200 while more follow
  ChunkAssembler b(100);
  EXPECT_FALSE(b.add(1, 206, chunkHeaders("1:1", ""), "x").ok());  // 206 on the last chunk
  ChunkAssembler c(100);
  ASSERT_TRUE(c.add(1, 206, chunkHeaders("1:3", ""), "x").ok());
  EXPECT_FALSE(c.add(2, 206, chunkHeaders("2:4", ""), "x").ok());  // the count changed
  ChunkAssembler d(100);
  EXPECT_FALSE(d.add(1, 200, chunkHeaders("1:1", "br"), "x").ok());
  ChunkAssembler e(3);
  EXPECT_FALSE(e.add(1, 200, chunkHeaders("1:1", ""), "four").ok());  // too large
  ChunkAssembler single(100);
  ASSERT_TRUE(single.add(1, 200, ReceivedHeaders{}, "whole").ok());  // no mex-Chunk-Range
  EXPECT_TRUE(single.complete());
  EXPECT_EQ(single.take(), "whole");
}

TEST(MeshGate, AuthFailuresCloseTheMailboxWithGrowingBackoff) {
  FixedClock clock(at("2026-11-25T10:00:00Z"));
  MailboxGate gate(clock, std::chrono::minutes(1), std::chrono::minutes(4));
  EXPECT_TRUE(gate.open());
  EXPECT_TRUE(gate.failed());   // closes: log loudly
  EXPECT_FALSE(gate.failed());  // already closed: quiet
  EXPECT_FALSE(gate.open());
  clock.advance(std::chrono::minutes(1));
  EXPECT_TRUE(gate.open());
  EXPECT_TRUE(gate.failed());  // failed again after reopening: backoff doubles
  clock.advance(std::chrono::seconds(119));
  EXPECT_FALSE(gate.open());
  clock.advance(std::chrono::seconds(1));
  EXPECT_TRUE(gate.open());
  gate.failed();  // 4 minutes (the cap)
  clock.advance(std::chrono::minutes(4));
  gate.failed();  // still 4
  EXPECT_EQ(gate.reopensAt(), clock.now() + std::chrono::minutes(4));
  gate.succeeded();
  EXPECT_TRUE(gate.open());
  EXPECT_EQ(gate.failures(), 5u);
}

}  // namespace
}  // namespace itk::mesh
