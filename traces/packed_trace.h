#pragma once
/// PackedTrace: a generated trace held in memory in a compact byte encoding. An Instruction
/// struct is mostly zero fields (each op uses a few) plus a heap block for its dependencies,
/// and a prefill lowering emits millions of them. Here each instruction is the fields its op
/// uses, as variable-length integers, and its dependencies as distances back from its own id
/// (tests/bench/RESULTS.md, "Generated traces in memory").
///
/// The encoding is lossless: every field of every Instruction decodes to the value pushed, so a
/// simulation of the packed trace is the simulation of the vector. It is sequential only
/// (decode from the front), which is how the simulator, the validator and the writer read.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <vector>

#include "traces/isa.h"

namespace tpusim {

class PackedTrace {
 public:
  PackedTrace() = default;
  /// A moved-from trace is empty.
  PackedTrace(PackedTrace&& o) noexcept;
  PackedTrace& operator=(PackedTrace&& o) noexcept;
  PackedTrace(const PackedTrace&) = delete;
  PackedTrace& operator=(const PackedTrace&) = delete;

  void push_back(const Instruction& in);
  std::size_t size() const { return m_count; }
  bool empty() const { return m_count == 0; }
  /// Bytes of encoded instructions (the blocks' capacity is at most one block more).
  std::size_t encoded_bytes() const;
  /// Frees every block.
  void clear();
  /// The most bytes an instruction with `deps` dependencies can take.
  static std::size_t max_encoded_bytes(std::size_t deps);

  /// Decodes the instructions front to back.
  class Reader {
   public:
    Reader() = default;  ///< reads nothing
    explicit Reader(const PackedTrace& t) : m_trace(&t) {}
    /// Fills `out` (every field; `out.deps` keeps its capacity) with the next instruction;
    /// false at the end.
    bool next(Instruction& out);

   private:
    const PackedTrace* m_trace = nullptr;
    std::size_t m_block = 0;
    std::size_t m_pos = 0;
    std::uint64_t m_prev_id = ~std::uint64_t{0};
  };

  /// Input iterator, so that `for (const Instruction& in : trace)` reads the trace; the
  /// reference is valid until the iterator advances.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Instruction;
    using difference_type = std::ptrdiff_t;
    using pointer = const Instruction*;
    using reference = const Instruction&;

    Iterator() = default;
    explicit Iterator(const PackedTrace& t) : m_reader(t), m_more(true) { ++*this; }
    reference operator*() const { return m_in; }
    pointer operator->() const { return &m_in; }
    Iterator& operator++() {
      m_more = m_reader.next(m_in);
      return *this;
    }
    /// Only comparison with end() is meaningful (an input iterator).
    bool operator==(const Iterator& o) const { return m_more == o.m_more; }
    bool operator!=(const Iterator& o) const { return !(*this == o); }

   private:
    Reader m_reader;
    Instruction m_in;
    bool m_more = false;
  };
  Iterator begin() const { return Iterator(*this); }
  Iterator end() const { return Iterator(); }

  /// Every instruction as a vector (tests and small traces that want random access).
  std::vector<Instruction> unpack() const;

 private:
  struct Block {
    std::unique_ptr<std::uint8_t[]> data;
    std::size_t used = 0;
    std::size_t capacity = 0;
  };
  std::uint8_t* reserve(std::size_t max_bytes);

  std::vector<Block> m_blocks;
  std::size_t m_count = 0;
  std::uint64_t m_last_id = ~std::uint64_t{0};
};

}  // namespace tpusim
