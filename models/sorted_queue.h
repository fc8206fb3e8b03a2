#pragma once
/// A queue kept sorted by a key, for event times that arrive almost in order (a DMA engine's
/// request completions, its loaded data waiting for SRAM). Insertion scans from the back, so an
/// in-order arrival costs O(1) and popping the minimum is O(1); a binary heap pays O(log n) for
/// both on every request. Equal keys leave in arrival order, which makes the result independent
/// of any standard library's heap layout.

#include <cstddef>
#include <vector>

namespace tpusim {

/// `KeyOf` maps an element to its ordering key (a `T` itself by default).
template <class T, class KeyOf>
class SortedQueue {
 public:
  bool empty() const { return m_count == 0; }
  std::size_t size() const { return m_count; }
  void clear() {
    m_head = 0;
    m_count = 0;
  }
  /// The element with the smallest key (the earliest inserted among equals).
  const T& front() const { return at(0); }
  void pop_front() {
    m_head = (m_head + 1) & m_mask;
    --m_count;
  }
  void push(const T& x) {
    if (m_count == m_buf.size()) grow();
    const auto k = KeyOf{}(x);
    std::size_t i = m_count;
    // Shift larger keys up by one; stop at the first key <= k so equal keys keep their order.
    while (i > 0 && k < KeyOf{}(at(i - 1))) {
      at(i) = at(i - 1);
      --i;
    }
    at(i) = x;
    ++m_count;
  }

 private:
  T& at(std::size_t i) { return m_buf[(m_head + i) & m_mask]; }
  const T& at(std::size_t i) const { return m_buf[(m_head + i) & m_mask]; }
  void grow() {
    // Unroll the ring into a buffer twice the size (a power of two, so indices wrap by mask).
    std::vector<T> next(m_buf.empty() ? 16 : m_buf.size() * 2);
    for (std::size_t i = 0; i < m_count; ++i)
      next[i] = at(i);
    m_buf.swap(next);
    m_head = 0;
    m_mask = m_buf.size() - 1;
  }

  std::vector<T> m_buf;
  std::size_t m_head = 0;
  std::size_t m_count = 0;
  std::size_t m_mask = 0;
};

}  // namespace tpusim
