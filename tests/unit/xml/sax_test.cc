#include "itk/xml/sax.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "itk/xml/text.h"

namespace itk::xml {
namespace {

// Records what the parser reports, as UTF-8 text, for assertions.
class Recorder : public Handler {
 public:
  struct Element {
    std::string name;
    size_t depth;
    ByteRange start_tag;
    ByteRange end_tag;
    std::string text;
  };
  std::vector<std::string> events;
  std::vector<Element> elements;  // in end order
  std::vector<std::string> starts;

  Status startPrefixMapping(std::u16string_view prefix, std::u16string_view uri) override {
    events.push_back("xmlns:" + toUtf8(prefix) + "=" + toUtf8(uri));
    return {};
  }
  Status startElement(const StartTag& tag) override {
    std::string name = "{" + toUtf8(tag.uri) + "}" + toUtf8(tag.local_name);
    events.push_back("start " + name);
    starts.push_back(name);
    for (size_t i = 0; i < tag.attributes.size(); ++i) {
      Attribute a = tag.attributes[i];
      events.push_back("@{" + toUtf8(a.uri) + "}" + toUtf8(a.local_name) + "=" + toUtf8(a.value));
    }
    text_.clear();
    return {};
  }
  Status endElement(const EndTag& tag) override {
    std::string name = "{" + toUtf8(tag.uri) + "}" + toUtf8(tag.local_name);
    events.push_back("end " + name);
    elements.push_back({name, tag.depth, tag.start_tag, tag.end_tag, text_});
    text_.clear();
    return {};
  }
  Status characters(std::u16string_view text) override {
    appendUtf8(text_, text);
    return {};
  }

  const Element& element(std::string_view name) const {
    for (const auto& e : elements)
      if (e.name == name) return e;
    static const Element none{};
    ADD_FAILURE() << "no element " << name;
    return none;
  }

