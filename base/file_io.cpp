#include "base/file_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <utility>

#include "base/error.h"

namespace tpusim {

namespace {

// The descriptor a /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N path names, or -1.
int open_descriptor_of(const std::string& path) {
  if (path == "/dev/stdout") return STDOUT_FILENO;
  if (path == "/dev/stderr") return STDERR_FILENO;
  for (const char* prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    const std::string p = prefix;
    if (path.rfind(p, 0) != 0 || path.size() == p.size() || path.size() > p.size() + 6) continue;
    int fd = 0;
    for (std::size_t i = p.size(); i < path.size(); ++i) {
      if (path[i] < '0' || path[i] > '9') return -1;
      fd = fd * 10 + (path[i] - '0');
    }
    return fd;
  }
  return -1;
}

}  // namespace

bool written_as_stream(const std::string& path) {
  struct stat st {};
  if (path == "-") return true;
  if (::stat(path.c_str(), &st) != 0) return false;
  return !S_ISREG(st.st_mode) || path.rfind("/dev/", 0) == 0 || path.rfind("/proc/", 0) == 0;
}

std::string replaced_file_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) return path;  // a dangling link: created through it
  std::string target = real;
  std::free(real);
  return target;
}

AtomicFile::AtomicFile(std::string path) : m_path(std::move(path)) {
  if (m_path == "-") return;
  // Something that is not a file (/dev/null, a terminal, a FIFO) is written into directly: a
  // rename would replace the device or the pipe with a regular file. So is anything named
  // under /dev or /proc: /dev/stdout of `tpusim run -o /dev/stdout >> log` resolves to the log
  // file, which a rename would replace rather than append to.
  if (written_as_stream(m_path)) {
    // An open descriptor named by path (/dev/stdout, /dev/fd/3) is written through that
    // descriptor, so its offset and append mode hold; reopening the path would start at 0.
    const int fd = open_descriptor_of(m_path);
    if (fd == STDOUT_FILENO) {
      std::cout.flush();  // what was printed before comes first
      std::fflush(stdout);
    }
    m_fd = fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : ::open(m_path.c_str(), O_WRONLY | O_CLOEXEC);
    if (m_fd < 0)
      throw UserError(fmt::format("cannot write '{}': {}", m_path, std::strerror(errno)));
    return;
  }
  const std::string target = replaced_file_of(m_path);
  // POSIX calls rather than an ofstream: every failure (open, a short write on a full disk,
  // fsync, close) is seen and named, and the data is on disk before the rename makes it visible,
  // so even a crash of the machine leaves the old file or the whole new one.
  m_target = target;
  m_tmp = target + ".tmp." + std::to_string(::getpid());
  m_fd = ::open(m_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (m_fd < 0) throw UserError(fmt::format("cannot write '{}': {}", m_path, std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
  if (m_fd < 0) return;
  ::close(m_fd);
  if (!m_tmp.empty()) ::unlink(m_tmp.c_str());
}

void AtomicFile::fail(const char* step, int err) {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  if (!m_tmp.empty()) ::unlink(m_tmp.c_str());
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
  if (m_tmp.empty()) return;  // written in place: not a file
  if (std::rename(m_tmp.c_str(), m_target.c_str()) != 0) fail("rename", errno);
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
