#pragma once
/// A queue kept sorted by a key, for event times that arrive almost in order (a DMA engine's
/// request completions, its loaded data waiting for SRAM). Elements live contiguously; popping
/// the minimum is O(1) and an insertion finds its place from the back and shifts the few later
/// elements with one memmove, which beats a binary heap's O(log n) sifts on every request both
/// for streams (in order) and for gathers (a few dozen places out of order). Equal keys leave in
/// arrival order, which makes results independent of any standard library's heap layout.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tpusim {

/// `KeyOf` maps an element to its ordering key. `T` must be trivially copyable.
template <class T, class KeyOf>
class SortedQueue {
 public:
  bool empty() const { return m_head == m_tail; }
  std::size_t size() const { return m_tail - m_head; }
  void clear() { m_head = m_tail = 0; }
  /// Replaces the contents with `n` copies of `x` (all equal, so already sorted).
  void fill(std::size_t n, const T& x) {
    if (m_buf.size() < n) m_buf.resize(n);
    std::fill(m_buf.begin(), m_buf.begin() + static_cast<std::ptrdiff_t>(n), x);
    m_head = 0;
    m_tail = n;
  }
  /// The element with the smallest key (the earliest inserted among equals).
  const T& front() const { return m_buf[m_head]; }
  void pop_front() {
    if (++m_head == m_tail) m_head = m_tail = 0;
  }
  void push(const T& x) {
    if (m_tail == m_buf.size()) make_room();
    const auto k = KeyOf{}(x);
    const auto later = [](const auto& key, const T& e) { return key < KeyOf{}(e); };
    // Usually x goes at or near the back: look there first, then binary search.
    std::size_t pos = m_tail;
    const std::size_t near = m_tail - std::min<std::size_t>(m_tail - m_head, 8);
    while (pos > near && later(k, m_buf[pos - 1]))
      --pos;
    if (pos == near && pos > m_head && later(k, m_buf[pos - 1]))
      pos = static_cast<std::size_t>(
          std::upper_bound(m_buf.begin() + static_cast<std::ptrdiff_t>(m_head),
                           m_buf.begin() + static_cast<std::ptrdiff_t>(pos), k, later) -
          m_buf.begin());
    // upper_bound keeps equal keys in arrival order: x goes after every key <= k.
    std::copy_backward(m_buf.begin() + static_cast<std::ptrdiff_t>(pos),
                       m_buf.begin() + static_cast<std::ptrdiff_t>(m_tail),
                       m_buf.begin() + static_cast<std::ptrdiff_t>(m_tail + 1));
    m_buf[pos] = x;
    ++m_tail;
  }

 private:
  void make_room() {
    const std::size_t n = size();
    // Grow while more than half full, so compactions stay amortised O(1) per push.
    if (2 * n >= m_buf.size()) {
      std::vector<T> next(std::max<std::size_t>(16, 2 * m_buf.size()));
      std::copy(m_buf.begin() + static_cast<std::ptrdiff_t>(m_head),
                m_buf.begin() + static_cast<std::ptrdiff_t>(m_tail), next.begin());
      m_buf.swap(next);
    } else {
      std::copy(m_buf.begin() + static_cast<std::ptrdiff_t>(m_head),
                m_buf.begin() + static_cast<std::ptrdiff_t>(m_tail), m_buf.begin());
    }
    m_head = 0;
    m_tail = n;
  }

  std::vector<T> m_buf;
  std::size_t m_head = 0;  ///< first live element
  std::size_t m_tail = 0;  ///< one past the last
};

}  // namespace tpusim
