// The administrators' routing commands, wired into main.cc:
//   itk-router check-routes [--strict] FILE...
//   itk-router explain --routes FILE... --service S --address A [--address B ...]
//                      [--sender X] [--interaction I]
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "itk/transport.h"

namespace itk {

// Validates the files as one table. Prints every diagnostic ("file:line: error|warning: ...")
// to `err` and a one-line summary to `out`. `args` excludes the command name.
// Returns 0 when valid (warnings allowed, unless --strict), 1 on errors, 2 on bad usage.
int runCheckRoutesCommand(const std::vector<std::string>& args, const TransportRegistry& transports,
                          std::ostream& out, std::ostream& err);

// Shows which route wins for each address and why: the candidates considered, best first, and
// for each loser the rule that beat it; then the fan-out (deliveries and refusals).
// Returns 0 when explained, 1 when the table is invalid, 2 on bad usage.
int runExplainCommand(const std::vector<std::string>& args, const TransportRegistry& transports,
                      std::ostream& out, std::ostream& err);

}  // namespace itk
