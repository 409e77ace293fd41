#include "itk/dts/transport.h"

#include <fcntl.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "itk/dts/control_file.h"
#include "itk/duration.h"
#include "itk/log.h"

namespace itk::dts {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Configuration

namespace {

std::string line(const YAML::Node& n) {
  return " (line " + std::to_string(n.Mark().line + 1) + ")";
}

bool scalar(const YAML::Node& n, std::string* out) {
  if (!n.IsScalar()) return false;
  *out = n.Scalar();
  return true;
}

bool stringList(const YAML::Node& n, std::vector<std::string>* out) {
  if (!n.IsSequence()) return false;
  for (const auto& v : n) {
    if (!v.IsScalar()) return false;
    out->push_back(v.Scalar());
  }
  return true;
}

// A WorkflowId names a file nowhere, but it is checked all the same: DTS workflow ids are
// upper-case words joined by '_' (TOC_DISCH_DMS, TOC_DISCH_DMS_ACK).
bool isWorkflowId(std::string_view s) {
  return isSafeFileToken(s, 64);
}

}  // namespace

bool TransportConfig::ownsMailbox(std::string_view id) const {
  for (const auto& m : mailboxes)
    if (m == id) return true;
  return false;
}

Result<TransportConfig> parseTransportConfig(const YAML::Node& node) {
  TransportConfig c;
  if (node && !node.IsNull() && !node.IsMap())
    return Status::invalid("transports.dts must be a mapping");
  if (node && node.IsMap()) {
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      bool ok = true;
      if (key == "root")
        ok = scalar(v, &c.root) && !c.root.empty();
      else if (key == "temp")
        ok = scalar(v, &c.temp) && !c.temp.empty();
      else if (key == "archive")
        ok = scalar(v, &c.archive) && !c.archive.empty();
      else if (key == "prefix")
        ok = scalar(v, &c.prefix) && isSafeFileToken(c.prefix, 32);
      else if (key == "mailboxes") {
        ok = stringList(v, &c.mailboxes);
        for (const auto& m : c.mailboxes) ok = ok && isMailboxId(m);
      } else if (key == "workflows") {
        ok = stringList(v, &c.workflows);
        for (const auto& w : c.workflows) ok = ok && isWorkflowId(w);
      } else if (key == "poll_interval")
        ok = v.IsScalar() && parseDuration(v.Scalar(), &c.poll_interval) &&
             c.poll_interval.count() > 0;
      else if (key == "max_message_bytes") {
        unsigned long long n = 0;
        ok = v.IsScalar() && YAML::convert<unsigned long long>::decode(v, n) && n > 0;
        c.max_message_bytes = static_cast<size_t>(n);
      } else {
        return Status::invalid("unknown option '" + key + "'" + line(kv.first));
      }
      if (!ok) return Status::invalid("bad value for '" + key + "'" + line(kv.first));
    }
  }
  if (c.mailboxes.empty())
    return Status::invalid("mailboxes: at least one DTS mailbox id (letters and digits) is needed");
  return c;
}

Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(const YAML::Node& node) {
  if (!node.IsMap()) return Status::invalid("a dts endpoint must be a mapping");
  auto ep = std::make_shared<Endpoint>();
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    bool ok = true;
    if (key == "transport" || key == "max_concurrency" || key == "description" || key == "name") {
      continue;
    } else if (key == "mailbox")
      ok = scalar(v, &ep->mailbox) && isMailboxId(ep->mailbox);
    else if (key == "to")
      ok = scalar(v, &ep->to) && isMailboxId(ep->to);
    else if (key == "workflow")
      ok = scalar(v, &ep->workflow) && isWorkflowId(ep->workflow);
    else if (key == "subject")
      ok = scalar(v, &ep->subject) && ep->subject.size() <= 256;
    else
      return Status::invalid("unknown dts endpoint option '" + key + "'");
    if (!ok) {
      return Status::invalid("bad value for dts endpoint option '" + key +
                             (key == "workflow" ? "' (letters, digits, '_' and '-')"
                                                : "' (a DTS mailbox id: letters and digits)"));
    }
  }
  if (ep->mailbox.empty())
    return Status::invalid("a dts endpoint needs `mailbox` (ours: From_DTS)");
  if (ep->to.empty()) return Status::invalid("a dts endpoint needs `to` (the recipient: To_DTS)");
  if (ep->workflow.empty()) return Status::invalid("a dts endpoint needs `workflow` (WorkflowId)");
  return std::shared_ptr<const EndpointConfig>(std::move(ep));
}

