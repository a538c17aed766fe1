#!/usr/bin/env bash
# test_config_check.sh — `memprof config check`: exit codes, output, and every configs/*.yaml.
set -u
MEMPROF=${MEMPROF:-build/memprof}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# expect NAME STATUS STDERR_SUBSTRING -- ARGS...: checks exit status, one stderr line, empty stdout.
expect() {
    local name=$1 status=$2 needle=$3; shift 4
    "$MEMPROF" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
    if [ "$rc" -ne "$status" ]; then fail "$name" "exit $rc, expected $status; stderr: $(head -c 300 "$tmp/err")"; return; fi
    if ! grep -qF -- "$needle" "$tmp/err"; then fail "$name" "stderr lacks '$needle': $(head -c 300 "$tmp/err")"; return; fi
    if [ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then fail "$name" "expected one stderr line, got $(wc -l <"$tmp/err")"; return; fi
    if [ -s "$tmp/out" ]; then fail "$name" "stdout not empty on failure"; return; fi
    pass "$name"
}

for f in configs/*.yaml; do
    if "$MEMPROF" config check "$f" >"$tmp/out" 2>"$tmp/err"; then pass "configs: $f"
    else fail "configs: $f" "$(cat "$tmp/err")"; fi
done

cat >"$tmp/sweep.yaml" <<'YAML'
model:
  name: pythia-70m-deduped
  checkpoint: ckpt/step{step}
checkpoints:
  steps: [0, "1000:143000:1000"]
panel: panel.h5
output: runs/stats.h5
YAML

if "$MEMPROF" config check "$tmp/sweep.yaml" >"$tmp/out" 2>"$tmp/err"; then
    if grep -qx 'backend: cpu' "$tmp/out" && grep -qx 'precision: fp32' "$tmp/out" &&
       grep -qx '  steps: \["0:143000:1000"\]' "$tmp/out" && grep -qx 'journal: "runs/stats.h5.journal"' "$tmp/out" &&
       grep -Eqx '# config hash: xxh64:[0-9a-f]{16}' "$tmp/out" && [ ! -s "$tmp/err" ]; then
        pass "check: prints the resolved configuration and its hash"
    else fail "check: prints the resolved configuration and its hash" "$(cat "$tmp/out" "$tmp/err")"; fi
else fail "check: valid file exits 0" "$(cat "$tmp/err")"; fi

# The printed configuration is itself valid and resolves to the same text and hash.
cp "$tmp/out" "$tmp/resolved.yaml"
if "$MEMPROF" config check "$tmp/resolved.yaml" >"$tmp/out2" 2>"$tmp/err" && cmp -s "$tmp/out2" "$tmp/resolved.yaml"; then
    pass "check: output round-trips with the same hash"
else fail "check: output round-trips with the same hash" "$(diff "$tmp/resolved.yaml" "$tmp/out2" | head -5; cat "$tmp/err")"; fi

if "$MEMPROF" config check "$tmp/sweep.yaml" backend=cuda model.name=pythia-160m-deduped >"$tmp/out" 2>"$tmp/err" &&
   grep -qx 'precision: fp16' "$tmp/out" && grep -qx '  name: "pythia-160m-deduped"' "$tmp/out" &&
   [ "$(tail -n 1 "$tmp/out")" != "$(tail -n 1 "$tmp/resolved.yaml")" ]; then
    pass "check: overrides applied, hash changes"
else fail "check: overrides applied, hash changes" "$(cat "$tmp/out" "$tmp/err")"; fi

printf 'modle:\n  name: x\n' >"$tmp/typo.yaml"
expect "check: unknown key exits 1 with position and suggestion" 1 "$tmp/typo.yaml:1:1: unknown key 'modle' (did you mean 'model'?)" -- config check "$tmp/typo.yaml"
expect "check: unknown override exits 1 with suggestion" 1 "override 'bakend=cuda': unknown key 'bakend' (did you mean 'backend'?)" -- config check "$tmp/sweep.yaml" bakend=cuda
expect "check: wrong type exits 1" 1 "key 'threads': expected an integer in [0, 65536], got 'lots'" -- config check "$tmp/sweep.yaml" threads=lots
printf 'model: [\n' >"$tmp/syntax.yaml"
expect "check: YAML syntax error exits 1 with position" 1 "$tmp/syntax.yaml:2:1: YAML syntax error" -- config check "$tmp/syntax.yaml"
: >"$tmp/empty.yaml"
expect "check: empty file exits 1" 1 "$tmp/empty.yaml: the configuration is empty" -- config check "$tmp/empty.yaml"
expect "check: missing file exits 1" 1 "$tmp/none.yaml: cannot open" -- config check "$tmp/none.yaml"
expect "check: no FILE is a usage error" 2 "missing FILE" -- config check
expect "check: unknown option is a usage error" 2 "unknown option '--frobnicate'" -- config check --frobnicate "$tmp/sweep.yaml"
expect "check: stray argument is a usage error" 2 "'extra' is not an override key=value" -- config check "$tmp/sweep.yaml" extra
expect "config: no subcommand is a usage error" 2 "missing subcommand" -- config
expect "config: unknown subcommand is a usage error" 2 "unknown subcommand 'lint'" -- config lint "$tmp/sweep.yaml"

if "$MEMPROF" config check --help >"$tmp/out" 2>&1 && grep -q 'usage: memprof config check FILE' "$tmp/out" &&
   grep -q 'checkpoints.steps' "$tmp/out" && grep -q 'max_gpu_memory_gb' "$tmp/out"; then
    pass "check: --help exits 0 and lists the keys"
else fail "check: --help exits 0 and lists the keys" "$(head -5 "$tmp/out")"; fi

if "$MEMPROF" --help 2>&1 | grep -q '^  config '; then pass "memprof --help lists config"
else fail "memprof --help lists config" "not listed"; fi
