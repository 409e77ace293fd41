// The DTS control file (`*.ctl`, root element DTSControl, no namespace): spec/itk2.md §6.1.
// Pure functions, no I/O; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "itk/file_names.h"  // isSafeFileToken
#include "itk/status.h"

namespace itk::dts {

// Written by the DTS client on files it moved to SENT or delivered to IN (§6.1).
struct StatusRecord {
  std::string date_time;    // yyyyMMddHHmmss
  std::string event;        // COLLECT | TRANSFER | SEND | RECEIVE
  std::string status;       // SUCCESS | ERROR
  std::string status_code;  // "00" = transferred to the recipient's mailbox
  std::string description;

  bool isError() const { return status == "ERROR"; }
};

struct ControlFile {
  std::string version = "1.0";
  std::string address_type = "DTS";   // DTS | SMTP | ALL
  std::string message_type = "Data";  // Data | Report
  std::string from_dts;
  std::string to_dts;
  std::string from_esmtp;
  std::string to_esmtp;
  std::string subject;
  std::string local_id;
  std::string dts_id;
  std::string partner_id;
  bool compress = false;
  bool encrypted = false;
  std::string workflow_id;
  std::string process_id;
  std::string data_checksum;  // read from DataChecksum or DataCheckSum (§6.1: both spellings)
  bool is_compressed = false;
  std::vector<StatusRecord> status_records;  // only on files the DTS client wrote

  bool isData() const { return message_type == "Data"; }
  bool isReport() const { return message_type == "Report"; }
  // The last status record, or null.
  const StatusRecord* status() const {
    return status_records.empty() ? nullptr : &status_records.back();
  }
};

// Serialises `c` in the element order of the NHSD example (§6.1). Empty optional elements
// (From_ESMTP, DTSId, ...) are left out; Y/N booleans are always written. Text is escaped.
std::string buildControlFile(const ControlFile& c);

// Reads a control file with the hardened SAX layer (no DOCTYPE, size and depth limits). The root
// must be DTSControl; unknown elements are ignored (newer DTS clients add some). Errors are
// kInvalid with a message naming the problem.
Result<ControlFile> parseControlFile(std::string_view document);

// True for a DTS mailbox id: letters and digits only, 1..64 characters. Such an id may name a
// file or a folder.
bool isMailboxId(std::string_view s);

}  // namespace itk::dts
