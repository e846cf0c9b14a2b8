// Reading histories (CONTRACTS.md §6): every event type survives a write and
// a read back, numbers compare as their decimal strings, errors name the line,
// and the block reader handles lines longer than a block and a missing final
// newline.
#include "check/history.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "check/history_stream.h"

namespace rkv {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("rkv-history-test-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

Event Make(EventType type, OpType op, uint64_t client, std::string key,
           std::optional<std::string> value) {
  Event e;
  e.type = type;
  e.op = op;
  e.client = client;
  e.key = std::move(key);
  e.value = std::move(value);
  return e;
}

TEST(History, EveryEventSurvivesFormatAndParse) {
  std::vector<Event> events(6);
  events[0] = Make(EventType::kInvoke, OpType::kCas, 3, "k1", "a");
  events[0].value2 = "b";
  events[0].time = 10;
  events[0].node = 2;
  events[1] = Make(EventType::kOk, OpType::kIncr, 4, "k2", "5");
  events[1].result = 17;
  events[1].time = 11;
  events[1].version = "5.1032";
  events[1].session = 9;
  events[2] = Make(EventType::kFail, OpType::kAppend, 5, "k \"quoted\"", " x1\n");
  events[2].time = 12;
  events[3] = Make(EventType::kOk, OpType::kRead, 6, "k3", std::nullopt);
  events[3].time = 13;
  events[4] = Make(EventType::kFinal, OpType::kNone, 0, "k1", " x1 x2");
  events[4].node = 3;
  events[5] = Make(EventType::kRollback, OpType::kNone, 0, "k1", "v");
  events[5].term = 4;
  events[5].index = 99;
  events[5].command = {"append", "k1", " x9"};
  std::string text;
  for (const Event& e : events) text += FormatEvent(e) + "\n";
  Result<History> h = ParseHistory(text);
  ASSERT_TRUE(h.ok()) << h.status().message();
  ASSERT_EQ(h->events.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i)
    EXPECT_EQ(FormatEvent(h->events[i]), FormatEvent(events[i])) << i;
}

TEST(History, NumbersAreTheirDecimalStrings) {
  Result<History> h =
      ParseHistory(R"({"client":1,"type":"invoke","op":"write","key":7,"value":-12,"time":1.5e3})"
                   "\n"
                   R"({"client":1,"type":"ok","op":"write","key":"7","value":2.5,"time":1600})");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h->events[0].key, "7");
  EXPECT_EQ(h->events[0].value, "-12");
  EXPECT_EQ(h->events[0].time, 1500u);
  EXPECT_EQ(h->events[1].value, "2.5");
}

TEST(History, ErrorsNameTheLineAndTheField) {
  struct Case {
    const char* line;
    const char* message;
  } cases[] = {
      {R"({"client":1,"type":"ok")", "line 2: not a JSON object"},
      {R"([1,2])", "line 2: not a JSON object"},
      {R"({"client":1,"type":"done","op":"read","key":"k","time":1})", "unknown type 'done'"},
      {R"({"client":-1,"type":"ok","op":"read","key":"k","time":1})",
       "client must be a non-negative integer"},
      {R"({"client":1,"type":"ok","op":"read","key":"k","time":"x"})", "time must be a number"},
      {R"({"client":1,"type":"ok","op":"swap","key":"k","time":1})", "unknown op 'swap'"},
      {R"({"client":1,"type":"ok","op":"cas","key":"k","value":"a","time":1})",
       "cas value must be [expected, new]"},
      {R"({"client":1,"type":"ok","op":"write","key":"k","value":{"a":1},"time":1})",
       "value must be a string, a number or null"},
      {R"({"client":1,"type":"ok","op":"write","key":[1],"value":"a","time":1})",
       "key must be a string"},
  };
  for (const Case& c : cases) {
    std::string text = "\n" + std::string(c.line) + "\n";  // line 1 is blank
    Result<History> h = ParseHistory(text);
    ASSERT_FALSE(h.ok()) << c.line;
    EXPECT_NE(h.status().message().find("line 2: "), std::string::npos) << h.status().message();
    EXPECT_NE(h.status().message().find(c.message), std::string::npos)
        << c.line << " -> " << h.status().message();
  }
}

TEST(History, FileReaderHandlesLinesLongerThanABlockAndNoFinalNewline) {
  std::string path = TempPath("long.jsonl");
  std::string big(40u << 20, 'x');  // longer than the reader's block
  {
    std::ofstream f(path, std::ios::binary);
    f << R"({"client":1,"type":"invoke","op":"read","key":"k","time":1})"
      << "\n\n";
    f << R"({"client":1,"type":"ok","op":"read","key":"k","value":")" << big << R"(","time":2})"
      << "\n";
    f << R"({"type":"final","node":1,"key":"k","value":"v"})";  // no newline
  }
  std::vector<uint64_t> lines;
  size_t value_size = 0;
  Status s = StreamHistoryFile(path, [&](const EventView& e) {
    lines.push_back(e.line);
    if (e.type == EventType::kOk) value_size = e.value->size();
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(lines, (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(value_size, big.size());
  Result<History> h = ReadHistory(path);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->events.size(), 3u);
  std::remove(path.c_str());
  EXPECT_EQ(ReadHistory(path).status().code(), Code::kIoError);
}

TEST(History, StreamStopsAtTheFirstErrorFromTheCallback) {
  int seen = 0;
  Status s = StreamHistoryText(R"({"type":"final","node":1,"key":"a","value":"1"})"
                               "\n"
                               R"({"type":"final","node":1,"key":"b","value":"1"})",
                               [&](const EventView&) {
                                 ++seen;
                                 return Status::Invalid("stop here");
                               });
  EXPECT_EQ(s.message(), "stop here");
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace rkv
