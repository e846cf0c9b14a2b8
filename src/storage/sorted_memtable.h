// A RocksDB memtable representation for column families written on every
// write and read rarely (the log and the applied state's durable copy): an
// insert appends to a vector, and the memtable is sorted once, when its flush
// (or a rare reader) first iterates it — as RocksDB's VectorRep does. Unlike
// VectorRep, each element carries the first 8 bytes of its user key, so the
// sort compares integers held in the vector and reads an entry only on a tie.
// VectorRep's sort dereferenced two entries per comparison, each a cache miss:
// perf put 18% of all CPU under a pipelined load in that sort
// (docs/PERFORMANCE.md).
//
// Requires the bytewise comparator (the default), whose order the 8-byte
// prefix respects, and one writer at a time (allow_concurrent_memtable_write
// off). No point lookups: RocksDB's default MemTableRep::Get, which DB::Get
// reaches, leaks an iterator per call, and overriding it needs LookupKey,
// which is not public. Read these families by iterator (the engine does).
// An iterator RocksDB asks to be placed in its arena (a flush, a DB iterator)
// is allocated by the memtable and freed with it: bounded by the iterators
// opened over one memtable's life, a handful here.
#pragma once

#include <memory>

namespace rocksdb {
class MemTableRepFactory;
}

namespace rkv {

std::shared_ptr<rocksdb::MemTableRepFactory> NewSortedMemTableFactory();

}  // namespace rkv
