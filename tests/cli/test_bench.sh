#!/usr/bin/env bash
# `memprof bench` on the CPU backend with a small random model: the report's lines and
# numbers are there and sane; bad options are usage errors; a GPU bench without a GPU fails
# with one line (and is reported as skipped here, not passed).
set -u
MEMPROF=${MEMPROF:-build/memprof}
out=$(mktemp); trap 'rm -f "$out"' EXIT
if "$MEMPROF" bench --size 14m --random-weights --backend cpu --sequences 2 --length 96 --repeats 2 --threads 2 >"$out" 2>&1; then
    echo "PASS bench: cpu run"
    grep -Eq '^  tokens/s: [1-9][0-9]* \(median of 2 runs' "$out" && echo "PASS bench: tokens/s line" || echo "FAIL bench: tokens/s line: $(cat "$out")"
    # Each run's seconds, in the order run; tokens/s is N·T over their median (the upper of two).
    awk '/^  tokens\/s:/ { tokens = $2 } /^  run seconds:/ { n = NF - 2; slowest = $3 > $4 ? $3 : $4 }
         END { exit !(n == 2 && slowest > 0 && tokens / (192 / slowest) > 0.999 && tokens / (192 / slowest) < 1.001) }' "$out" &&
        echo "PASS bench: run seconds line" || echo "FAIL bench: run seconds line: $(cat "$out")"
    grep -q 'GFLOP/token: 0.018' "$out" && echo "PASS bench: FLOPs model for 14m" || echo "FAIL bench: FLOPs model: $(cat "$out")"
    grep -q 'host peak RSS' "$out" && echo "PASS bench: memory line" || echo "FAIL bench: memory line"
else
    echo "FAIL bench: cpu run: $(cat "$out")"
fi
# The record's settings line: the MEMPROF_* variables set to other than auto, sorted; none
# with a clean environment; no kernels line from the CPU backend.
if env -i PATH="$PATH" MEMPROF_ROTARY=pass MEMPROF_ATTENTION=auto MEMPROF_LM_HEAD=chunked "$MEMPROF" bench --size 14m \
    --random-weights --backend cpu --sequences 1 --length 32 --repeats 1 >"$out" 2>&1 &&
    grep -q '^  settings: MEMPROF_LM_HEAD=chunked MEMPROF_ROTARY=pass$' "$out" && ! grep -q 'kernels:' "$out" &&
    env -i PATH="$PATH" "$MEMPROF" bench --size 14m --random-weights --backend cpu --sequences 1 --length 32 \
        --repeats 1 >"$out" 2>&1 && grep -q '^  settings: none$' "$out"; then
    echo "PASS bench: settings line"
else
    echo "FAIL bench: settings line: $(cat "$out")"
