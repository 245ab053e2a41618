#pragma once
// A read-only memory mapping of a whole file. Weights are read straight from the mapping, so the
// process's resident memory for them is the page cache, shared with every other mapping of the file.
// With map = false the file is instead read into private anonymous memory (huge pages where the kernel
// allows): a copy, like llama.cpp's --no-mmap, for systems where file-backed pages read slowly (some VMs
// read page-cache mappings at a fraction of RAM bandwidth, which bounds decode speed).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace presskv {

class MmapFile {
 public:
  // Throws EngineError NotFound (missing / unreadable path) or CorruptFile (not a regular file).
  static std::shared_ptr<MmapFile> open(const std::string& path, bool map = true);
  ~MmapFile();
  MmapFile(const MmapFile&) = delete;
  MmapFile& operator=(const MmapFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MmapFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  uint64_t mapped_bytes_ = 0;
};

}  // namespace presskv
