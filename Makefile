# memprof — `make` builds build/memprof; `make test` runs every test; see README.md.
#
#   make [BUILD=dir]        build the program (C11, warnings on)
#   make test               build and run all tests; ends with "N passed, N failed, N skipped"
#   make sanitize           the same tests under ASan + UBSan (in build/sanitize)
#   make fuzz               libFuzzer targets (clang) in build/fuzz
#   make fuzz-run FUZZ_SECONDS=300   run each fuzz target for that long
#   make demo               build, then the main job on embedded defaults (scripts/demo.sh)
#   make bench              benchmarks (commands, not tests)

BUILD ?= build
CC := mpicc
SANITIZE ?= 0

# Debian packages (see .ci/run): parallel HDF5, libyaml, libzstd, jansson, OpenBLAS, xxHash,
# Oniguruma and utf8proc (tokenizer), cairo (+ its fontconfig) for figures.
PKGS := hdf5-openmpi yaml-0.1 libzstd jansson openblas libxxhash oniguruma libutf8proc cairo fontconfig
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -fopenmp-simd -fno-math-errno -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror=implicit-function-declaration \
          -pthread -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP

# BLAS=none builds the CPU backend's GEMMs from a portable kernel instead of OpenBLAS: the
# GPU-machine build, where OpenBLAS is absent and too large to carry (see docs/performance.md).
ifeq ($(BLAS),none)
PKG_LIBS := $(filter-out -lopenblas -L%openblas-pthread/,$(PKG_LIBS))
CFLAGS += -DMEMPROF_NO_BLAS
endif
LDLIBS := $(PKG_LIBS) -lm -pthread

