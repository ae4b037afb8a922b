#include "train/dataset.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/idx.hpp"

namespace pw {

namespace {
void load_pair(const std::string& ip, const std::string& lp, uint32_t& count, uint32_t& rows, uint32_t& cols,
               std::vector<uint8_t>& images, std::vector<uint8_t>& labels, Hash& ih, Hash& lh) {
  IdxArray im = read_idx(ip, "images");
  IdxArray lb = read_idx(lp, "labels");
  check_input(im.dims.size() == 3, "images '" + ip + "': expected 3 dimensions (count, rows, cols)");
  check_input(lb.dims.size() == 1, "labels '" + lp + "': expected 1 dimension");
  check_input(im.dims[0] == lb.dims[0], "images '" + ip + "' hold " + std::to_string(im.dims[0]) + " samples but labels '" +
                                            lp + "' " + std::to_string(lb.dims[0]));
  check_input(im.dims[0] >= 1, "images '" + ip + "': no samples");
  count = im.dims[0];
  rows = im.dims[1];
  cols = im.dims[2];
  ih = blake2b(im.raw.data(), im.raw.size());
  lh = blake2b(lb.raw.data(), lb.raw.size());
  images = std::move(im.data);
  labels = std::move(lb.data);
}
}  // namespace

Dataset load_dataset(const std::string& train_images, const std::string& train_labels,
                     const std::string& test_images, const std::string& test_labels, uint32_t classes) {
  Dataset d;
  load_pair(train_images, train_labels, d.count, d.rows, d.cols, d.images, d.labels, d.images_hash, d.labels_hash);
  const uint8_t max_label = *std::max_element(d.labels.begin(), d.labels.end());
  d.classes = classes ? classes : uint32_t(max_label) + 1;
  check_input(max_label < d.classes, "labels '" + train_labels + "': label " + std::to_string(max_label) +
                                         " but only " + std::to_string(d.classes) + " classes");
  if (!test_images.empty()) {
    uint32_t r, c;
    load_pair(test_images, test_labels, d.test_count, r, c, d.test_images, d.test_labels, d.test_images_hash,
              d.test_labels_hash);
    check_input(r == d.rows && c == d.cols, "test images '" + test_images + "' differ in size from the training images");
    for (uint8_t y : d.test_labels)
      check_input(y < d.classes, "test labels '" + test_labels + "': label " + std::to_string(y) + " out of range");
  }
  Hasher ch;
  ch.update(d.images_hash.data(), 32).update(d.labels_hash.data(), 32);
  d.content_hash = ch.final();
  std::vector<Hash> leaves(d.count);
  const size_t F = size_t(d.rows) * d.cols;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < int64_t(d.count); i++)
    leaves[size_t(i)] = Hasher().update(d.images.data() + size_t(i) * F, F).update(&d.labels[size_t(i)], 1).final();
  d.sample_root = merkle_root(leaves);
  return d;
}

namespace {
std::string task_file_path(const std::string& recorded, const std::string& data_dir) {
  return data_dir.empty() || recorded.empty() ? recorded : join_path(data_dir, base_name(recorded));
}
}  // namespace

std::vector<uint8_t> read_text(const std::string& path, uint64_t min_bytes, Hash& hash, const std::string& what) {
  Bytes b = read_file(path, size_t(kMaxTextBytes), what);
  check_input(!b.empty(), what + " '" + path + "' is empty");
  check_input(b.size() >= min_bytes, what + " '" + path + "' holds " + std::to_string(b.size()) +
                                         " bytes, shorter than one window of context + 1 = " + std::to_string(min_bytes));
  hash = blake2b(b.data(), b.size());
  return b;
}

