// Hand-written checks for the identifier and URI forms ITK uses (no regex on the message path).
// Each names the TKW rule it implements; TKW's xpathmatches finds its pattern anywhere unless the
// pattern is anchored, and these keep exactly that reach.
#pragma once

#include <string>
#include <string_view>

namespace itk::itk2::internal {

// ^[a-zA-Z_:]*[A-F0-9]{8}-[A-F0-9]{4}-[A-F0-9]{4}-[A-F0-9]{4}-[A-F0-9]{12} (manifest item and
// payload ids, rule 5; wsa:MessageID and wsu:Id with `upper_only` false, WS-ADR-01). Anchored
// at the start only, as TKW writes it.
bool isPrefixedUuid(std::string_view text, bool upper_only);

// xs:NCName (xs:ID, payload/@id), ASCII name characters plus any non-ASCII byte.
bool isNcName(std::string_view text);

// ^urn:nhs-uk:addressing:[a-zA-Z_:0-9]{1,} (senderAddress, rule 7).
bool isItkAddress(std::string_view uri);

// urn:nhs-uk:identity: followed by two or more non-empty colon-delimited tokens
// (COR-DEH-04.3/04.5: ^((([^:])+:)+)([^:])+$ after the prefix).
bool isToolkitIdentity(std::string_view uri);

// An OID: digits separated by single dots, e.g. 2.16.840.1.113883.2.1.3.2.4.18.27.
bool isOid(std::string_view text);

// An absolute URI (RFC 3986): a scheme, ':', and a non-empty rest without whitespace or the
// characters URIs never hold unescaped; http(s) URIs need an authority ("//host").
bool isAbsoluteUri(std::string_view text);

// ASCII case-insensitive equality.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// "text" in double quotes, for reasons that name a value.
std::string quoted(std::string_view text);

// Boolean.parseBoolean (CIAO, spec §2): "true" in any case, surrounding whitespace ignored.
bool parseItkBoolean(std::string_view text);

}  // namespace itk::itk2::internal
