#include "itk/envelope/validate_command.h"

#include <gtest/gtest.h>

#include <sstream>

#include "support/temp_dir.h"
#include "test_messages.h"

namespace itk::itk2 {
namespace {

struct CommandRun {
  int status;
  std::string out;
  std::string err;
};

CommandRun run(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  int status = runValidateCommand(args, out, err);
  return {status, out.str(), err.str()};
}

TEST(ValidateCommandTest, OkLinePerGoodFileAndExitZero) {
  test::TempDir files;
  std::string de = files.write("de.xml", testing::validDe());
  std::string soap = files.write("soap.xml", testing::soapRequest());
  CommandRun r = run({"--now", "2026-11-25T10:00:30Z", de, soap});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, de + ": OK de/business 217D1168-7F0B-4F31-A0A9-5B030E545FAE\n" + soap +
                       ": OK soap-request/business 217D1168-7F0B-4F31-A0A9-5B030E545FAE\n");
  EXPECT_EQ(r.err, "");
}

TEST(ValidateCommandTest, RejectLineCarriesToolkitAndDeCodesAndExitOne) {
  test::TempDir files;
  std::string bad =
      files.write("bad.xml", testing::replaced(testing::validDe(), "<itk:manifest count=\"1\">",
                                               "<itk:manifest count=\"2\">"));
  std::string good = files.write("good.xml", testing::validDe());
  CommandRun r = run({bad, good});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, bad +
                       ": REJECT 1000 DE0006 itk:manifest/@count (2) does not equal the number "
                       "of itk:manifestitem elements (1)\n" +
                       good + ": OK de/business 217D1168-7F0B-4F31-A0A9-5B030E545FAE\n");
}

TEST(ValidateCommandTest, SoapChecksUseTheGivenClock) {
  test::TempDir files;
  std::string soap = files.write("soap.xml", testing::soapRequest());
  CommandRun late = run({"--now=2026-11-25T11:00:00Z", soap});
  EXPECT_EQ(late.status, 1);
  EXPECT_EQ(late.out, soap +
                          ": REJECT 1000 - soap:Client the message expired at "
                          "2026-11-25T10:10:00Z (now 2026-11-25T11:00:00Z)\n");
}

TEST(ValidateCommandTest, AccessDeniedIsToolkit3000) {
  test::TempDir files;
  std::string soap = files.write(
      "soap.xml", testing::replaced(testing::soapRequest(),
                                    "<wsse:Username>TKS Server test</wsse:Username>", ""));
  CommandRun r = run({"--now", "2026-11-25T10:00:30Z", soap});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out,
            soap + ": REJECT 3000 - soap:Client wsse:UsernameToken/wsse:Username is missing\n");
}

TEST(ValidateCommandTest, ReadsTheFixturesWithTheirClocks) {
  ITK_REQUIRE_FIXTURES();
  std::string dir = testing::fixturesDir() + "/itk2/";
  CommandRun curated =
      run({"--now", "2026-11-25T10:00:30Z", dir + "soap/tkw-sendDistEnvelope-request.xml",
           dir + "acks/tkw-infnack-de-DE0006.xml", dir + "acks/ciao-test-infack.xml"});
  EXPECT_EQ(curated.status, 0) << curated.out;
  EXPECT_EQ(curated.out, dir +
                             "soap/tkw-sendDistEnvelope-request.xml: OK soap-request/business "
                             "FE32DE12-3D67-11E2-B6B1-C58C6188709B\n" +
                             dir +
                             "acks/tkw-infnack-de-DE0006.xml: OK de/infnack "
                             "C8049890-39CA-5CFC-BDD7-7150C115899B\n" +
                             dir +
                             "acks/ciao-test-infack.xml: OK infrastructure-response/infack "
                             "7D6F23E0-AE1A-11DB-8707-B18E1E0994EF\n");
  CommandRun tkw = run({"--now", "2017-09-28T14:16:20Z", dir + "soap/tkw-ITK_SOAP.xml"});
  EXPECT_EQ(tkw.status, 0) << tkw.out;
  CommandRun ebxml = run({dir + "spine/ciao-test-ack.xml"});
  EXPECT_EQ(ebxml.status, 1);
  EXPECT_TRUE(ebxml.out.find(": REJECT 1000 - soap:MustUnderstand header ") != std::string::npos)
      << ebxml.out;
}

TEST(ValidateCommandTest, NoFileIsAUsageError) {
  CommandRun r = run({});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("no FILE given"), std::string::npos);
  EXPECT_NE(r.err.find("usage: itk-router validate"), std::string::npos);
}

TEST(ValidateCommandTest, BadNowIsAUsageError) {
  EXPECT_EQ(run({"--now", "yesterday", "x.xml"}).status, 2);
  EXPECT_EQ(run({"x.xml", "--now"}).status, 2);
}

TEST(ValidateCommandTest, UnknownOptionIsAUsageError) {
  CommandRun r = run({"--strict", "x.xml"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option --strict"), std::string::npos);
}

TEST(ValidateCommandTest, UnreadableFileIsAUsageErrorButOthersAreStillChecked) {
  test::TempDir files;
  std::string good = files.write("good.xml", testing::validDe());
  CommandRun r = run({"/nonexistent/file.xml", good});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot read /nonexistent/file.xml"), std::string::npos);
  EXPECT_EQ(r.out, good + ": OK de/business 217D1168-7F0B-4F31-A0A9-5B030E545FAE\n");
}

TEST(ValidateCommandTest, HelpPrintsUsage) {
  CommandRun r = run({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.out.starts_with("usage: itk-router validate [--now TIME] FILE..."));
}

}  // namespace
}  // namespace itk::itk2
