// Status and Result<T>: errors on the message path are values, never exceptions (DESIGN.md §2).
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace itk {

// What went wrong, in terms that mean something to routing and delivery.
enum class Code : uint8_t {
  kOk = 0,
  kInvalid,         // the input breaks a rule of its spec (answer: fault 1000, NACK, 20006 ...)
  kUnknownAddress,  // no route for a service/address (answer: 2200 "route not found")
  kUnavailable,     // a dependency cannot take work now; retry later (503 busy tone)
  kTimeout,         // a deadline passed
  kRejected,        // refused on purpose (a reject route, a permanent peer refusal)
  kStoreError,      // the durable store failed; nothing was accepted
  kNotFound,        // a lookup found nothing (admin queries)
  kAccessDenied,    // authentication or authorisation failed (3000)
  kInternal,        // a bug or an impossible state
};

std::string_view codeName(Code code);

// ITK toolkit error codes, OID 2.16.840.1.113883.2.1.3.2.4.17.268 (spec/itk2.md §4.6).
enum class ToolkitCode : uint16_t {
  kNone = 0,
  kInvalidMessage = 1000,  // "Invalid Message - the message structure or content is ..."
  kRetryable = 2100,       // "Processing Error (retryable) ..."
  kNotRetryable = 2200,    // "Processing Error (not retryable) ..."
  kAccessDenied = 3000,    // "Access Denied"
};

// A copyable result of an operation with a named constructor per code. An error may carry the
// ITK vocabulary that answers it on the wire: a toolkit code and a vocabulary code such as
// "DE0006" (ITK2 DE_Error, .17.516) or "20006" (ITK3 response code).
class Status {
 public:
  Status() = default;  // OK

  static Status okStatus() { return Status(); }
  static Status invalid(std::string msg) { return Status(Code::kInvalid, std::move(msg)); }
  static Status unknownAddress(std::string msg) {
    return Status(Code::kUnknownAddress, std::move(msg));
  }
  static Status unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status timeout(std::string msg) { return Status(Code::kTimeout, std::move(msg)); }
  static Status rejected(std::string msg) { return Status(Code::kRejected, std::move(msg)); }
  static Status storeError(std::string msg) { return Status(Code::kStoreError, std::move(msg)); }
  static Status notFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status accessDenied(std::string msg) {
    return Status(Code::kAccessDenied, std::move(msg));
  }
  static Status internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Attach the wire vocabulary for this error. Returns *this for chaining.
  Status& withToolkit(ToolkitCode toolkit, std::string vocabulary_code = {}) & {
    toolkit_ = toolkit;
    vocabulary_code_ = std::move(vocabulary_code);
    return *this;
  }
  Status&& withToolkit(ToolkitCode toolkit, std::string vocabulary_code = {}) && {
    toolkit_ = toolkit;
    vocabulary_code_ = std::move(vocabulary_code);
    return std::move(*this);
  }
  // The toolkit code to answer with; derived from the code when none was attached.
  ToolkitCode toolkitCode() const;
  const std::string& vocabularyCode() const { return vocabulary_code_; }

  // "invalid: DE0006 manifest count 2 does not match 1 items" style, for logs.
  std::string toString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  ToolkitCode toolkit_ = ToolkitCode::kNone;
  std::string message_;
  std::string vocabulary_code_;
};

// A value or the Status explaining why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    assert(!std::get<1>(v_).ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace itk
