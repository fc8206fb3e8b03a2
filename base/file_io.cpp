#include "base/file_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <utility>

#include "base/error.h"

namespace tpusim {

AtomicFile::AtomicFile(std::string path) : m_path(std::move(path)) {
  if (m_path == "-") return;
  // POSIX calls rather than an ofstream: every failure (open, a short write on a full disk,
  // fsync, close) is seen and named, and the data is on disk before the rename makes it visible,
  // so even a crash of the machine leaves the old file or the whole new one.
  m_tmp = m_path + ".tmp." + std::to_string(::getpid());
  m_fd = ::open(m_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (m_fd < 0) throw UserError(fmt::format("cannot write '{}': {}", m_path, std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
  if (m_fd < 0) return;
  ::close(m_fd);
  ::unlink(m_tmp.c_str());
}

void AtomicFile::fail(const char* step, int err) {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  ::unlink(m_tmp.c_str());
  throw UserError(
      fmt::format("cannot write '{}': {} failed: {}", m_path, step, std::strerror(err)));
}

void AtomicFile::write(std::string_view s) {
  if (m_path == "-") {
    std::cout << s;
    if (!std::cout) throw UserError("cannot write to stdout");
    return;
  }
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(m_fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write", n < 0 ? errno : EIO);
    off += static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (m_path == "-") {
    std::cout << std::flush;
    if (!std::cout) throw UserError("cannot write to stdout");
    return;
  }
  // EINVAL/EROFS: the target does not support syncing (a pipe, /dev/null); nothing to lose.
  if (::fsync(m_fd) != 0 && errno != EINVAL && errno != EROFS) fail("fsync", errno);
  const int fd = m_fd;
  m_fd = -1;  // closed below whatever close returns
  if (::close(fd) != 0) fail("close", errno);
  if (std::rename(m_tmp.c_str(), m_path.c_str()) != 0) fail("rename", errno);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

void write_all_fd(int fd, std::string_view s, const std::string& what) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n > 0)
      off += static_cast<std::size_t>(n);
    else if (n < 0 && errno != EINTR)
      throw UserError(fmt::format("cannot write '{}': {}", what, std::strerror(errno)));
  }
}

std::vector<std::string> read_all_fds(const std::vector<int>& fds,
                                      const std::function<void()>& while_waiting) {
  std::vector<std::string> out(fds.size());
  std::vector<pollfd> open;
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    open.push_back({fds[i], POLLIN, 0});
    which.push_back(i);
  }
  char buf[65536];
  while (!open.empty()) {
    const int ready = ::poll(open.data(), open.size(), while_waiting ? 250 : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;  // stop at the first other error (EINTR retried)
    }
    if (while_waiting) while_waiting();
    if (ready == 0) continue;
    for (std::size_t k = open.size(); k-- > 0;) {
      if (open[k].revents == 0) continue;
      const ssize_t n = ::read(open[k].fd, buf, sizeof buf);
      if (n > 0) {
        out[which[k]].append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));
        which.erase(which.begin() + static_cast<std::ptrdiff_t>(k));
      }
    }
  }
  return out;
}

}  // namespace tpusim
