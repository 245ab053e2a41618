#include "press/artefacts.h"

#include <cstring>
#include <fstream>

#include "core/errors.h"
#include "core/half.h"

namespace presskv::press {

namespace {
std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError(ErrorCode::NotFound, "artefact file not found: " + path);
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  std::vector<char> bytes(size > 0 ? (size_t)size : 0);
  if (size > 0 && !in.read(bytes.data(), size)) throw EngineError(ErrorCode::CorruptFile, "cannot read " + path);
  return bytes;
}
[[noreturn]] void corrupt(const std::string& path, const std::string& why) {
  throw EngineError(ErrorCode::CorruptFile, path + ": " + why);
}
}  // namespace

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Safetensors Safetensors::open(const std::string& path) {
  Safetensors f;
  f.path_ = path;
  f.bytes_ = read_file(path);
  if (f.bytes_.size() < 8) corrupt(path, "not a safetensors file (shorter than its 8-byte header length)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | (uint8_t)f.bytes_[i];
  if (header_len > f.bytes_.size() - 8) corrupt(path, "safetensors header length exceeds the file");
  f.header_ = parse_json(f.bytes_.data() + 8, (size_t)header_len, path);
  if (!f.header_.is_object()) corrupt(path, "safetensors header is not a JSON object");
  f.data_start_ = 8 + (size_t)header_len;
  return f;
}

bool Safetensors::has(const std::string& name) const { return header_.find(name) != nullptr; }

std::vector<float> Safetensors::tensor_f32(const std::string& name, std::vector<int64_t>& shape_out) const {
  const JsonValue* entry = header_.find(name);
  if (!entry || !entry->is_object()) corrupt(path_, "tensor \"" + name + "\" is missing");
  const JsonValue* dtype = entry->find("dtype");
  const JsonValue* shape = entry->find("shape");
  const JsonValue* offsets = entry->find("data_offsets");
  if (!dtype || !dtype->is_string() || !shape || !shape->is_array() || !offsets || !offsets->is_array() ||
      offsets->array.size() != 2)
    corrupt(path_, "tensor \"" + name + "\" has a malformed header entry");
  size_t element_size;
  if (dtype->string == "F32") element_size = 4;
  else if (dtype->string == "F16" || dtype->string == "BF16") element_size = 2;
  else corrupt(path_, "tensor \"" + name + "\" has unsupported dtype " + dtype->string + " (F32, F16, BF16 only)");
  shape_out.clear();
  uint64_t count = 1;
  for (const JsonValue& dim : shape->array) {
    if (!dim.is_number() || dim.number < 0 || dim.number != (double)(int64_t)dim.number || dim.number > 1e12)
      corrupt(path_, "tensor \"" + name + "\" has a bad shape");
    shape_out.push_back((int64_t)dim.number);
    count *= (uint64_t)dim.number;
    if (count > ((uint64_t)1 << 40)) corrupt(path_, "tensor \"" + name + "\" is too large");
  }
  for (const JsonValue& o : offsets->array)
    if (!o.is_number() || o.number < 0 || o.number != (double)(uint64_t)o.number)
      corrupt(path_, "tensor \"" + name + "\" has bad data_offsets");
  const uint64_t begin = (uint64_t)offsets->array[0].number, end = (uint64_t)offsets->array[1].number;
  if (end < begin || end - begin != count * element_size || end > bytes_.size() - data_start_)
    corrupt(path_, "tensor \"" + name + "\" data_offsets do not match its shape or exceed the file");
  const char* data = bytes_.data() + data_start_ + begin;
  std::vector<float> out((size_t)count);
  for (uint64_t i = 0; i < count; ++i) {
    if (element_size == 4) {
      std::memcpy(&out[i], data + i * 4, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, data + i * 2, 2);
      out[i] = dtype->string == "F16" ? f16_to_f32(h) : bf16_to_f32(h);
    }
  }
  return out;
}

std::vector<float> Safetensors::tensor_f32(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  std::vector<int64_t> shape;
  std::vector<float> data = tensor_f32(name, shape);
  if (shape != expected_shape)
    corrupt(path_, "tensor \"" + name + "\" has shape " + shape_text(shape) + ", expected " + shape_text(expected_shape));
  return data;
}

JsonValue read_json_file(const std::string& path) {
  std::vector<char> bytes = read_file(path);
  return parse_json(bytes.data(), bytes.size(), path);
}

}  // namespace presskv::press
