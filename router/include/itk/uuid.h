#pragma once

#include <string>
#include <string_view>

namespace itk {

// A random (version 4) UUID in upper case, as ITK tracking ids must be (spec/itk2.md §1.2).
std::string newUuid();
// The same, lower case (FHIR ids, MESH nonces).
std::string newUuidLower();
// True for 8-4-4-4-12 hex; `upper_only` demands the ITK upper-case form.
bool isUuid(std::string_view text, bool upper_only);

}  // namespace itk
