// A task's dataset with the hashes it commits to: image classification from IDX
// files, or a text for a byte-level language model (proofwork-files(5), TASK).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/hash.hpp"
#include "train/task.hpp"

namespace pw {

struct Dataset {
  uint32_t count = 0, rows = 0, cols = 0, classes = 0;
  std::vector<uint8_t> images, labels;            // (count, rows·cols), (count)
  std::vector<uint8_t> test_images, test_labels;  // empty when no test set
  uint32_t test_count = 0;
  Hash images_hash{}, labels_hash{}, test_images_hash{}, test_labels_hash{};
  Hash content_hash{}, sample_root{};
  // A text dataset (count: its window starts, len − T): the bytes, whole, and their hashes.
  std::vector<uint8_t> text, val_text;
  Hash text_hash{}, val_text_hash{};
  int features() const { return int(rows * cols); }
};

// A text file read whole (at most kMaxTextBytes), its BLAKE2b-256 in `hash`; an empty
// file, or one shorter than `min_bytes`, is bad input naming it.
std::vector<uint8_t> read_text(const std::string& path, uint64_t min_bytes, Hash& hash, const std::string& what);

// Reads and checks the files (labels < classes, counts agree). `classes` 0 means
// "as many as the largest label + 1".
Dataset load_dataset(const std::string& train_images, const std::string& train_labels,
                     const std::string& test_images, const std::string& test_labels, uint32_t classes);

// The task's dataset, each file found at its recorded path or, with `data_dir`,
// under that directory by its base name; every hash is checked against the task
// (mismatch: bad input, exit 3).
Dataset load_task_dataset(const TaskConfig& c, const std::string& data_dir);
// The same files read and hashed, but not checked against the task.
Dataset load_task_files(const TaskConfig& c, const std::string& data_dir);

// The writer's side of the same commitments (pol-task): reads the files `c` names
// (labels below the model's output width), and records in `c` each file's hash, the
// content hash, the sample Merkle root, the sample count, the image shape and the
// classes; a cut's sample count follows. Throws bad input on an unreadable or
// malformed file.
Dataset commit_dataset(TaskConfig& c);

}  // namespace pw
