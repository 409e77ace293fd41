// Runs a child process (the real itk-router) for integration tests: captures its stderr to a
// file, waits for a line to appear in it, sends signals, and reaps it.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

namespace itk::test {

// Where the build put the router binary (set by tests/CMakeLists.txt).
inline std::string routerBinary() { return ITK_ROUTER_BINARY; }

class ChildProcess {
 public:
  // Starts `argv` in `cwd` with stdout and stderr appended to `log_path`.
  ChildProcess(std::vector<std::string> argv, std::string log_path, std::string cwd = {})
      : log_path_(std::move(log_path)) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~ChildProcess() {
    if (running()) {
      kill(SIGKILL);
      wait(std::chrono::seconds(10));
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (exited_) return false;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) record(status);
    return !exited_;
  }
  void kill(int signo) {
    if (!exited_) ::kill(pid_, signo);
  }
  // Waits for the process to exit; returns its exit code (128+signal when killed), or nullopt
  // on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a child, not timing
    }
    return exit_code_;
  }
  std::string log() const { return readFile(log_path_); }
  // Waits until the log matches `pattern` (ECMAScript regex); returns the first match's groups.
  std::optional<std::smatch> waitForLog(const std::string& pattern,
                                        std::chrono::milliseconds timeout) {
    std::regex re(pattern);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      log_cache_ = log();
      std::smatch m;
      if (std::regex_search(log_cache_, m, re)) return m;
      if (!running() || std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  void record(int status) {
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string log_path_;
  std::string log_cache_;  // keeps the matched text alive for the returned smatch
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Polls `condition` until it holds or `timeout` passes. For waiting on another process's
// observable effects (files appearing, a port answering), never for timing assertions.
template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace itk::test
