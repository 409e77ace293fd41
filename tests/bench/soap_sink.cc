// itk_soap_sink: the next hop of the end-to-end benchmark (tests/bench/e2e.py). A keep-alive
// HTTP/1.1 server that answers every POST with 200 and an ITK SimpleMessageResponse "OK"
// (wsa:Action = the SOAPAction + "Response", wsa:RelatesTo = the request's wsa:MessageID), which
// the router's SOAP client classifies as delivered; and GET /stats with what it has counted:
//   {"requests": N, "bytes": B, "with_de": D, "first_ns": T0, "last_ns": T1}
// (with_de: requests whose body carries a DistributionEnvelope; times are CLOCK_MONOTONIC ns).
// Both the router and the nginx baseline deliver here, so they meet the same next hop.
//
// usage: itk_soap_sink [--port N] [--threads N]   prints "PORT <n>" once it listens.
// Deliberately minimal: no XML parsing, one small string built per answer.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::atomic<uint64_t> g_requests{0};
std::atomic<uint64_t> g_bytes{0};
std::atomic<uint64_t> g_with_de{0};
std::atomic<int64_t> g_first_ns{0};
std::atomic<int64_t> g_last_ns{0};
std::atomic<uint64_t> g_response_seq{0};

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The text between <PREFIX:NAME> and the next '<' (e.g. the wsa:MessageID), or empty.
std::string_view elementText(std::string_view body, std::string_view name) {
  size_t at = body.find(name);
  while (at != std::string_view::npos) {
    // "<wsa:MessageID>" or "<MessageID>": the name follows '<' or ':' and is followed by '>'.
    if (at > 0 && (body[at - 1] == ':' || body[at - 1] == '<') && at + name.size() < body.size() &&
        body[at + name.size()] == '>') {
      size_t start = at + name.size() + 1;
      size_t stop = body.find('<', start);
      if (stop == std::string_view::npos) return {};
      return body.substr(start, stop - start);
    }
    at = body.find(name, at + 1);
  }
  return {};
}

std::string responseUuid() {
  const uint64_t n = ++g_response_seq;
  char buf[40];
  std::snprintf(buf, sizeof buf, "5E1F0000-0000-4000-8000-%012llX",
                static_cast<unsigned long long>(n & 0xFFFFFFFFFFFFull));
  return buf;
}

std::string simpleMessageResponse(std::string_view action, std::string_view relates_to) {
  std::string out;
  out.reserve(600);
  out +=
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope "
      "xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" "
      "xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><soap:Header><wsa:MessageID>";
  out += responseUuid();
  out += "</wsa:MessageID><wsa:Action>";
  out += action;
  out += "Response</wsa:Action>";
  if (!relates_to.empty()) {
    out += "<wsa:RelatesTo>";
    out += relates_to;
    out += "</wsa:RelatesTo>";
  }
  out +=
      "</soap:Header><soap:Body><itk:SimpleMessageResponse xmlns:itk=\"urn:nhs-itk:ns:201005\">"
      "OK</itk:SimpleMessageResponse></soap:Body></soap:Envelope>";
  return out;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}
  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(256u << 20);
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](const beast::error_code& ec, size_t) { self->onRead(ec); });
  }

  void onRead(const beast::error_code& ec) {
    if (ec) return close();
    http::request<http::string_body> req = parser_->release();
    response_ = {};
    response_.version(11);
    response_.keep_alive(req.keep_alive());
    if (req.method() == http::verb::get && req.target() == "/stats") {
      char body[256];
      std::snprintf(body, sizeof body,
                    "{\"requests\": %llu, \"bytes\": %llu, \"with_de\": %llu, \"first_ns\": %lld, "
                    "\"last_ns\": %lld}\n",
                    static_cast<unsigned long long>(g_requests.load()),
                    static_cast<unsigned long long>(g_bytes.load()),
                    static_cast<unsigned long long>(g_with_de.load()),
                    static_cast<long long>(g_first_ns.load()),
                    static_cast<long long>(g_last_ns.load()));
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "application/json");
      response_.body() = body;
    } else if (req.method() == http::verb::post) {
      const std::string& body = req.body();
      const int64_t now = nowNs();
      int64_t zero = 0;
      g_first_ns.compare_exchange_strong(zero, now);
      g_last_ns = now;
      g_bytes += body.size();
      if (body.find("DistributionEnvelope") != std::string::npos) ++g_with_de;
      std::string_view action = req[http::field::soapaction];
      if (action.size() >= 2 && action.front() == '"' && action.back() == '"')
        action = action.substr(1, action.size() - 2);
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/xml; charset=UTF-8");
      response_.body() = simpleMessageResponse(action, elementText(body, "MessageID"));
      ++g_requests;  // counted once the answer is built: "delivered" from here on
    } else {
      response_.result(http::status::method_not_allowed);
    }
    response_.prepare_payload();
    http::async_write(socket_, response_,
                      [self = shared_from_this()](const beast::error_code& ec2, size_t) {
                        if (ec2) return self->close();
                        if (!self->response_.keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](const beast::error_code& ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(socket))->start();
    }
    if (acceptor.is_open()) accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") {
      port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
    } else if (a == "--threads") {
      threads = std::max(1, std::stoi(argv[i + 1]));
    } else {
      std::cerr << "usage: itk_soap_sink [--port N] [--threads N]\n";
      return 2;
    }
  }
  asio::io_context io(threads);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  acceptor.listen(4096);
  accept(acceptor);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code&, int) {
    acceptor.close();
    io.stop();
  });
  std::printf("PORT %u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
