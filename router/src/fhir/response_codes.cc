// ITK-ResponseCodes-1 (spec/itk3-mesh.md §2.3) with the response.code / severity / issue.code
// mapping of §2.2, as data. Displays are the CodeSystem's (fixtures itk3/definitions).
#include <algorithm>
#include <iterator>

#include "itk/fhir/response.h"

namespace itk::itk3 {

namespace {

constexpr auto I = ResponseLevel::kInfrastructure;
constexpr auto B = ResponseLevel::kBusiness;

// §2.2: every infrastructure negative is fatal-error/fatal; 20015 is not in the mapping table, so
// it follows its neighbours (fatal-error/fatal/processing, as the official 20015 example has it).
constexpr ResponseCodeInfo kCodes[] = {
    {"10001", false, "fatal-error", "fatal", "processing", "Handling Specification Error", I,
     false},
    {"10002", false, "fatal-error", "fatal", "processing",
     "Infrastructure Level Response Value - Processing Error", I, false},
    {"10003", false, "fatal-error", "fatal", "processing",
     "Business Level Response Value - Processing Error", I, false},
    {"10004", false, "fatal-error", "fatal", "processing",
     "Message Definition Value - Processing Error", I, false},
    {"10005", false, "fatal-error", "fatal", "processing",
     "Message Definition Version Value - Processing Error", I, false},
    {"10006", false, "fatal-error", "fatal", "processing", "Priority Value - Processing Error", I,
     true},
    {"10007", false, "fatal-error", "fatal", "processing",
     "Sender Reference Value - Processing Error", I, false},
    {"10008", false, "fatal-error", "fatal", "processing",
     "Handling Specification Business Rule Error", I, false},
    {"10009", false, "fatal-error", "fatal", "processing", "Unreadable message received", I, false},
    {"10010", false, "fatal-error", "fatal", "processing", "Recipient Type - Processing Error", I,
     false},
    {"20001", false, "fatal-error", "fatal", "not-found", "Unrecognised Recipient Person", I,
     false},
    {"20002", false, "fatal-error", "fatal", "not-found", "Unrecognised Recipient Organisation", I,
     false},
    {"20003", false, "fatal-error", "fatal", "not-found", "Unrecognised Sender", I, false},
    {"20004", false, "fatal-error", "fatal", "security",
     "Non-Approved file type received as an attachment", I, false},
    {"20005", false, "fatal-error", "fatal", "security",
     "Unsupported file type received as an attachment", I, false},
    {"20006", false, "fatal-error", "fatal", "invalid", "ITK header validation failure", I, false},
    {"20007", false, "fatal-error", "fatal", "duplicate", "Duplicate Message received", I, false},
    {"20008", false, "fatal-error", "fatal", "duplicate", "Duplicate Document received", I, false},
    {"20009", false, "fatal-error", "fatal", "invalid", "Payload validation failure", I, false},
    {"20010", false, "fatal-error", "fatal", "not-found",
     "Unrecognised Payload Recipient Organisation", I, false},
    {"20011", false, "fatal-error", "fatal", "not-found", "Unrecognised Payload Recipient Person",
     I, false},
    {"20012", false, "fatal-error", "fatal", "security", "Unauthorised Sender", I, false},
    {"20013", true, "ok", "information", "informational", "Success", I, false},
    {"20014", false, "fatal-error", "fatal", "processing", "Unable to Process Replacement Document",
     I, false},
    {"20015", false, "fatal-error", "fatal", "processing", "Message too large", I, false},
    {"30001", true, "ok", "information", "informational",
     "Patient known here. (e.g. Patient is registered here)", B, false},
    {"30002", false, "fatal-error", "fatal", "not-found",
     "Patient not known here. (aka 'patient record not present in system')", B, false},
    {"30003", false, "fatal-error", "fatal", "business-rule",
     "Patient no longer at this clinical setting", B, false},
    {"30004", true, "ok", "information", "informational",
     "Patient known here and recently deceased (i.e. patient record current in GP practice "
     "system at time of patient\u2019s death and deduction subsequently occurred for this reason)",
     B, false},
    {"30005", true, "ok", "information", "informational", "Referral open", B, false},
    {"30006", true, "ok", "information", "informational", "Referral completed", B, false},
    {"30007", false, "fatal-error", "warning", "informational", "Referral escalated back to GP", B,
     false},
    {"30008", true, "ok", "information", "informational", "Signposting to GP (non-urgent)", B,
     false},
    {"30009", true, "ok", "information", "informational", "Clinical escalation to UTC/111/GPOOH", B,
     false},
    {"30010", true, "ok", "information", "informational", "Clinical escalation to A&E or 999", B,
     false},
    {"30011", true, "ok", "information", "informational", "Advised to go elsewhere/self-referral",
     B, false},
    {"30012", false, "fatal-error", "warning", "informational", "Unable to contact the patient", B,
     false},
    {"30013", true, "ok", "information", "informational", "Closure (service not needed)", B, false},
    {"30014", false, "fatal-error", "information", "informational",
     "Closure (service not accepted)", B, false},
    {"30015", false, "fatal-error", "information", "duplicate", "Closure (duplicate referral)", B,
     false},
    {"30016", true, "ok", "information", "informational", "Referral accepted", B, false},
    {"30017", false, "fatal-error", "warning", "informational", "Referral rejected", B, false},
    {"30018", false, "fatal-error", "warning", "informational", "Did Not Attend", B, false},
    {"30019", true, "ok", "information", "informational", "GP Registration - Application accepted",
     B, false},
    {"30020", false, "fatal-error", "warning", "informational",
     "GP Registration - Application pending (contact practice)", B, false},
    {"30021", false, "fatal-error", "warning", "informational",
     "GP Registration - Application rejected (patient already registered)", B, false},
    {"30022", false, "fatal-error", "warning", "informational",
     "GP Registration - Application rejected (at capacity)", B, false},
    {"30023", false, "fatal-error", "warning", "informational",
     "GP Registration - Application rejected (out of boundary)", B, false},
    {"30024", false, "fatal-error", "warning", "informational",
     "GP Registration - Application rejected (Previously removed from this practice)", B, false},
    {"30025", false, "fatal-error", "warning", "informational",
     "GP Registration - Application rejected (Previously removed from another practice)", B, false},
};

}  // namespace

std::span<const ResponseCodeInfo> responseCodes() {
  return kCodes;
}

const ResponseCodeInfo* findResponseCode(std::string_view code) {
  auto it = std::lower_bound(
      std::begin(kCodes), std::end(kCodes), code,
      [](const ResponseCodeInfo& row, std::string_view c) { return row.code < c; });
  return it != std::end(kCodes) && it->code == code ? it : nullptr;
}

bool MessageBundle::responsePositive() const {
  bool any_known = false;
  for (const std::string& code : responseCodes()) {
    const ResponseCodeInfo* info = findResponseCode(code);
    if (!info) continue;
    any_known = true;
    if (!info->positive) return false;
  }
  if (any_known) return true;
  return header.response && header.response->code == "ok";
}

}  // namespace itk::itk3
