// The loopback transport's spool as a sender sees it, for tests that run the real router:
// a DE made from tests/data/loopback-de.xml.in, dropped into in/ the way the spool requires,
// and what arrived in out/ (files named TRACKING-DELIVERY.xml).
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "itk/uuid.h"
#include "support/temp_dir.h"

namespace itk::test {

// A routing table sending everything to a loopback endpoint that writes into out/.
inline constexpr const char* kLoopbackArchiveRoutes = R"(endpoints:
  archive:
    transport: loopback
    behaviour: deliver
    deliver_dir: out
routes:
  - name: everything
    endpoint: archive
)";

// A Distribution Envelope for urn:nhs-uk:addressing:ods:RHM with this tracking id.
inline std::string loopbackDe(const std::string& tracking_id, int seq) {
  static const std::string kTemplate =
      readFile(std::string(ITK_TEST_DATA_DIR) + "/loopback-de.xml.in");
  std::string de = kTemplate;
  auto put = [&de](const std::string& key, const std::string& value) {
    for (size_t p; (p = de.find(key)) != std::string::npos;) de.replace(p, key.size(), value);
  };
  put("@TRACKING_ID@", tracking_id);
  put("@PAYLOAD_ID@", newUuid());
  put("@ODS@", "RHM");
  put("@SEQ@", std::to_string(seq));
  return de;
}

// Writes in/NAME under a temporary name and renames it, as the loopback spool requires (it
// never reads a half-written file).
inline void dropIntoSpool(const TempDir& dir, const std::string& name, const std::string& bytes) {
  std::string path = "in/" + name;
  dir.write(path + ".tmp", bytes);
  std::filesystem::rename(dir / (path + ".tmp"), dir / path);
}

// Tracking id -> the delivery files written for it in `folder` (out/ by default).
inline std::map<std::string, std::set<std::string>> deliveredFiles(const TempDir& dir,
                                                                   const std::string& folder = "out") {
  std::map<std::string, std::set<std::string>> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir / folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (it->path().extension() == ".xml" && name.size() > 36)
      files[name.substr(0, 36)].insert(name);
  }
  return files;
}

}  // namespace itk::test
