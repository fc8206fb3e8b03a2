#pragma once
/// File and descriptor output that never loses data silently: every short write and every
/// failing step is seen and named.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tpusim {

/// Writes `content` to `path` through a temporary file and a rename, so a killed run leaves the
/// old file or none. "-" writes to stdout. Throws UserError naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& content);

/// True when AtomicFile writes `path` directly rather than through a rename: "-", an existing
/// path that is not a regular file (/dev/null, a FIFO), or one named under /dev or /proc.
bool written_as_stream(const std::string& path);

/// The file an AtomicFile on `path` replaces: the file a symbolic link names, else `path`.
std::string replaced_file_of(const std::string& path);

/// A file written in pieces that appears whole or not at all: the pieces go to a temporary file
/// beside `path`, and commit() syncs it and renames it over `path`. Destroyed without commit()
/// (an error on the way), it removes the temporary. "-" writes to stdout. A symbolic link's file
/// is replaced, not the link; a path that is not a regular file (/dev/null, a FIFO) or that is
/// named under /dev or /proc (/dev/stdout) is written directly, as a stream. Every step that fails
/// throws UserError naming the path.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view s);
  void commit();

 private:
  [[noreturn]] void fail(const char* step, int err);

  std::string m_path;    ///< as the user gave it (messages)
  std::string m_target;  ///< the file the rename replaces (a link's target)
  std::string m_tmp;     ///< empty: written in place
  int m_fd = -1;
};

/// Writes all of `s` to `fd`, retrying short writes and EINTR. Throws UserError naming `what`
/// (a path or "pipe") when the descriptor refuses.
void write_all_fd(int fd, std::string_view s, const std::string& what);

/// Reads every descriptor to end of file at the same time (poll), so several writers each
/// blocked on a full pipe cannot wait on one another; texts in the order of `fds`. While it
/// waits, `while_waiting` (if set) is called every quarter of a second (a progress line).
std::vector<std::string> read_all_fds(const std::vector<int>& fds,
                                      const std::function<void()>& while_waiting = {});

}  // namespace tpusim