fi
"$MEMPROF" bench --size 13b --random-weights --backend cpu >"$out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "unknown Pythia size '13b'" "$out" && echo "PASS bench: unknown size" || echo "FAIL bench: unknown size: rc $rc $(cat "$out")"
"$MEMPROF" bench --size 14m >"$out" 2>&1; rc=$?
[ $rc -eq 2 ] && echo "PASS bench: --random-weights required" || echo "FAIL bench: --random-weights required: rc $rc"
"$MEMPROF" bench --size 14m --random-weights --precision fp8 >"$out" 2>&1; rc=$?
[ $rc -eq 2 ] && echo "PASS bench: bad precision" || echo "FAIL bench: bad precision: rc $rc"
# A CUDA bench run: PASS when CHECK (a shell condition on $out) holds after it succeeds, SKIP
# without a GPU or without the CUDA backend, FAIL otherwise. $bench is the program, $where a
# label: the cases run with $MEMPROF, then with $BUILD/memprof-emulated (every kernel on the
# CPU emulator, cuBLASLt on the CPU: design.md, "The whole CUDA backend without a GPU") where
# it was built, so that each kernel setting's path through the program runs without a GPU too.
cuda_case() {  # usage: cuda_case NAME CHECK BENCH-ARGS...
    local name="$1$where" check=$2; shift 2
    if "$bench" bench --size 14m --random-weights --backend cuda --sequences 1 --length 64 --repeats 1 "$@" >"$out" 2>&1; then
        eval "$check" && echo "PASS bench: $name" || echo "FAIL bench: $name: $(cat "$out")"
    elif grep -q "no CUDA device" "$out"; then
        echo "SKIP bench: $name: no GPU here"
    elif grep -q "no backend named 'cuda'" "$out"; then
        echo "SKIP bench: $name: built without CUDA"
    elif grep -Eq "MEMPROF_(ATTENTION|LM_HEAD|UP_GEMM|RESIDUAL_GEMM|ROTARY)=[a-z-]*(wgmma|gelu|fused|attention)[a-z-]*: needs a compute capability 9.x GPU" "$out"; then
        echo "SKIP bench: $name: this GPU or build has no wgmma"
    else
        echo "FAIL bench: $name: $(cat "$out")"
    fi
}
cuda_cases() {
    cuda_case "cuda run" true
    tuning=$(mktemp -u)
    cuda_case "cuda run with --tune-gemm" 'grep -q "GEMM algorithms from $tuning" "$out" && [ -s "$tuning" ]' --tune-gemm "$tuning"
    rm -f "$tuning"
    MEMPROF_LM_HEAD=fused cuda_case "cuda run with the fused LM head" true
    MEMPROF_LM_HEAD=fused-256 cuda_case "cuda run with the fused LM head, 256-row blocks" true
    MEMPROF_ATTENTION=mma cuda_case "cuda run with the mma.sync attention kernel" true
    MEMPROF_ATTENTION=auto cuda_case "cuda run with the automatic attention kernel, by name" true
    MEMPROF_ATTENTION=wgmma cuda_case "cuda run with the wgmma attention kernel" true
    MEMPROF_ATTENTION=wgmma-serial cuda_case "cuda run with the serial wgmma attention kernel" true
    MEMPROF_ATTENTION=wgmma-64 cuda_case "cuda run with the 64-row-block wgmma attention kernel" true
    MEMPROF_ATTENTION=wgmma-pingpong cuda_case "cuda run with the ping-pong wgmma attention kernel" true
    MEMPROF_ATTENTION=wgmma-tma cuda_case "cuda run with the ping-pong wgmma attention kernel on TMA copies" true
    MEMPROF_LM_HEAD=fused-wgmma cuda_case "cuda run with the wgmma fused LM head" true
    MEMPROF_LM_HEAD=fused-pingpong MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run with the ping-pong fused LM head" \
        'grep -q "LM head fused-pingpong" "$out"'
    MEMPROF_ATTENTION=wgmma MEMPROF_LM_HEAD=fused cuda_case "cuda run with wgmma attention and the fused LM head" true
    # The up GEMM with GELU as its epilogue: one step where there were two; the header says so.
    MEMPROF_UP_GEMM=fused-gelu MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run with the up GEMM's GELU epilogue" \
        'grep -q "up gemm + gelu" "$out" && ! grep -qE "  gelu {8}" "$out" && grep -q "up GEMM fused-gelu" "$out"'
    MEMPROF_UP_GEMM=fused-gelu-pingpong MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run with the up GEMM's GELU epilogue, ping-pong" \
        'grep -q "up gemm + gelu" "$out" && ! grep -qE "  gelu {8}" "$out" && grep -q "up GEMM fused-gelu-pingpong" "$out"'
    # The dense and down GEMMs as one into the residual: one step where there were two.
    MEMPROF_RESIDUAL_GEMM=fused MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run with the dense and down GEMMs as one" \
        'grep -q "dense + down gemm" "$out" && ! grep -qE "  down gemm {6}" "$out" && grep -q "residual GEMM fused" "$out"'
    # The joined residual GEMM: cuBLASLt over k = d + ff, one step for the dense and down
    # GEMMs, the up GEMM and GELU on their own (writing beside the attention's rows).
    MEMPROF_RESIDUAL_GEMM=joined MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run with the joined residual GEMM" \
        'grep -q "dense + down gemm" "$out" && ! grep -qE "  down gemm {6}" "$out" && grep -qE "  gelu {8}" "$out" && grep -q "residual GEMM joined" "$out"'
    MEMPROF_RESIDUAL_GEMM=joined MEMPROF_ROTARY=attention MEMPROF_LM_HEAD=chunked MEMPROF_CUDA_PROFILE=1 cuda_case \
        "cuda run with the joined residual GEMM and the rotary inside the TMA attention (70m)" \
        'grep -q "dense + down gemm" "$out" && grep -q "residual GEMM joined, rotary in attention" "$out"' --size 70m
    MEMPROF_UP_GEMM=cublaslt MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run with cuBLASLt's up GEMM by name" \
        'grep -qE "up gemm {8}" "$out" && grep -qE "  gelu {8}" "$out" && grep -q "up GEMM cublaslt, residual GEMM cublaslt" "$out"'
    cuda_case "cuda run under --max-gpu-memory" \
        'grep -q "memory: device" "$out" && grep -q "^bench 14m on cuda .*, at most 0.3 GB of GPU memory$" "$out"' \
        --max-gpu-memory 0.3
    # The record names the kernels the settings resolved to, and the settings (auto left out).
    MEMPROF_RESIDUAL_GEMM=joined MEMPROF_ATTENTION=auto cuda_case "cuda run: the record's kernels and settings lines" \
        'grep -q "^  kernels: attention [a-z0-9-]*, LM head [a-z0-9-]*, up GEMM cublaslt, residual GEMM joined, rotary pass$" "$out" &&
         grep -q "^  settings: .*MEMPROF_RESIDUAL_GEMM=joined" "$out" && ! grep -q "MEMPROF_ATTENTION=" "$out"'
    # The chunked head's GEMM on all but 8 SMs, its statistics on those 8: the profile says so.
    MEMPROF_LM_HEAD=chunked MEMPROF_STATISTICS_SMS=8 MEMPROF_CUDA_PROFILE=1 cuda_case \
        "cuda run with 8 SMs kept for the statistics" 'grep -q "LM head chunked (statistics on 8 SMs)" "$out"'
    # The automatic LM head (unset): at this hidden size (128) the wgmma fused head on a
    # Hopper device (the emulated one is), else the chunked path, which is
    # also what "chunked" names. The step profile says which ran.
    MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run, automatic LM head" "$automatic_head"
    MEMPROF_LM_HEAD=chunked MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run, the chunked LM head by name" \
        'grep -q "lm head gemm" "$out" && ! grep -q "lm head statistics" "$out"'
    # The automatic attention (unset): mma.sync at head dim 32 (14m, not measured with the
    # TMA form), the TMA ping-pong form at 64 (70m) on a Hopper device; the profile's header
    # names the kernels the settings resolved to.
    MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run, automatic attention at head dim 32: mma" \
        'grep -q "attention mma, LM head" "$out"'
    MEMPROF_LM_HEAD=chunked MEMPROF_CUDA_PROFILE=1 cuda_case "cuda run, automatic attention at head dim 64 (70m)" \
        "$automatic_attention_64" --size 70m
    # The rotary inside the TMA attention: no rotary step in the profile, the header says so;
    # at head dim 32 (14m) the automatic attention is mma.sync, so the pass runs there.
    MEMPROF_ROTARY=attention MEMPROF_LM_HEAD=chunked MEMPROF_CUDA_PROFILE=1 cuda_case \
        "cuda run with the rotary inside the TMA attention (70m)" "$rotary_in_attention_64" --size 70m
    MEMPROF_ROTARY=attention MEMPROF_CUDA_PROFILE=1 cuda_case \
        "cuda run with the rotary inside the attention asked for at head dim 32: the pass" \
        'grep -q "attention mma, .*, rotary pass" "$out" && grep -qE "  rotary +[0-9.]+ ms" "$out"'
}
bench=$MEMPROF where="" automatic_head='grep -q "lm head statistics\|lm head gemm" "$out"'
automatic_attention_64='grep -q "attention \(wgmma-tma\|mma\), LM head chunked" "$out"'
rotary_in_attention_64='grep -q "attention wgmma-tma, .*, rotary in attention" "$out" && ! grep -qE "  rotary +[0-9.]+ ms" "$out"'
cuda_cases
if [ -x "${BUILD:-build}/memprof-emulated" ]; then
    bench=${BUILD:-build}/memprof-emulated where=" (emulated)" automatic_head='grep -q "lm head statistics" "$out"'
    automatic_attention_64='grep -q "attention wgmma-tma, LM head chunked" "$out"'
    # A driver without the tensor-map encoder: auto keeps mma.sync there (the emulated
    # runtime leaves the encoder out).
    MEMPROF_EMULATED_NO_TENSOR_MAPS=1 MEMPROF_LM_HEAD=chunked MEMPROF_CUDA_PROFILE=1 cuda_case \
        "cuda run, automatic attention at head dim 64 without the tensor-map encoder: mma" \
        'grep -q "attention mma, LM head chunked" "$out"' --size 70m
    # Asked for by name there, the TMA kernels are refused with one line naming the setting.
    refused_without_encoder() {  # usage: refused_without_encoder VARIABLE VALUE
        if env MEMPROF_EMULATED_NO_TENSOR_MAPS=1 "$1=$2" "$bench" bench --size 70m --random-weights \
            --backend cuda --sequences 1 --length 64 --repeats 1 >"$out" 2>&1; then
            echo "FAIL bench: $2 without the tensor-map encoder ran: $(cat "$out")"
        else
            [ "$(wc -l <"$out")" -eq 1 ] && grep -q "$1=$2: this driver has no tensor-map encoder" "$out" &&
                echo "PASS bench: $2 without the tensor-map encoder, one line (emulated)" ||
                echo "FAIL bench: $2 without the tensor-map encoder: $(cat "$out")"
        fi
    }
    refused_without_encoder MEMPROF_ATTENTION wgmma-tma
    refused_without_encoder MEMPROF_UP_GEMM fused-gelu
    refused_without_encoder MEMPROF_UP_GEMM fused-gelu-pingpong
    refused_without_encoder MEMPROF_RESIDUAL_GEMM fused
    refused_without_encoder MEMPROF_LM_HEAD fused-pingpong
    refused_without_encoder MEMPROF_ROTARY attention
    # GPUs without Hopper's instructions (an A100) or with 99 KB of shared memory per block (an
    # L40S; MEMPROF_EMULATED_DEVICE): auto takes the mma attention and the chunked head, the
    # Hopper settings and the 256-row fused head (there) are refused with one line.
    MEMPROF_EMULATED_DEVICE=a100 cuda_case "cuda run as an A100: automatic kernels mma and chunked" \
        'grep -q "attention mma, LM head chunked" "$out"' --size 70m
    refused_on_device() {  # usage: refused_on_device DEVICE VARIABLE VALUE EXPECTED-MESSAGE
        if env MEMPROF_EMULATED_DEVICE=$1 "$2=$3" "$bench" bench --size 14m --random-weights --backend cuda \
            --sequences 1 --length 64 --repeats 1 >"$out" 2>&1; then
            echo "FAIL bench: $3 as an emulated $1 ran: $(cat "$out")"
        else
            [ "$(wc -l <"$out")" -eq 1 ] && grep -qF "$4" "$out" && echo "PASS bench: $3 as an emulated $1, one line" ||
                echo "FAIL bench: $3 as an emulated $1: $(cat "$out")"
        fi
    }
    refused_on_device a100 MEMPROF_ATTENTION wgmma-tma "MEMPROF_ATTENTION=wgmma-tma: needs a compute capability 9.x GPU"
    refused_on_device a100 MEMPROF_LM_HEAD fused-pingpong "MEMPROF_LM_HEAD=fused-pingpong: needs a compute capability 9.x GPU"
    refused_on_device v100 MEMPROF_LM_HEAD auto \
        "cuda backend: device 0 is compute capability 7.0; the kernels need 8.0 or newer (A100, L40S, H100, ...): use --backend cpu"
    refused_on_device l40s MEMPROF_LM_HEAD fused-256 \
        "MEMPROF_LM_HEAD=fused-256: needs 123904 bytes of shared memory per block, this GPU allows 101376; use fused"
    cuda_cases
