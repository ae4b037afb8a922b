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

Dataset load_task_files(const TaskConfig& c, const std::string& data_dir) {
  auto where = [&](const std::string& p) { return task_file_path(p, data_dir); };
  return load_dataset(where(c.train_images), where(c.train_labels), where(c.test_images), where(c.test_labels), c.classes);
}

Dataset load_task_dataset(const TaskConfig& c, const std::string& data_dir) {
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