// ---------------------------------------------------------------------------------------------
// Files

namespace {

std::string errnoText(const std::string& what, const fs::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}

// Writes `bytes` to `path` (truncating) and fsyncs it.
Status writeSynced(const fs::path& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Status::unavailable(errnoText("cannot create", path));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = Status::unavailable(errnoText("cannot write", path));
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Status::unavailable(errnoText("cannot fsync", path));
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return Status::unavailable(errnoText("cannot close", path));
  return Status();
}

// Makes the folder's entries (a rename into it) durable.
Status syncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::unavailable(errnoText("cannot open", dir));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  errno = err;
  if (rc != 0) return Status::unavailable(errnoText("cannot fsync", dir));
  return Status();
}

// Reads a whole file of at most `max` bytes. kInvalid when larger, kUnavailable when unreadable.
Status readLimited(const fs::path& path, size_t max, std::string* out) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return Status::unavailable("cannot read " + path.string() + ": " + ec.message());
  if (size > max) {
    return Status::invalid(path.filename().string() + " is " + std::to_string(size) +
                           " bytes; the limit is " + std::to_string(max));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::unavailable("cannot open " + path.string());
  out->assign(static_cast<size_t>(size), '\0');
  in.read(out->data(), static_cast<std::streamsize>(size));
  out->resize(static_cast<size_t>(in.gcount()));
  return Status();
}

