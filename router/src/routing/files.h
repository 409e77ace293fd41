// File helpers shared by the loader and the reloader (private to itk::routing).
#pragma once

#include <string>
#include <vector>

#include "itk/routing.h"
#include "itk/status.h"

namespace itk::routing_files {

// The whole file, bytes as they are.
Result<std::string> readFile(const std::string& path);
// SHA-256 (lower-case hex) of the sources' bytes in order.
std::string sha256Hex(const std::vector<RoutingSource>& sources);

}  // namespace itk::routing_files