ifeq ($(SANITIZE),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRCS := $(filter-out src/cli/%,$(wildcard src/*/*.c))
# Outside src/cuda/, files that need the CUDA runtime (the NCCL weight transport).
CUDA_ONLY_SRCS := src/sweep/weight_transport_nccl.c
NON_CUDA_SRCS := $(filter-out src/cuda/% $(CUDA_ONLY_SRCS),$(LIB_SRCS))

# The CUDA backend is built when nvcc is present (`make CUDA=0` skips it). CUDA_ARCH lists
# the GPU generations to compile for: 80 = A100, 90 = H100/H200 (`CUDA_ARCH=90` for a
# smaller device build).
NVCC ?= $(shell command -v nvcc 2>/dev/null)
CUDA ?= $(if $(NVCC),1,0)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= 80 90
ifeq ($(CUDA),1)
CFLAGS += -DMEMPROF_CUDA -I$(CUDA_HOME)/include
LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart -lstdc++
CU_SRCS := $(wildcard src/cuda/*.cu)
NVCC_FLAGS := -O3 -std=c++17 -Iinclude -Isrc $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a))
# Kernels on Hopper's wgmma (cuda_wgmma.cuh) need the architecture-specific sm_90a target in
# place of sm_90; where 90 is not built they are left out and their launchers return -1.
NVCC_WGMMA_FLAGS := -O3 -std=c++17 -Iinclude -Isrc $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a:90=90a),code=sm_$(a:90=90a)) \
	$(if $(filter 90,$(CUDA_ARCH)),-DMEMPROF_WGMMA_BUILT)
else
LIB_SRCS := $(NON_CUDA_SRCS)
CU_SRCS :=
endif
CLI_SRCS := $(wildcard src/cli/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(CU_SRCS:%.cu=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libmemprof.a
BIN := $(BUILD)/memprof

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/tests/replay_%)

.PHONY: all test sanitize fuzz fuzz-run bench demo clean
all: $(BIN)

# The CPU backend's softmax loops vectorise only at -O3 (gcc 12's -O2 cost model declines them).
$(BUILD)/obj/src/cpu/%.o: CFLAGS += -O3

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cu src/cuda/cuda_kernels.h src/cuda/cuda_common.cuh src/cuda/cuda_mma.cuh src/cuda/cuda_lm_head.cuh
	@mkdir -p $(dir $@)
	@echo "NVCC $<"
	@$(NVCC) $(NVCC_FLAGS) -c $< -o $@

WGMMA_CU_SRCS := src/cuda/cuda_flash_attention_wgmma.cu src/cuda/cuda_flash_attention_pingpong.cu \
	src/cuda/cuda_lm_head_wgmma.cu src/cuda/cuda_wgmma_probe.cu src/cuda/cuda_gemm_fused.cu \
	src/cuda/cuda_lm_head_pingpong.cu
$(WGMMA_CU_SRCS:%.cu=$(BUILD)/obj/%.o): $(BUILD)/obj/%.o: %.cu src/cuda/cuda_kernels.h src/cuda/cuda_common.cuh \
		src/cuda/cuda_mma.cuh src/cuda/cuda_wgmma.cuh src/cuda/cuda_wgmma_ops.cuh src/cuda/cuda_lm_head.cuh \
		src/cuda/cuda_attention_wgmma.cuh src/cuda/cuda_barrier.cuh src/cuda/cuda_tma.cuh src/cuda/cuda_tensor_map.h \
		src/cuda/cuda_tma_pipeline.cuh
	@mkdir -p $(dir $@)
	@echo "NVCC $< (sm_90a)"
	@$(NVCC) $(NVCC_WGMMA_FLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(BIN): $(CLI_OBJS) $(LIB)
	@echo "LINK $@"
	@$(CC) $(LDFLAGS) $(CLI_OBJS) $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h tests/unit/test_kernels.h $(LIB)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CC) $(CFLAGS) -Itests/unit $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# Fuzz targets replayed over their committed seed corpora by an ordinary main.
$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CC) $(CFLAGS) $< tests/fuzz/replay_main.c $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# The hand-written kernels' tests again, on the CPU emulator (tests/emulator): each kernel
# file with its launches rewritten (`k<<<c>>>(a)` → `emu::launcher(<a lambda calling k>, c)(a)`; a block's
# threads share `static` locals as they would __shared__ arrays, blocks running one at a time)
# and compiled by the host compiler against the emulated tensor-core operations. Needs the
# CUDA headers only; not in sanitizer builds (the emulator switches stacks).
EMULATED_TESTS :=
ifeq ($(CUDA),1)
ifneq ($(SANITIZE),1)
EMULATED_TESTS := $(BUILD)/tests/test_cuda_lm_head_emulated $(BUILD)/tests/test_cuda_attention_emulated \
	$(BUILD)/tests/test_cuda_statistics_emulated $(BUILD)/tests/test_cuda_layers_emulated \
	$(BUILD)/tests/test_cuda_wgmma_emulated $(BUILD)/tests/test_backend_conformance_emulated \
	$(BUILD)/tests/test_cuda_upload_emulated $(BUILD)/memprof-emulated
endif
endif
EMULATOR_CXXFLAGS := -std=c++17 -O2 -Wall -Wno-attributes -Wno-unknown-pragmas -Wno-sign-compare -Itests/emulator -Iinclude -Isrc \
	-I$(CUDA_HOME)/include -DMEMPROF_WGMMA_BUILT
EMULATOR_HEADERS := tests/emulator/cuda_emulator.h tests/emulator/cuda/cuda_mma.cuh tests/emulator/cuda/cuda_wgmma.cuh \
	tests/emulator/cuda/cuda_barrier.cuh tests/emulator/cuda/cuda_tma.cuh src/cuda/cuda_attention_wgmma.cuh \
	src/cuda/cuda_tensor_map.h src/cuda/cuda_tma_pipeline.cuh \
	src/cuda/cuda_common.cuh src/cuda/cuda_kernels.h src/cuda/cuda_lm_head.cuh

$(BUILD)/emulator/%.o: src/cuda/%.cu $(EMULATOR_HEADERS)
	@mkdir -p $(dir $@)
	@echo "EMULATE $<"
	@perl -pe 's/(\w+(?:<[^<>]*>)?)<<<(.*?)>>>/emu::launcher([](auto &&...a) { $$1(a...); }, $$2)/g; \
		s/extern __shared__/extern/g; s/__shared__/static/g' \
		$< > $(@:.o=.cc)
	@$(CXX) $(EMULATOR_CXXFLAGS) -include tests/emulator/cuda_emulator.h -c $(@:.o=.cc) -o $@

EMULATOR_OBJS := $(BUILD)/emulator/cuda_emulator.o $(BUILD)/emulator/cuda_runtime_emulated.o
$(EMULATOR_OBJS) $(BUILD)/emulator/cublaslt_emulated.o: $(BUILD)/emulator/%.o: tests/emulator/%.cc $(EMULATOR_HEADERS)
	@mkdir -p $(dir $@)
	@echo "CXX $<"
	@$(CXX) $(EMULATOR_CXXFLAGS) -c $< -o $@

# The whole library with every kernel file emulated and cuBLASLt on the CPU
# (tests/emulator/cublaslt_emulated.cc): the CUDA backend end to end without a GPU.
EMULATED_LIB := $(BUILD)/libmemprof_emulated.a
$(EMULATED_LIB): $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(CU_SRCS:src/cuda/%.cu=$(BUILD)/emulator/%.o)
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

# The program itself on the emulated backend: tests/cli/test_bench.sh runs its CUDA cases
# with it where no GPU is (MEMPROF_EMULATED).
$(BUILD)/memprof-emulated: $(CLI_OBJS) $(EMULATED_LIB) $(EMULATOR_OBJS) $(BUILD)/emulator/cublaslt_emulated.o
	@echo "LINK $@"
	@$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lm -pthread -lstdc++ -o $@

$(BUILD)/tests/test_backend_conformance_emulated $(BUILD)/tests/test_cuda_upload_emulated: \
		$(BUILD)/tests/%_emulated: $(BUILD)/emulator/%.o $(EMULATED_LIB) $(EMULATOR_OBJS) \
		$(BUILD)/emulator/cublaslt_emulated.o
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -lm -pthread -lstdc++ -o $@

$(BUILD)/emulator/test_%.o: tests/unit/test_%.c tests/unit/test.h tests/unit/test_kernels.h
	@mkdir -p $(dir $@)
	@echo "CC $< (emulated)"
	@$(CC) $(CFLAGS) -DMEMPROF_CUDA_EMULATED -Itests/unit -c $< -o $@

$(BUILD)/tests/test_cuda_lm_head_emulated: $(BUILD)/emulator/test_cuda_lm_head.o $(BUILD)/emulator/cuda_lm_head.o \
		$(BUILD)/emulator/cuda_lm_head_wgmma.o $(BUILD)/emulator/cuda_lm_head_pingpong.o \
		$(BUILD)/emulator/cuda_wgmma_probe.o $(EMULATOR_OBJS)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CXX) $^ -lm -o $@

$(BUILD)/tests/test_cuda_attention_emulated: $(BUILD)/emulator/test_cuda_attention.o \
		$(BUILD)/emulator/cuda_flash_attention.o $(BUILD)/emulator/cuda_attention.o \
		$(BUILD)/emulator/cuda_flash_attention_wgmma.o $(BUILD)/emulator/cuda_flash_attention_pingpong.o \
		$(BUILD)/emulator/cuda_layers.o $(BUILD)/emulator/cuda_wgmma_probe.o $(EMULATOR_OBJS)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CXX) $^ -lm -o $@

$(BUILD)/tests/test_cuda_statistics_emulated: $(BUILD)/emulator/test_cuda_statistics.o \
		$(BUILD)/emulator/cuda_statistics.o $(EMULATOR_OBJS)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CXX) $^ -lm -o $@

$(BUILD)/tests/test_cuda_wgmma_emulated: $(BUILD)/emulator/test_cuda_wgmma.o $(BUILD)/emulator/cuda_wgmma_probe.o \
		$(EMULATOR_OBJS)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CXX) $^ -lm -o $@

$(BUILD)/tests/test_cuda_layers_emulated: $(BUILD)/emulator/test_cuda_layers.o $(BUILD)/emulator/cuda_layers.o \
		$(BUILD)/emulator/cuda_gemm_fused.o $(BUILD)/emulator/cuda_wgmma_probe.o $(EMULATOR_OBJS)
	@mkdir -p $(dir $@)
	@echo "LINK $@"
	@$(CXX) $^ -lm -o $@

test: $(BIN) $(UNIT_BINS) $(REPLAY_BINS) $(EMULATED_TESTS)
	@BUILD=$(BUILD) tests/run-tests.sh

sanitize:
	$(MAKE) BUILD=build/sanitize SANITIZE=1 test

# libFuzzer needs clang; Open MPI's wrapper takes the compiler from OMPI_CC.
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc $(PKG_CFLAGS) -pthread
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
fuzz: $(FUZZ_BINS)
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(NON_CUDA_SRCS)
	@mkdir -p $(dir $@)
	@echo "FUZZ $@"
	@OMPI_CC=clang $(CC) $(FUZZ_CFLAGS) $< $(NON_CUDA_SRCS) $(PKG_LIBS) -lm -pthread -o $@

FUZZ_SECONDS ?= 300
fuzz-run: fuzz
	@for f in $(FUZZ_BINS); do name=$$(basename $$f); mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
	  echo "== $$name ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(FUZZ_BUILD)/corpus/$$name tests/fuzz/corpus/$$name 2>&1 | tail -n 12; done

# The main job on embedded defaults: panel, tiny checkpoints, mpirun sweep, estimate, figures.
demo: $(BIN)
	@MEMPROF=$(BIN) scripts/demo.sh

bench: $(BIN)
	scripts/bench-score.sh

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
