// A minimal blocking HTTP/1.1 client over plain TCP for tests (no Beast, so tests compile fast).
// One request per call on a fresh connection unless a Connection is kept.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace itk::test {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class HttpConnection {
 public:
  explicit HttpConnection(uint16_t port, const char* host = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    timeval tv{30, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~HttpConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool sendRaw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  std::optional<HttpReply> request(const std::string& method, const std::string& target,
                                   const std::string& body = {},
                                   const std::map<std::string, std::string>& headers = {}) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!sendRaw(req)) return std::nullopt;
    return readReply();
  }

  // Reads one response (Content-Length bodies, or until close).
  std::optional<HttpReply> readReply() {
    std::string& buf = buffer_;
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    HttpReply reply;
    std::string head = buf.substr(0, header_end);
    buf.erase(0, header_end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    reply.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        reply.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = e + 2;
    }
    auto cl = reply.headers.find("content-length");
    if (cl != reply.headers.end()) {
      size_t n = std::stoul(cl->second);
      while (buf.size() < n) {
        if (!fill()) return std::nullopt;
      }
      reply.body = buf.substr(0, n);
      buf.erase(0, n);
    } else {
      while (fill()) {
      }
      reply.body = std::move(buf);
      buf.clear();
    }
    return reply;
  }

  // True when the server has closed the connection (a read returns end of file).
  bool closedByPeer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0;
  }

 private:
  bool fill() {
    char chunk[8192];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
};

// Polls a condition (another thread's effect) until it holds, at most `timeout`.
template <class F>
bool eventuallyTrue(F condition, int timeout_ms = 10000) {
  for (int i = 0; i < timeout_ms / 5; ++i) {
    if (condition()) return true;
    ::usleep(5000);
  }
  return condition();
}

inline std::optional<HttpReply> httpGet(uint16_t port, const std::string& target,
                                        const std::map<std::string, std::string>& headers = {}) {
  HttpConnection c(port);
  if (!c.connected()) return std::nullopt;
  return c.request("GET", target, {}, headers);
}

inline std::optional<HttpReply> httpPost(uint16_t port, const std::string& target,
                                         const std::string& body,
                                         const std::map<std::string, std::string>& headers = {}) {
  HttpConnection c(port);
  if (!c.connected()) return std::nullopt;
  return c.request("POST", target, body, headers);
}

}  // namespace itk::test
