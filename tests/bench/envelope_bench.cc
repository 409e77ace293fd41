// ITK2 door throughput: one SAX pass reading a 5.8 KB SOAP+DE SendCDADocument request, all the
// SOAP / WS-Security / DE checks and the routing header, against Xerces DOM merely parsing the
// same bytes (a reused parser whose document pool is reset each time, as a DOM-based router
// would have to). Run by tests/bench/run.sh, which interleaves the two and reports medians.
#include <benchmark/benchmark.h>
#include <xercesc/dom/DOMDocument.hpp>
#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/parsers/XercesDOMParser.hpp>
#include <xercesc/util/PlatformUtils.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "itk/envelope/reader.h"
#include "itk/envelope/soap_checks.h"

namespace {

namespace xc = XERCES_CPP_NAMESPACE;

const std::string& message() {
  static const std::string bytes = [] {
    std::ifstream in(ITK_TEST_DATA_DIR "/itk2/sendcda-request-5k8.xml", std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }();
  return bytes;
}

void SaxReadAndCheck(benchmark::State& state) {
  const std::string& bytes = message();
  itk::TimePoint now;
  itk::parseIsoDateTime("2026-11-25T10:00:30Z", &now);
  const itk::itk2::SoapPolicy policy;
  for (auto _ : state) {
    itk::Result<itk::itk2::ItkDocument> doc = itk::itk2::readItkDocument(bytes);
    if (!doc.ok()) return state.SkipWithError(doc.status().toString().c_str());
    itk::itk2::SoapVerdict verdict = itk::itk2::checkSoapRequest(*doc, policy, now);
    if (!verdict.ok()) return state.SkipWithError(verdict.status.toString().c_str());
    itk::Result<itk::MessageHeader> header = itk::itk2::messageHeaderOf(*doc->de);
    benchmark::DoNotOptimize(header);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

void XercesDomBaseline(benchmark::State& state) {
  const std::string& bytes = message();
  xc::XMLPlatformUtils::Initialize();  // reference counted; itk::xml never terminates it either
  xc::XercesDOMParser parser;
  parser.setDoNamespaces(true);
  parser.setValidationScheme(xc::XercesDOMParser::Val_Never);
  parser.setLoadExternalDTD(false);
  parser.setCreateEntityReferenceNodes(false);
  for (auto _ : state) {
    xc::MemBufInputSource source(reinterpret_cast<const XMLByte*>(bytes.data()), bytes.size(),
                                 "bench", false);
    parser.parse(source);
    if (parser.getErrorCount() != 0) return state.SkipWithError("DOM parse failed");
    benchmark::DoNotOptimize(parser.getDocument());
    parser.resetDocumentPool();  // otherwise every document is kept until the parser dies
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  // Names are "<group>/<case>"; run.sh compares each case with its group's *Baseline.
  benchmark::RegisterBenchmark("Itk2SoapRequest5k8/SaxReadAndCheck", SaxReadAndCheck);
  benchmark::RegisterBenchmark("Itk2SoapRequest5k8/XercesDomBaseline", XercesDomBaseline);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