namespace {
// A text task's texts, read and hashed; with `c`'s hashes and lengths, checked too.
Dataset load_texts(const TaskConfig& c, const std::string& data_dir, bool check) {
  auto where = [&](const std::string& p) { return task_file_path(p, data_dir); };
  const uint64_t window = uint64_t(c.gpt.context) + 1;
  Dataset d;
  auto same = [&](const std::vector<uint8_t>& got, const Hash& h, const Hash& want, uint64_t len, const std::string& what) {
    if (!check) return;
    check_input(h == want, "dataset: " + what + " hash " + hex(h) + " differs from the task's " + hex(want) +
                               " (another text or a modified file)");
    check_input(got.size() == len, "dataset: " + what + " holds " + std::to_string(got.size()) + " bytes, the task says " +
                                       std::to_string(len));
  };
  d.text = read_text(where(c.text), window, d.text_hash, "text");
  same(d.text, d.text_hash, c.text_hash, c.text_length, "text '" + where(c.text) + "'");
  if (!c.val_text.empty()) {
    d.val_text = read_text(where(c.val_text), window, d.val_text_hash, "validation text");
    same(d.val_text, d.val_text_hash, c.val_text_hash, c.val_text_length, "validation text '" + where(c.val_text) + "'");
  }
  d.count = uint32_t(std::min<uint64_t>(d.text.size() - uint64_t(c.gpt.context), UINT32_MAX));
  d.content_hash = d.text_hash;
  return d;
}
}  // namespace

Dataset load_task_files(const TaskConfig& c, const std::string& data_dir) {
  if (c.is_gpt()) return load_texts(c, data_dir, false);
  auto where = [&](const std::string& p) { return task_file_path(p, data_dir); };
  return load_dataset(where(c.train_images), where(c.train_labels), where(c.test_images), where(c.test_labels), c.classes);
}

Dataset load_task_dataset(const TaskConfig& c, const std::string& data_dir) {
  if (c.is_gpt()) return load_texts(c, data_dir, true);
  auto where = [&](const std::string& p) { return task_file_path(p, data_dir); };
  Dataset d = load_task_files(c, data_dir);
  auto same = [&](const Hash& got, const Hash& want, const std::string& what) {
    check_input(got == want, "dataset: " + what + " hash " + hex(got) + " differs from the task's " + hex(want) +
                                 " (another dataset or a modified file)");
  };
  same(d.images_hash, c.train_images_hash, "train images '" + where(c.train_images) + "'");
  same(d.labels_hash, c.train_labels_hash, "train labels '" + where(c.train_labels) + "'");
  same(d.content_hash, c.content_hash, "content");
  same(d.sample_root, c.sample_root, "sample Merkle root");
  if (!c.test_images.empty()) {
    same(d.test_images_hash, c.test_images_hash, "test images '" + where(c.test_images) + "'");
    same(d.test_labels_hash, c.test_labels_hash, "test labels '" + where(c.test_labels) + "'");
  }
  check_input(d.count == c.count && d.rows == c.rows && d.cols == c.cols, "dataset: shape differs from the task's");
  return d;
}

Dataset commit_dataset(TaskConfig& c) {
  if (c.is_gpt()) {
    check_input(c.gpt.context >= 1 && c.gpt.context <= kMaxGptContext, "task: GPT context must be 1 to " + std::to_string(kMaxGptContext));
    Dataset d = load_texts(c, "", false);
    c.text_hash = d.text_hash;
    c.text_length = d.text.size();
    c.val_text_hash = d.val_text_hash;
    c.val_text_length = d.val_text.size();
    c.content_hash = d.content_hash;
    return d;
  }
  const uint32_t classes = c.widths.empty() ? 0 : uint32_t(std::max(c.widths.back(), 0));
  Dataset d = load_dataset(c.train_images, c.train_labels, c.test_images, c.test_labels, classes);
  c.train_images_hash = d.images_hash;
  c.train_labels_hash = d.labels_hash;
  c.test_images_hash = d.test_images_hash;
  c.test_labels_hash = d.test_labels_hash;
  c.content_hash = d.content_hash;
  c.sample_root = d.sample_root;
  c.count = d.count;
  c.rows = d.rows;
  c.cols = d.cols;
  c.classes = d.classes;
  c.cut.samples = d.count;
  return d;
}

}  // namespace pw