bool present(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

bool writable(const fs::path& dir) {
  return ::access(dir.c_str(), R_OK | W_OK | X_OK) == 0;
}

Result<dev_t> deviceOf(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return Status::unavailable(errnoText("cannot stat", p));
  return st.st_dev;
}

// FNV-1a, for an id derived from a tracking id that cannot name a file.
std::string shortHash(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return buf;
}

std::string withExt(const std::string& base, const char* ext) {
  return base + ext;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The transport

namespace {

class DtsTransport final : public Transport, public std::enable_shared_from_this<DtsTransport> {
 public:
  DtsTransport(TransportConfig config, const TransportContext& ctx)
      : config_(std::move(config)),
        ctx_(ctx),
        strand_(asio::make_strand(ctx.io)),
        timer_(strand_),
        pairs_(prometheus::BuildCounter()
                   .Name("itk_dts_pairs_total")
                   .Help("DTS file pairs by outcome: sent (written to OUT), received (taken "
                         "from IN), rejected (IN pairs moved to rejected/), transferred and "
                         "failed (the DTS client's status records)")
                   .Register(ctx.metrics)) {
    root_ = config_.root.empty()
                ? (ctx.data_dir.empty() ? fs::path("dts") : fs::path(ctx.data_dir) / "dts")
                : fs::path(config_.root);
    out_ = root_ / "OUT";
    in_ = root_ / "IN";
    sent_ = root_ / "SENT";
    temp_ = config_.temp.empty() ? root_ / "TEMP" : fs::path(config_.temp);
    archive_ = config_.archive.empty() ? root_ / "ITK" : fs::path(config_.archive);
  }

  Status start(InboundSink& sink) override {
    sink_ = &sink;
    for (const fs::path& d : {out_, in_, sent_, temp_, archive_ / "processed",
                              archive_ / "rejected", archive_ / "done", archive_ / "error"}) {
      std::error_code ec;
      fs::create_directories(d, ec);
      if (ec) return Status::unavailable("dts: cannot create " + d.string() + ": " + ec.message());
    }
    // §6.2: pairs are moved into OUT atomically, which rename() only does within a filesystem.
    auto out_dev = deviceOf(out_);
    if (!out_dev.ok()) return out_dev.status();
    for (const fs::path& d : {temp_, archive_}) {
      auto dev = deviceOf(d);
      if (!dev.ok()) return dev.status();
      if (*dev != *out_dev) {
        return Status::invalid("dts: " + d.string() + " is not on the same filesystem as " +
                               root_.string() + " (files are moved by rename)");
      }
    }
    if (!checkFolders())
      return Status::unavailable("dts: the folders under " + root_.string() +
                                 " are not all readable and writable");
    accepting_ = true;
    log::info("dts.started", {{"root", root_.string()},
                              {"prefix", config_.prefix},
                              {"poll_interval", formatDuration(config_.poll_interval)}});
    asio::post(strand_, [self = shared_from_this()] { self->poll(); });
    return Status();
  }

  void stopAccepting() override {
    accepting_ = false;
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  bool ready() const override { return accepting_ && folders_ok_; }

  void send(OutboundMessage out, const EndpointSpec& endpoint, SendCallback done) override {
    const Endpoint* ep = endpoint.as<Endpoint>();
    std::optional<SendResult> refused;
    if (!ep) {
      refused = SendResult::permanent("endpoint " + endpoint.name + " is not a dts endpoint");
    } else if (!config_.ownsMailbox(ep->mailbox)) {
      refused = SendResult::permanent("dts endpoint " + endpoint.name + " sends from mailbox " +
                                      ep->mailbox + ", which transports.dts does not configure");
    } else if (!out.message || !out.message->body) {
      refused = SendResult::permanent("no message body to send");
    }
    if (refused) {
      asio::post(ctx_.io, [done = std::move(done), r = std::move(*refused)]() mutable {
        done(std::move(r));
      });
      return;
    }
    // Folder work is serialised on the strand (unique names, no interleaved moves); the
    // callback therefore never runs inline.
    asio::post(strand_, [self = shared_from_this(), out = std::move(out), ep = *ep,
                         done = std::move(done)]() mutable {
      SendResult r = self->writePair(out, ep);
      done(std::move(r));
    });
  }

 private:
  // ----- outbound

  SendResult writePair(const OutboundMessage& out, const Endpoint& ep) {
    const Message& m = *out.message;
    // §6.3: LocalId = the DE tracking id (CIAO ControlFileBuilder), but only when it can be part
    // of a file name; otherwise an id derived from the delivery.
    std::string local_id =
        isSafeFileToken(m.header.tracking_id, 64)
            ? m.header.tracking_id
            : "D" + std::to_string(out.delivery_id) + "-" + shortHash(m.header.tracking_id);
    std::string base = config_.prefix + local_id;
    // The same message may go to two DTS endpoints, or be sent again after a crash: never
    // overwrite a pair the DTS client or the archive still holds. The base is then unique to
    // this delivery, and it is the send's remote id (reports about it name it).
    if (pairExists(out_, base) || pairExists(sent_, base) || pairExists(archive_ / "done", base) ||
        pairExists(archive_ / "error", base)) {
      base += "_" + std::to_string(out.delivery_id) + "_" + std::to_string(out.attempt);
    }
    ControlFile c;
    c.message_type = "Data";
    c.address_type = "DTS";
    c.from_dts = ep.mailbox;
    c.to_dts = ep.to;
    c.subject = ep.subject.empty() ? m.header.service : ep.subject;
    c.local_id = local_id;
    c.workflow_id = ep.workflow;
    const std::string ctl = buildControlFile(c);

    fs::path tmp_dat = temp_ / withExt(base, ".dat");
    fs::path tmp_ctl = temp_ / withExt(base, ".ctl");
    auto fail = [&](const Status& s) {
      std::error_code ec;
      fs::remove(tmp_dat, ec);
      fs::remove(tmp_ctl, ec);
      log::warn("dts.write_failed",
                {{"tracking_id", m.header.tracking_id}, {"file", base}, {"error", s.message()}});
      return SendResult::retryable("DTS: " + s.message());
    };
    if (Status s = writeSynced(tmp_dat, *m.body); !s.ok()) return fail(s);
    if (Status s = writeSynced(tmp_ctl, ctl); !s.ok()) return fail(s);
    // §6.2: the .dat first, then the .ctl, so the DTS client never sees a half pair.
    if (::rename(tmp_dat.c_str(), (out_ / withExt(base, ".dat")).c_str()) != 0)
      return fail(Status::unavailable(errnoText("cannot move into OUT", tmp_dat)));
    if (::rename(tmp_ctl.c_str(), (out_ / withExt(base, ".ctl")).c_str()) != 0) {
      Status s = Status::unavailable(errnoText("cannot move into OUT", tmp_ctl));
      std::error_code ec;
      fs::remove(out_ / withExt(base, ".dat"), ec);  // ours, and the message is in the store
      return fail(s);
    }
    if (Status s = syncDir(out_); !s.ok()) {
      // The pair is in OUT but may not survive a power cut: the DTS client may still send it,
      // so a retry can duplicate it (the recipient de-duplicates on the tracking id).
      return fail(s);
    }
    pairs_.Add({{"outcome", "sent"}}).Increment();
    log::info("dts.written", {{"tracking_id", m.header.tracking_id},
                              {"from", ep.mailbox},
                              {"to", ep.to},
                              {"workflow", ep.workflow},
                              {"file", base}});
    SendResult r = SendResult::delivered("written to " + (out_ / base).string() + ".ctl/.dat");
    r.remote_id = base;
    return r;
  }

  // ----- polling

  void poll() {
    if (!accepting_) return;
    scan();
    timer_.expires_after(config_.poll_interval);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->poll();
    });
  }

  void scan() {
    if (!accepting_) return;
    checkFolders();
    scanIn();
    scanSent();
  }

  bool checkFolders() {
    bool ok = true;
    for (const fs::path& d : {out_, in_, sent_, temp_, archive_ / "processed",
                              archive_ / "rejected", archive_ / "done", archive_ / "error"}) {
      ok = ok && writable(d);
    }
    if (ok != folders_ok_.exchange(ok)) {
      if (ok)
        log::info("dts.folders_ok", {{"root", root_.string()}});
      else
        log::error("dts.folders_unusable", {{"root", root_.string()}});
    }
    return ok;
  }

  // The bases of the *.ctl and *.dat files in `dir`.
  static void list(const fs::path& dir, std::set<std::string>* ctl, std::set<std::string>* dat) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code e;
      if (!it->is_regular_file(e)) continue;
      const fs::path& p = it->path();
      if (p.extension() == ".ctl")
        ctl->insert(p.stem().string());
      else if (p.extension() == ".dat" && dat)
        dat->insert(p.stem().string());
    }
  }

  static bool pairExists(const fs::path& dir, const std::string& base) {
    return present(dir / withExt(base, ".ctl")) || present(dir / withExt(base, ".dat"));
  }

  void scanIn() {
    std::set<std::string> ctl, dat;
    list(in_, &ctl, &dat);
    for (const std::string& base : dat) {
      if (ctl.count(base)) continue;
      // A crash between moving a pair's .ctl and its .dat out of IN: finish the move.
      for (const char* folder : {"processed", "rejected", "done", "error"}) {
        fs::path to = archive_ / folder;
        if (present(to / withExt(base, ".ctl")) && !present(to / withExt(base, ".dat"))) {
          std::error_code ec;
          fs::rename(in_ / withExt(base, ".dat"), to / withExt(base, ".dat"), ec);
          log::info("dts.recovered", {{"file", base}, {"folder", folder}});
          break;
        }
      }
    }
    // Forget what was logged about files that are gone.
    std::erase_if(ignored_, [&ctl](const std::string& k) { return !ctl.count(k); });
    std::erase_if(
        notes_, [&ctl](const std::string& k) { return !k.starts_with("SENT/") && !ctl.count(k); });
    for (const std::string& base : ctl) {
      if (!accepting_) return;
      if (busy_.count(base) || skip_.count(base) || ignored_.count(base)) continue;
      handleIn(base, dat.count(base) > 0);
    }
  }

  void scanSent() {
    std::set<std::string> ctl;
    list(sent_, &ctl, nullptr);
    std::erase_if(notes_, [&ctl](const std::string& k) {
      return k.starts_with("SENT/") && !ctl.count(k.substr(5));
    });
    for (const std::string& base : ctl) {
      if (!accepting_) return;
      // §6.2: only our own pairs (our prefix, then From_DTS one of ours).
      if (!base.starts_with(config_.prefix)) continue;
      if (busy_.count("SENT/" + base) || skip_.count("SENT/" + base)) continue;
      std::string text;
      if (Status s = readLimited(sent_ / withExt(base, ".ctl"), 64 * 1024, &text); !s.ok()) {
        noteOnce("SENT/" + base, "dts.sent_unreadable", s);
        continue;
      }
      auto c = parseControlFile(text);
      if (!c.ok()) {
        log::warn("dts.sent_unreadable", {{"file", base}, {"error", c.status().message()}});
        movePair(sent_, base, "error", c.status().message());
        continue;
      }
      // Another application's pair (its prefix may begin with ours): we name every pair
      // <prefix><LocalId>[_<delivery>_<attempt>] and send from our own mailboxes.
      const std::string named = config_.prefix + c->local_id;
      if (!config_.ownsMailbox(c->from_dts) || (base != named && !base.starts_with(named + "_"))) {
        continue;
      }
      onStatus(sent_, "SENT/", base, *c);
    }
  }

  void handleIn(const std::string& base, bool has_dat) {
    const fs::path ctl_path = in_ / withExt(base, ".ctl");
    std::string text;
    if (Status s = readLimited(ctl_path, 64 * 1024, &text); !s.ok()) {
      if (s.code() == Code::kInvalid) return rejectIn(base, origin(base, {}), s, false);
      return noteOnce(base, "dts.in_unreadable", s);
    }
    auto parsed = parseControlFile(text);
    if (!parsed.ok()) return rejectIn(base, origin(base, {}), parsed.status(), true);
    const ControlFile& c = *parsed;
    if (c.isReport()) {
      // §6.2: a Report (Event SEND) is a send status, like SENT. Only reports about pairs we
      // wrote: others belong to applications sharing the mailbox.
      if (!wroteLocalId(c.local_id))
        return ignore(base, "a report about a LocalId we did not send");
      return onStatus(in_, "", base, c);
    }
    // §6.2: leave files whose To_DTS or WorkflowId we do not own.
    if (!config_.ownsMailbox(c.to_dts)) return ignore(base, "To_DTS " + c.to_dts + " is not ours");
    if (!config_.workflows.empty() && std::find(config_.workflows.begin(), config_.workflows.end(),
                                                c.workflow_id) == config_.workflows.end()) {
      return ignore(base, "WorkflowId " + c.workflow_id + " is not ours");
    }
    if (!has_dat) {
      return noteOnce(base, "dts.incomplete_pair",
                      Status::unavailable("a control file without its .dat"));
    }
    Origin o = origin(base, c);
    if (!c.isData()) {
      return rejectIn(base, o, Status::invalid("MessageType '" + c.message_type + "' is not Data"),
                      true);
    }
    if (c.is_compressed || c.encrypted) {
      // The DTS client compresses and encrypts in transit only; data handed to us this way is
      // not something we can read.
      return rejectIn(base, o, Status::invalid("the data is marked compressed or encrypted"), true);
    }
    auto bytes = std::make_shared<std::string>();
    if (Status s = readLimited(in_ / withExt(base, ".dat"), config_.max_message_bytes, bytes.get());
        !s.ok()) {
      if (s.code() == Code::kInvalid) return rejectIn(base, o, s, true);
      return noteOnce(base, "dts.in_unreadable", s);
    }
    // §6.3: the .dat is the serialised DE.
    Result<Message> decoded = ctx_.decode ? ctx_.decode(std::shared_ptr<const std::string>(bytes))
                                          : Result<Message>(Status::internal("no message decoder"));
    if (!decoded.ok()) return rejectIn(base, o, decoded.status(), true);
    Message message = std::move(*decoded);
    message.origin = std::move(o);
    message.received_at = ctx_.clock.now();
    const std::string tracking = message.header.tracking_id;
    busy_.insert(base);
    sink_->accept(std::move(message), [self = shared_from_this(), base, tracking](AcceptOutcome r) {
      asio::post(self->strand_,
                 [self, base, tracking, r = std::move(r)] { self->settleIn(base, tracking, r); });
    });
  }

  void settleIn(const std::string& base, const std::string& tracking, const AcceptOutcome& r) {
    busy_.erase(base);
    switch (r.kind) {
      case AcceptOutcome::Kind::kAccepted:
      case AcceptOutcome::Kind::kDuplicate:
        // Durable now (or already): only now may the pair leave IN.
        pairs_.Add({{"outcome", "received"}}).Increment();
        log::info("dts.received", {{"file", base},
                                   {"tracking_id", tracking},
                                   {"duplicate", r.kind == AcceptOutcome::Kind::kDuplicate}});
        movePair(in_, base, "processed", {});
        return;
      case AcceptOutcome::Kind::kBusy:
        log::warn("dts.router_busy", {{"file", base}, {"error", r.status.toString()}});
        return;  // left in IN for the next poll
      case AcceptOutcome::Kind::kRejected:
        pairs_.Add({{"outcome", "rejected"}}).Increment();
        log::warn("dts.rejected",
                  {{"file", base}, {"tracking_id", tracking}, {"error", r.status.toString()}});
        movePair(in_, base, "rejected", r.status.toString());
        return;
    }
  }

  // Input we cannot take: reported, and kept in rejected/ with the reason.
  void rejectIn(const std::string& base, const Origin& o, const Status& why, bool report) {
    pairs_.Add({{"outcome", "rejected"}}).Increment();
    log::warn("dts.rejected", {{"file", base}, {"error", why.toString()}});
    if (report) sink_->reportUnreadable(o, why);
    movePair(in_, base, "rejected", why.toString());
  }

  // A status record (SENT, or a Report in IN): ERROR is a late delivery failure for the router.
  void onStatus(const fs::path& dir, const std::string& key_prefix, const std::string& base,
                const ControlFile& c) {
    const StatusRecord* status = c.status();
    if (!status) {
      return noteOnce(
          key_prefix + base, "dts.no_status_record",
          Status::invalid("a control file in " + dir.string() + " without a StatusRecord"));
    }
    if (!status->isError()) {
      pairs_.Add({{"outcome", "transferred"}}).Increment();
      log::info("dts.transferred", {{"file", base},
                                    {"local_id", c.local_id},
                                    {"to", c.to_dts},
                                    {"event", status->event},
                                    {"status_code", status->status_code}});
      movePair(dir, base, "done", {});
      return;
    }
    DeliveryFailureReport report;
    report.transport = "dts";
    // SendResult::remote_id of the send: the pair's file name in SENT; a Report in IN names only
    // the LocalId, i.e. the first pair sent with it.
    report.remote_id = dir == sent_ ? base : config_.prefix + c.local_id;
    report.tracking_id = c.local_id;  // the tracking id when it was a safe file token
    report.code = status->status_code.empty() ? "ERROR" : status->status_code;
    report.description =
        status->description.empty() ? status->event + " " + status->status : status->description;
    report.report_id = c.dts_id.empty() ? base : c.dts_id;
    report.origin = origin(base, c);
    log::warn("dts.transfer_failed", {{"file", base},
                                      {"local_id", c.local_id},
                                      {"to", c.to_dts},
                                      {"event", status->event},
                                      {"status_code", status->status_code},
                                      {"description", status->description}});
    const std::string key = key_prefix + base;
    busy_.insert(key);
    sink_->reportDeliveryFailure(
        std::move(report), [self = shared_from_this(), dir, key, base](Status s) {
          asio::post(self->strand_, [self, dir, key, base, s] {
            self->busy_.erase(key);
            if (!s.ok()) {
              // Kept where it is: offered again at the next poll.
              log::warn("dts.report_not_taken", {{"file", base}, {"error", s.toString()}});
              return;
            }
            self->pairs_.Add({{"outcome", "failed"}}).Increment();
            self->movePair(dir, base, "error", {});
          });
        });
  }

  // Whether a pair with this LocalId was written by us (still in OUT or SENT, or archived).
  bool wroteLocalId(const std::string& local_id) const {
    if (!isSafeFileToken(local_id, 64)) return false;
    const std::string base = config_.prefix + local_id;
    for (const fs::path& d : {out_, sent_, archive_ / "done", archive_ / "error"})
      if (present(d / withExt(base, ".ctl"))) return true;
    return false;
  }

  Origin origin(const std::string& base, const ControlFile& c) const {
    Origin o;
    o.transport = "dts";
    o.peer = c.from_dts;
    o.authenticated_as = c.to_dts;
    o.transport_message_id = c.dts_id.empty() ? c.local_id : c.dts_id;
    o.attributes = {{"dts.from", c.from_dts},        {"dts.to", c.to_dts},
                    {"dts.workflow", c.workflow_id}, {"dts.local_id", c.local_id},
                    {"dts.subject", c.subject},      {"dts.file", base}};
    return o;
  }

  // Moves base.ctl, then base.dat (when there), from `dir` into archive/<folder>/, under another
  // name when one is taken; writes base.reason when `reason` is given. Never deletes.
  void movePair(const fs::path& dir, const std::string& base, const char* folder,
                const std::string& reason) {
    fs::path to = archive_ / folder;
    std::string target = base;
    for (int n = 1; pairExists(to, target); ++n) {
      target = base + "." + formatCompact(ctx_.clock.now()) + "." + std::to_string(n);
    }
    const std::string key = (dir == sent_ ? "SENT/" : "") + base;
    std::error_code ec;
    // The .ctl first: without it the pair is no longer complete, so it is never offered twice.
    fs::rename(dir / withExt(base, ".ctl"), to / withExt(target, ".ctl"), ec);
    if (!ec && present(dir / withExt(base, ".dat")))
      fs::rename(dir / withExt(base, ".dat"), to / withExt(target, ".dat"), ec);
    if (ec) {
      skip_.insert(key);  // not offered again until the router restarts
      log::error("dts.move_failed",
                 {{"file", (dir / base).string()}, {"to", to.string()}, {"error", ec.message()}});
      return;
    }
    if (!reason.empty()) {
      std::ofstream(to / withExt(target, ".reason")) << reason << "\n";
    }
    notes_.erase(key);
    ignored_.erase(key);
  }

  void ignore(const std::string& base, const std::string& why) {
    if (ignored_.insert(base).second) log::debug("dts.left_alone", {{"file", base}, {"why", why}});
  }

  // Logs a problem with a file once (it is offered again every poll).
  void noteOnce(const std::string& key, std::string_view event, const Status& s) {
    if (notes_.insert(key).second) log::warn(event, {{"file", key}, {"error", s.message()}});
  }

  TransportConfig config_;
  const TransportContext& ctx_;
  fs::path root_, out_, in_, sent_, temp_, archive_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  prometheus::Family<prometheus::Counter>& pairs_;  // itk_dts_pairs_total
  InboundSink* sink_ = nullptr;
  std::atomic<bool> accepting_{false};
  std::atomic<bool> folders_ok_{false};
  // Strand only: pairs handed to the router and not answered yet, pairs that could not be
  // moved, and files already logged about.
  std::set<std::string> busy_, skip_, notes_, ignored_;
};

class DtsFactory final : public TransportFactory {
 public:
  std::string_view name() const override { return "dts"; }

  Result<std::shared_ptr<const EndpointConfig>> parseEndpoint(
      const YAML::Node& node) const override {
    return dts::parseEndpoint(node);
  }

  Result<std::unique_ptr<Transport>> create(const YAML::Node& node,
                                            const TransportContext& ctx) const override {
    auto config = parseTransportConfig(node);
    if (!config.ok()) return Status::invalid("transports.dts: " + config.status().message());
    auto impl = std::make_shared<DtsTransport>(std::move(*config), ctx);
    return std::unique_ptr<Transport>(
        std::make_unique<SharedTransport<DtsTransport>>(std::move(impl)));
  }
};

}  // namespace

std::unique_ptr<TransportFactory> makeDtsTransportFactory() {
  return std::make_unique<DtsFactory>();
}

}  // namespace itk::dts
