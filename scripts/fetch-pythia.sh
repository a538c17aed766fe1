#!/usr/bin/env bash
# Downloads Pythia checkpoints as published on the Hugging Face hub, one folder per revision,
# in the layout `memprof sweep` reads (configs/pythia-*.yaml: model.checkpoint = DIR/step{step}).
#
# usage: scripts/fetch-pythia.sh MODEL OUT_DIR [STEPS] [FORMAT]
#   MODEL   e.g. pythia-70m-deduped (the repository EleutherAI/MODEL)
#   STEPS   the revisions, as a sweep configuration writes them (default: the paper's 144,
#           "0,1000:143000:1000"); every published one is "0,1,2,4,8,16,32,64,128,256,512,1000:143000:1000"
#   FORMAT  bin (default: every step branch has pytorch_model*.bin) or safetensors (where the
#           revision has model*.safetensors)
# Needs `huggingface-cli` (pip install -U "huggingface_hub[cli]") and network access. Files
# already present are not downloaded again, so an interrupted fetch resumes. Record the
# per-file hashes `memprof sweep` writes into stats.h5; some hub revisions are known to serve
# another revision's files (compare /checkpoints/checksum across steps).
set -euo pipefail
model=${1:?usage: fetch-pythia.sh MODEL OUT_DIR [STEPS] [FORMAT]}
out=${2:?usage: fetch-pythia.sh MODEL OUT_DIR [STEPS] [FORMAT]}
steps=${3:-0,1000:143000:1000}
format=${4:-bin}
case "$format" in
    bin) patterns=(config.json "pytorch_model*.bin" pytorch_model.bin.index.json) ;;
    safetensors) patterns=(config.json "model*.safetensors" model.safetensors.index.json) ;;
    *) echo "fetch-pythia.sh: FORMAT must be bin or safetensors, not '$format'" >&2; exit 2 ;;
esac
command -v huggingface-cli >/dev/null || { echo "fetch-pythia.sh: huggingface-cli not found (pip install -U 'huggingface_hub[cli]')" >&2; exit 1; }

# Expand "a,b:c:d" (inclusive ranges) into one step per line.
expand_steps() {
    tr ',' '\n' <<<"$1" | while read -r item; do
        item=${item// /}
        [ -n "$item" ] || continue
        if [[ $item =~ ^([0-9]+):([0-9]+):([0-9]+)$ ]]; then
            seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]}" "${BASH_REMATCH[2]}"
        elif [[ $item =~ ^[0-9]+$ ]]; then
            echo "$item"
        else
            echo "fetch-pythia.sh: bad step '$item'" >&2; exit 2
        fi
    done
}

count=0
for step in $(expand_steps "$steps"); do
    dir=$out/step$step
    mkdir -p "$dir"
    echo "== EleutherAI/$model revision step$step -> $dir"
    huggingface-cli download "EleutherAI/$model" --revision "step$step" --local-dir "$dir" \
        --include "${patterns[@]}" >/dev/null
    count=$((count + 1))
done
echo "fetched $count revisions of EleutherAI/$model into $out"