 private:
  std::string text_;
};

void expectRejected(const Status& s, std::string_view fragment) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalid);
  EXPECT_EQ(s.toolkitCode(), ToolkitCode::kInvalidMessage);
  EXPECT_EQ(s.vocabularyCode(), "DE0001");
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(SaxTest, ReportsElementsWithDepthAndNamespaces) {
  std::string doc = R"(<a:root xmlns:a="urn:a" xmlns="urn:d"><child x="1" a:y="2"/></a:root>)";
  Recorder r;
  ASSERT_TRUE(parse(doc, r).ok());
  std::vector<std::string> expected = {"xmlns:a=urn:a",      "xmlns:=urn:d",   "start {urn:a}root",
                                       "start {urn:d}child", "@{}x=1",         "@{urn:a}y=2",
                                       "end {urn:d}child",   "end {urn:a}root"};
  EXPECT_EQ(r.events, expected);
  EXPECT_EQ(r.element("{urn:a}root").depth, 1u);
  EXPECT_EQ(r.element("{urn:d}child").depth, 2u);
}

TEST(SaxTest, StartAndEndTagRangesSliceTheInput) {
  std::string doc =
      "<?xml version=\"1.0\"?>\r\n<a x=\"1>2\">\r\n <b/>\xC3\xA9<c>t&amp;</c>"
      "\r\n<!-- c<o> -->\r\n</a >";
  Recorder r;
  ASSERT_TRUE(parse(doc, r).ok());
  const auto& a = r.element("{}a");
  EXPECT_EQ(a.start_tag.in(doc), "<a x=\"1>2\">");
  EXPECT_EQ(a.end_tag.in(doc), "</a >");
  const auto& c = r.element("{}c");
  EXPECT_EQ(c.start_tag.in(doc), "<c>");
  EXPECT_EQ(c.end_tag.in(doc), "</c>");
  EXPECT_EQ(ByteRange(c.start_tag.end, c.end_tag.begin).in(doc), "t&amp;");
  EXPECT_EQ(c.text, "t&");
}

TEST(SaxTest, EmptyElementTagHasEmptyEndTagAtItsEnd) {
  std::string doc = "<a><b  /></a>";
  Recorder r;
  ASSERT_TRUE(parse(doc, r).ok());
  const auto& b = r.element("{}b");
  EXPECT_EQ(b.start_tag.in(doc), "<b  />");
  EXPECT_TRUE(b.end_tag.empty());
  EXPECT_EQ(b.end_tag.begin, b.start_tag.end);
}

TEST(SaxTest, OffsetsCountTheUtf8ByteOrderMark) {
  std::string doc = "\xEF\xBB\xBF<a><b>\xE2\x82\xAC</b></a>";
  Recorder r;
  ASSERT_TRUE(parse(doc, r).ok());
  const auto& b = r.element("{}b");
  EXPECT_EQ(b.start_tag.in(doc), "<b>");
  EXPECT_EQ(b.end_tag.in(doc), "</b>");
  EXPECT_EQ(b.text, "\xE2\x82\xAC");
}

TEST(SaxTest, AttributesFindByNamespaceAndLocalName) {
  class Finder : public Handler {
   public:
    std::string found;
    bool missing_found = true;
    Status startElement(const StartTag& tag) override {
      std::u16string_view v;
      if (tag.attributes.find(u"urn:n", u"id", &v)) found = toUtf8(v);
      missing_found = tag.attributes.find(u"", u"id", &v);
      return {};
    }
    Status endElement(const EndTag&) override { return {}; }
  } finder;
  ASSERT_TRUE(parse(R"(<r xmlns:n="urn:n" n:id="X"/>)", finder).ok());
  EXPECT_EQ(finder.found, "X");
  EXPECT_FALSE(finder.missing_found);
}

TEST(SaxTest, HandlerErrorStopsTheParseAndIsReturned) {
  class Stopper : public Handler {
   public:
    int starts = 0;
    Status startElement(const StartTag&) override {
      if (++starts == 2) {
        return Status::invalid("stop here").withToolkit(ToolkitCode::kInvalidMessage, "DE0006");
      }
      return {};
    }
    Status endElement(const EndTag&) override {
      ADD_FAILURE() << "no callback after a stop";
      return {};
    }
  } stopper;
  Status s = parse("<a><b/><c/><d/></a>", stopper);
  EXPECT_EQ(s.vocabularyCode(), "DE0006");
  EXPECT_EQ(s.message(), "stop here");
  EXPECT_EQ(stopper.starts, 2);
}

TEST(SaxTest, MalformedXmlIsRejectedWithPosition) {
  Recorder r;
  expectRejected(parse("<a>\n<b></a>", r), "line 2");
}

TEST(SaxTest, ReaderIsReusableAfterAFailure) {
  Recorder bad;
  EXPECT_FALSE(parse("<a><b></a>", bad).ok());
  Recorder good;
  ASSERT_TRUE(parse("<x><y/></x>", good).ok());
  EXPECT_EQ(good.starts, (std::vector<std::string>{"{}x", "{}y"}));
}

TEST(SaxTest, ReaderIsReusableAfterAHandlerStop) {
  class StopAtOnce : public Handler {
   public:
    Status startElement(const StartTag&) override { return Status::invalid("no"); }
    Status endElement(const EndTag&) override { return {}; }
  } stop;
  EXPECT_FALSE(parse("<a><b/></a>", stop).ok());
  Recorder good;
  ASSERT_TRUE(parse("<x><y/></x>", good).ok());
  EXPECT_EQ(good.starts, (std::vector<std::string>{"{}x", "{}y"}));
}

TEST(SaxTest, NestedParseFromACallbackUsesItsOwnReader) {
  class Nesting : public Handler {
   public:
    Recorder inner;
    Status inner_status;
    Status startElement(const StartTag& tag) override {
      if (tag.depth == 1) inner_status = parse("<inner/>", inner);
      return {};
    }
    Status endElement(const EndTag&) override { return {}; }
  } nesting;
  ASSERT_TRUE(parse("<outer><x/></outer>", nesting).ok());
  EXPECT_TRUE(nesting.inner_status.ok());
  EXPECT_EQ(nesting.inner.starts, std::vector<std::string>{"{}inner"});
}

TEST(SaxTest, ThreadsParseConcurrently) {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &ok] {
      for (int i = 0; i < 50; ++i) {
        Recorder r;
        std::string doc = "<r t=\"" + std::to_string(t) + "\"><c/></r>";
        if (parse(doc, r).ok() && r.elements.size() == 2) ++ok[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, std::vector<int>(4, 50));
}

// --- Hostile input -------------------------------------------------------------------------

TEST(SaxHostileTest, BillionLaughsIsRefusedAtTheDoctype) {
  std::string doc =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
      " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
      " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n]>\n"
      "<lolz>&lol3;</lolz>";
  Recorder r;
  expectRejected(parse(doc, r), "DOCTYPE");
  EXPECT_TRUE(r.events.empty());
}

TEST(SaxHostileTest, ExternalEntityIsRefusedAtTheDoctype) {
  std::string doc =
      "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "
      "\"file:///etc/passwd\">]><foo>&xxe;</foo>";
  Recorder r;
  expectRejected(parse(doc, r), "DOCTYPE");
  EXPECT_TRUE(r.events.empty());
}

TEST(SaxHostileTest, ExternalDtdIsNeverFetched) {
  Recorder r;
  expectRejected(parse("<!-- x --><!DOCTYPE a SYSTEM \"http://127.0.0.1:9/x.dtd\"><a/>", r),
                 "DOCTYPE");
}

TEST(SaxHostileTest, UndeclaredEntityReferenceIsRejected) {
  Recorder r;
  expectRejected(parse("<a>&xxe;</a>", r), "not well-formed");
}

TEST(SaxHostileTest, DeepNestingStopsAtTheDepthLimit) {
  std::string doc;
  for (int i = 0; i < 100000; ++i) doc += "<a>";
  Recorder r;
  Limits limits;
  limits.max_depth = 64;
  expectRejected(parse(doc, r, limits), "nesting deeper than the limit of 64");
  EXPECT_EQ(r.starts.size(), 64u);  // stopped at once, not at the end of the input
}

TEST(SaxHostileTest, OversizeDocumentIsRejectedBeforeParsing) {
  Recorder r;
  Limits limits;
  limits.max_bytes = 10;
  expectRejected(parse("<a>0123456789</a>", r, limits), "17 bytes exceeds the limit of 10");
  EXPECT_TRUE(r.events.empty());
}

TEST(SaxHostileTest, TooManyElementsStopsTheParse) {
  std::string doc = "<r>";
  for (int i = 0; i < 1000; ++i) doc += "<e/>";
  doc += "</r>";
  Recorder r;
  Limits limits;
  limits.max_elements = 10;
  expectRejected(parse(doc, r, limits), "more elements than the limit of 10");
  EXPECT_EQ(r.starts.size(), 10u);
}

TEST(SaxHostileTest, TooManyAttributesIsRejected) {
  std::string doc = "<r";
  for (int i = 0; i < 20; ++i) doc += " a" + std::to_string(i) + "=\"x\"";
  doc += "/>";
  Recorder r;
  Limits limits;
  limits.max_attributes = 8;
  expectRejected(parse(doc, r, limits), "more attributes than the limit of 8");
}

TEST(SaxHostileTest, Utf16ByteOrderMarkIsRejected) {
  std::string doc("\xFF\xFE<\0a\0/\0>\0", 10);
  Recorder r;
  expectRejected(parse(doc, r), "ITK requires UTF-8");
}

TEST(SaxHostileTest, Utf16WithoutByteOrderMarkIsRejected) {
  std::string doc("<\0a\0/\0>\0", 8);
  Recorder r;
  expectRejected(parse(doc, r), "ITK requires UTF-8");
}

TEST(SaxHostileTest, DeclaredNonUtf8EncodingIsRejected) {
  Recorder r;
  expectRejected(parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xE9</a>", r),
                 "declares encoding \"ISO-8859-1\"");
}

TEST(SaxHostileTest, InvalidUtf8BytesAreRejected) {
  Recorder r;
  expectRejected(parse("<?xml version=\"1.0\" encoding=\"utf-8\"?><a>caf\xE9</a>", r),
                 "not well-formed");
}

TEST(SaxHostileTest, LowerCaseUtf8DeclarationIsAccepted) {
  Recorder r;
  EXPECT_TRUE(parse("<?xml version='1.0' encoding='utf-8'?><a>&amp;&#65;</a>", r).ok());
  EXPECT_EQ(r.element("{}a").text, "&A");
}

TEST(SaxHostileTest, EmptyAndNonXmlInputAreRejected) {
  Recorder r;
  expectRejected(parse("", r), "no root element");
  expectRejected(parse("{\"json\": true}", r), "content before the root element");
}

}  // namespace
}  // namespace itk::xml