fi
# Settings refused with one line naming them, GPU or not: a misspelt value, or two that do
# not go together.
refused() {  # usage: refused NAME EXPECTED-MESSAGE VARIABLE=VALUE...
    local name=$1 expected=$2
    shift 2
    env "$@" "$MEMPROF" bench --size 14m --random-weights --backend cuda --sequences 1 --length 64 >"$out" 2>&1
    local rc=$?
    if grep -q "no backend named 'cuda'" "$out"; then
        echo "SKIP bench: $name: built without CUDA"
    else
        [ $rc -ne 0 ] && [ "$(wc -l <"$out")" -eq 1 ] && grep -qF "$expected" "$out" &&
            echo "PASS bench: $name refused" || echo "FAIL bench: $name: rc $rc $(cat "$out")"
    fi
}
refused_setting() { refused "bad $1" "$3" "$1=$2"; }  # usage: refused_setting VARIABLE VALUE EXPECTED-MESSAGE
refused_setting MEMPROF_LM_HEAD fast 'MEMPROF_LM_HEAD: expected "auto", "chunked", "fused", "fused-256", "fused-wgmma" or "fused-pingpong", got "fast"'
refused_setting MEMPROF_UP_GEMM fused 'MEMPROF_UP_GEMM: expected "auto", "cublaslt", "fused-gelu" or "fused-gelu-pingpong", got "fused"'
refused_setting MEMPROF_STATISTICS_SMS 8x 'MEMPROF_STATISTICS_SMS: expected "auto" or a whole number of SMs from 0 to 66, got "8x"'
refused_setting MEMPROF_RESIDUAL_GEMM join 'MEMPROF_RESIDUAL_GEMM: expected "auto", "cublaslt", "fused" or "joined", got "join"'
refused_setting MEMPROF_ROTARY fused 'MEMPROF_ROTARY: expected "auto", "pass" or "attention", got "fused"'
# The joined residual GEMM with a fused up GEMM, which cannot write beside the attention's rows.
refused "joined residual GEMM with a fused up GEMM" \
    'MEMPROF_RESIDUAL_GEMM=joined: the up GEMM writes into the joined operand through cuBLASLt only, but MEMPROF_UP_GEMM=fused-gelu' \
    MEMPROF_RESIDUAL_GEMM=joined MEMPROF_UP_GEMM=fused-gelu
