// util/resource_limits: every cap refuses one past it with one message naming
// the file, the claim and the limit, and accepts the limit itself; each reader
// routes its claims through it (crafted files here; the GGUF and safetensors
// ones in test_gguf.cpp, test_safetensors.cpp and test_hostile_inputs.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "io/llama2c_tokenizer_file.hpp"
#include "model/config.hpp"
#include "text/hf_tokenizer_json.hpp"
#include "util/error.hpp"
#include "util/resource_limits.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace ctscope;
using namespace ctscope::test_support;

namespace {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

nlohmann::json small_config() {
  return {{"model_type", "llama"},     {"hidden_size", 8},           {"intermediate_size", 16},
          {"num_hidden_layers", 1},    {"num_attention_heads", 2},   {"vocab_size", 4}};
}

}  // namespace

TEST(ResourceLimits, OnePastTheLimitIsRefusedWithFileClaimAndLimit) {
  EXPECT_NO_THROW(limits::check("f.bin", "tensor count", 10, 10, "why"));
  EXPECT_EQ(error_of([] { limits::check("f.bin", "tensor count", 11, 10, "tensors in one file"); }),
            "f.bin: tensor count 11 is over the limit of 10 (tensors in one file)");
  EXPECT_NO_THROW(limits::check_name("f.bin", "tensor name", std::string(limits::kMaxNameBytes, 'n')));
  const std::string long_name = error_of(
      [] { limits::check_name("f.bin", "tensor name", std::string(limits::kMaxNameBytes + 1, 'n')); });
  EXPECT_EQ(long_name.rfind("f.bin: a tensor name of 1025 bytes is over the limit of 1024", 0), 0u) << long_name;
  EXPECT_LT(long_name.size(), 200u);
}

TEST(ResourceLimits, AllocationsAreBoundedByTheMachinesMemory) {
  const uint64_t avail = limits::available_memory();
  ASSERT_GT(avail, 0u);
  ASSERT_LT(avail, UINT64_MAX / 4);  // read from /proc/meminfo or sysconf, not the fallback
  EXPECT_NO_THROW(limits::check_allocation("f.bin", "a buffer", 1 << 20));
  const std::string e = error_of([&] { limits::check_allocation("f.bin", "a KV cache", avail * 2); });
  EXPECT_EQ(e.rfind("f.bin: a KV cache would take ", 0), 0u) << e;
  EXPECT_NE(e.find("GB of memory available"), std::string::npos) << e;
}

TEST(ResourceLimits, ConfigDimensionsAndVocabulary) {
  nlohmann::json c = small_config();
  EXPECT_NO_THROW(from_hf_config(c, "config.json"));
  c["vocab_size"] = limits::kMaxVocab + 1;
  EXPECT_EQ(error_of([&] { from_hf_config(c, "config.json"); }),
            "config.json: vocab_size 16777217 is over the limit of 16777216 (token ids index tables)");
  c = small_config();
  c["num_hidden_layers"] = int64_t{1} << 40;
  EXPECT_EQ(error_of([&] { from_hf_config(c, "config.json"); }),
            "config.json: num_hidden_layers 1099511627776 is over the limit of 2147483647 (one dimension)");
  // The context length sizes nothing until a run asks for positions: no cap here.
  c = small_config();
  c["max_position_embeddings"] = int64_t{1} << 61;
  EXPECT_NO_THROW(from_hf_config(c, "config.json"));
}

TEST(ResourceLimits, TokenizerFiles) {
  TempDir tmp;
  // tokenizer.bin: max_token_length past 64 KiB.
  const fs::path bin = tmp / "tokenizer.bin";
  const int32_t max_len = (1 << 16) + 1;
  write_bytes(bin, std::string(reinterpret_cast<const char*>(&max_len), 4));
  EXPECT_NE(error_of([&] { read_llama2c_tokenizer(bin, 4); })
                .find(bin.string() + ": max_token_length 65537 is over the limit of 65536"),
            std::string::npos);
  // tokenizer.json: a sparse file one byte past 1 GiB (no disk used, never read).
  const fs::path json = tmp / "tokenizer.json";
  write_bytes(json, std::string("{}"));
  fs::resize_file(json, limits::kMaxTokenizerJsonBytes + 1);
  EXPECT_EQ(error_of([&] { load_hf_tokenizer_json(json, 1, 2); }),
            json.string() + ": file size 1073741825 is over the limit of 1073741824 (bytes of a tokenizer.json)");
}
