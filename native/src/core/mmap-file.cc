#include "core/mmap-file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/errors.h"

namespace presskv {

std::shared_ptr<MmapFile> MmapFile::open(const std::string& path, bool map) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw EngineError(err == ENOENT ? ErrorCode::NotFound : ErrorCode::InvalidArgument,
                      "cannot open model file '" + path + "': " + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw EngineError(ErrorCode::CorruptFile, "model file '" + path + "' is not a regular file");
  }
  std::shared_ptr<MmapFile> file(new MmapFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ > 0 && map) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw EngineError(ErrorCode::Internal, "cannot map model file '" + path + "': " + std::strerror(err));
    }
    file->data_ = static_cast<const uint8_t*>(p);
    file->mapped_bytes_ = file->size_;
  } else if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw EngineError(ErrorCode::OutOfMemory,
                        "cannot allocate " + std::to_string(file->size_) + " bytes to load '" + path + "'");
    }
#ifdef MADV_HUGEPAGE
    ::madvise(p, file->size_, MADV_HUGEPAGE);
#endif
    file->data_ = static_cast<const uint8_t*>(p);  // owned from here on: the destructor unmaps it
    file->mapped_bytes_ = file->size_;
    uint64_t done = 0;
    while (done < file->size_) {
      const ssize_t n = ::pread(fd, static_cast<uint8_t*>(p) + done, file->size_ - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = n < 0 ? errno : EIO;
        ::close(fd);
        throw EngineError(ErrorCode::CorruptFile, "cannot read model file '" + path + "': " + std::strerror(err));
      }
      done += static_cast<uint64_t>(n);
    }
    ::mprotect(p, file->size_, PROT_READ);
  }
  ::close(fd);  // the mapping keeps the file alive
  return file;
}

MmapFile::~MmapFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), mapped_bytes_);
}

}  // namespace presskv