# The rotary folded into an attention kernel that does not take it.
refused "rotary in the mma attention" \
    'MEMPROF_ROTARY=attention: the rotary is folded into the wgmma-tma attention only, but MEMPROF_ATTENTION=mma' \
    MEMPROF_ATTENTION=mma MEMPROF_ROTARY=attention
refused_setting MEMPROF_ATTENTION flash3 'MEMPROF_ATTENTION: expected "auto", "mma", "wgmma", "wgmma-serial", "wgmma-64", "wgmma-pingpong", "wgmma-tma", "wgmma-tma-fma25" or "wgmma-tma-fma50", got "flash3"'
# --load-checkpoint: load throughput from a checkpoint folder next to a plain read of its files.
dir=tests/fixtures/tiny-neox-f16-bin
if "$MEMPROF" bench --load-checkpoint "$dir" --backend cpu --repeats 2 >"$out" 2>&1; then
    echo "PASS bench: load run (cpu)"
    grep -q "^load $dir on cpu (F16 weights as fp32): .* in 1 file, median of 2 runs" "$out" \
        && echo "PASS bench: load header" || echo "FAIL bench: load header: $(cat "$out")"
    for line in 'plain read:' 'open \+ hash:' 'backend load:' 'end to end:'; do
        grep -Eq "^  $line +[0-9]+\.[0-9]+ GB/s" "$out" && echo "PASS bench: load line '$line'" \
            || echo "FAIL bench: load line '$line': $(cat "$out")"
    done
