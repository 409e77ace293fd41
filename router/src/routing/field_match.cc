// FieldMatch: exact, glob and hierarchical-prefix patterns on one header field.
#include <algorithm>

#include "itk/routing.h"

namespace itk {
namespace {

constexpr int kExactSpecificity = 1 << 30;

bool isWildcard(char c) {
  return c == '*' || c == '?';
}

int literalCount(std::string_view glob) {
  return static_cast<int>(
      std::count_if(glob.begin(), glob.end(), [](char c) { return !isWildcard(c); }));
}

// The text before the first wildcard: every value a glob matches starts with it.
std::string_view literalHead(std::string_view glob) {
  return glob.substr(0, std::min(glob.find_first_of("*?"), glob.size()));
}

// "L*" with no other wildcard: matches exactly the strings that start with L.
bool isHeadStar(std::string_view glob) {
  return !glob.empty() && glob.back() == '*' && literalHead(glob).size() == glob.size() - 1;
}

void appendQuoted(std::string& out, std::string_view s) {
  out += '"';
  out += s;
  out += '"';
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view value) {
  // Greedy match with one backtrack point (the last `*`): linear for typical patterns,
  // O(pattern * value) at worst, never exponential.
  size_t p = 0, v = 0;
  size_t star = std::string_view::npos, mark = 0;
  while (v < value.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == value[v])) {
      ++p;
      ++v;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = v;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      v = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool tokenPrefixMatch(std::string_view prefix, std::string_view value) {
  if (!value.starts_with(prefix)) return false;
  return value.size() == prefix.size() || value[prefix.size()] == ':';
}

FieldMatch FieldMatch::glob(std::string pattern) {
  if (pattern.find_first_of("*?") == std::string::npos) return exact(std::move(pattern));
  if (std::all_of(pattern.begin(), pattern.end(), [](char c) { return c == '*'; })) return any();
  return {Kind::kGlob, std::move(pattern)};
}

bool FieldMatch::matches(std::string_view value) const {
  switch (kind) {
    case Kind::kAny:
      return true;
    case Kind::kExact:
      return value == pattern;
    case Kind::kGlob:
      return globMatch(pattern, value);
    case Kind::kPrefix:
      return tokenPrefixMatch(pattern, value);
  }
  return false;
}

int FieldMatch::specificity() const {
  switch (kind) {
    case Kind::kAny:
      return 0;
    case Kind::kExact:
      return kExactSpecificity;
    // A prefix pins down all of its characters (and a token boundary after them): on a tie with
    // a glob's literal characters the prefix is the more specific.
    case Kind::kPrefix:
      return 2 * static_cast<int>(pattern.size()) + 1;
    case Kind::kGlob:
      return 2 * literalCount(pattern);
  }
  return 0;
}

bool FieldMatch::covers(const FieldMatch& other) const {
  if (kind == Kind::kAny) return true;
  switch (other.kind) {
    case Kind::kAny:
      return false;
    case Kind::kExact:
      return matches(other.pattern);
    case Kind::kPrefix:
      // `other` matches P and everything below P.
      if (kind == Kind::kPrefix) return tokenPrefixMatch(pattern, other.pattern);
      if (kind == Kind::kGlob) {
        return isHeadStar(pattern) && other.pattern.starts_with(literalHead(pattern));
      }
      return false;
    case Kind::kGlob: {
      // Every value `other` matches starts with its literal head.
      std::string_view head = literalHead(other.pattern);
      if (kind == Kind::kPrefix) {
        return head.size() > pattern.size() && head.starts_with(pattern) &&
               head[pattern.size()] == ':';
      }
      if (kind == Kind::kGlob) {
        return pattern == other.pattern ||
               (isHeadStar(pattern) && head.starts_with(literalHead(pattern)));
      }
      return false;
    }
  }
  return false;
}

std::string FieldMatch::toString() const {
  std::string out;
  switch (kind) {
    case Kind::kAny:
      return "any";
    case Kind::kExact:
      out = "exact ";
      break;
    case Kind::kGlob:
      out = "glob ";
      break;
    case Kind::kPrefix:
      out = "prefix ";
      break;
  }
  appendQuoted(out, pattern);
  return out;
}

}  // namespace itk
