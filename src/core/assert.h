// Assertions that stay on in every build (Release included): a broken invariant
// in a replication core must stop the process, not corrupt data quietly.
#pragma once

namespace rkv {
[[noreturn]] void AssertFail(const char* expr, const char* file, int line, const char* msg);
}

#define RKV_ASSERT(cond)                                                                \
  do {                                                                                  \
    if (__builtin_expect(!(cond), 0)) ::rkv::AssertFail(#cond, __FILE__, __LINE__, ""); \
  } while (0)

#define RKV_ASSERT_MSG(cond, msg)                                                        \
  do {                                                                                   \
    if (__builtin_expect(!(cond), 0)) ::rkv::AssertFail(#cond, __FILE__, __LINE__, msg); \
  } while (0)
