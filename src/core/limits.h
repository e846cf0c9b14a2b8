// Every queue, buffer, batch and retry bound in one place. Units last in names.
// Client-protocol limits are at least as generous as Redis 7's defaults; limits
// Redis lacks (key size) are ours and their errors name them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rkv::limits {

// --- client protocol (RESP) ---
// Redis: PROTO_INLINE_MAX_SIZE. Also bounds a multibulk or bulk count line.
inline constexpr size_t kInlineRequestBytesMax = 64 * 1024;
// Redis: proto-max-bulk-len default 512 MB.
inline constexpr int64_t kBulkBytesMax = 512LL * 1024 * 1024;
// Redis accepts multibulk counts up to INT_MAX; arguments are only allocated as
// they arrive, so the count itself costs nothing.
inline constexpr int64_t kMultibulkCountMax = 2147483647LL;
// Redis: client-query-buffer-limit default 1 GB; a client past it is closed.
inline constexpr size_t kClientQueryBufferBytesMax = 1024ULL * 1024 * 1024;
// Reply bytes queued for one client before it is considered too slow and closed
// (Redis: client-output-buffer-limit normal is unlimited; we bound it).
inline constexpr size_t kClientReplyBufferBytesMax = 1024ULL * 1024 * 1024;
// Commands queued inside one MULTI before EXEC.
inline constexpr size_t kMultiQueuedCommandsMax = 1024 * 1024;
// Open SCAN results: keys returned per SCAN call regardless of COUNT.
inline constexpr size_t kScanCountMax = 100000;
inline constexpr size_t kClientNameBytesMax = 1024;

// --- data model ---
// Not a Redis limit: keys are stored in an ordered engine and carried in every
// replication message, so we bound them. The error text names this limit.
inline constexpr size_t kKeyBytesMax = 64 * 1024;
// Same as Redis's proto-max-bulk-len: the largest string value.
inline constexpr size_t kValueBytesMax = 512ULL * 1024 * 1024;

// --- storage ---
// Writes gathered into one group commit (one sync) at most.
inline constexpr size_t kGroupCommitWritesMax = 4096;
// Client writes proposed as one log entry (one event-loop turn's): at most
// this many requests, and no more once their commands reach the byte bound
// (a larger single write is an entry of its own).
inline constexpr size_t kEntryRequestsMax = 1024;
inline constexpr size_t kEntryBatchBytesMax = 256 * 1024;
inline constexpr size_t kGroupCommitBytesMax = 64ULL * 1024 * 1024;
// Writes waiting for the storage thread before producers are told to slow down.
inline constexpr size_t kStorageQueueWritesMax = 65536;

// --- connections ---
inline constexpr size_t kClientConnectionsMax = 10000;

}  // namespace rkv::limits