else
    echo "FAIL bench: load run (cpu): $(cat "$out")"
fi
"$MEMPROF" bench --load-checkpoint "$dir" --backend cpu --repeats 1 --cold >"$out" 2>&1 \
    && grep -q "page cache dropped" "$out" && echo "PASS bench: load --cold" || echo "FAIL bench: load --cold: $(cat "$out")"
"$MEMPROF" bench --load-checkpoint "$dir" --size 14m >"$out" 2>&1; rc=$?
[ $rc -eq 2 ] && echo "PASS bench: --load-checkpoint with --size is a usage error" || echo "FAIL bench: --load-checkpoint with --size: rc $rc"
"$MEMPROF" bench --load-checkpoint tests/fixtures/no-such-checkpoint --backend cpu >"$out" 2>&1; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$out")" -eq 1 ] && echo "PASS bench: missing checkpoint, one line" \
    || echo "FAIL bench: missing checkpoint: rc $rc $(cat "$out")"
if "$MEMPROF" bench --load-checkpoint "$dir" --backend cuda --repeats 1 >"$out" 2>&1; then
    grep -Eq '^  upload: +[0-9]+\.[0-9]+ GB/s' "$out" && echo "PASS bench: load run (cuda)" || echo "FAIL bench: load run (cuda): $(cat "$out")"
elif grep -q "no CUDA device" "$out" && [ "$(wc -l <"$out")" -eq 1 ]; then
    echo "SKIP bench: load run (cuda): no GPU here (one-line error checked)"
elif grep -q "no backend named 'cuda'" "$out"; then
    echo "SKIP bench: load run (cuda): built without CUDA"
else
    echo "FAIL bench: load run (cuda): $(cat "$out")"
fi
if [ -x "${BUILD:-build}/memprof-emulated" ]; then  # the upload path: pinned chunks, copies, conversion kernels
    for d in tests/fixtures/tiny-neox-f16-bin tests/fixtures/tiny-neox-f32-safetensors; do
        for precision in fp16 bf16; do
            if "${BUILD:-build}/memprof-emulated" bench --load-checkpoint "$d" --backend cuda --precision $precision \
                --repeats 1 >"$out" 2>&1 && grep -Eq '^  upload: +[0-9]+\.[0-9]+ GB/s' "$out"; then
                echo "PASS bench: load run (cuda, emulated) $d $precision"
            else
                echo "FAIL bench: load run (cuda, emulated) $d $precision: $(cat "$out")"
            fi
        done
    done
fi
exit 0
