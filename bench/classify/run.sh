#!/bin/sh
# bench/classify/run.sh - otklik's classifier side by side with fastText on
# every data set in the shared data folder: macro-F1 on dev (trained on train),
# training time, single-thread prediction throughput (model loading excluded)
# and the in-process cost per text; then the cost intake pays per request
# (topic + sentiment + urgency) with the shipped models.
#
# Usage (from the repository root, after `make build/otklik`; takes ~5 min):
#   bench/classify/run.sh            # all data sets
#   OTKLIK_DATA_DIR=/path/to/data bench/classify/run.sh banking77
# Needs fasttext (Debian package), python3 (standard library only).
set -eu

DATA=${OTKLIK_DATA_DIR:-../shared/data}
BIN=${OTKLIK_BIN:-build/otklik}
FASTTEXT=${FASTTEXT:-fasttext}
REPEAT=${REPEAT:-20}
HERE=$(dirname "$0")
WORK=$(mktemp -d /tmp/otklik-bench-classify.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

[ -x "$BIN" ] || { echo "run.sh: $BIN not found; run make build/otklik" >&2; exit 1; }
command -v "$FASTTEXT" >/dev/null || { echo "run.sh: fasttext not found (apt install fasttext)" >&2; exit 1; }
[ -d "$DATA" ] || { echo "run.sh: data folder $DATA not found (set OTKLIK_DATA_DIR)" >&2; exit 1; }

# fastText settings: the data README's tuned baselines, one thread, fixed seed.
ft_args() {
    case "$1" in
    banking77)       echo "-lr 1.0 -epoch 50 -dim 50 -wordNgrams 2 -minn 2 -maxn 5 -bucket 500000" ;;
    bitext_cs)       echo "-lr 1.0 -epoch 25 -dim 50 -wordNgrams 1 -minn 2 -maxn 5 -bucket 500000" ;;
    rusentitweet)    echo "-lr 1.0 -epoch 25 -dim 100 -wordNgrams 2 -minn 2 -maxn 5 -bucket 500000" ;;
    sentirueval2016) echo "-lr 0.5 -epoch 25 -dim 50 -wordNgrams 2 -minn 2 -maxn 5 -bucket 500000" ;;
    *)               echo "-lr 1.0 -epoch 25 -dim 50 -wordNgrams 2 -minn 2 -maxn 5 -bucket 500000" ;;
    esac
}

# CPU seconds (user + sys) of one run of a command; stdout discarded.  CPU
# time rather than wall time: the figures stay put on a busy shared machine.
cpu() {
    /usr/bin/time -f "%U %S" -o "$WORK/time" "$@" > /dev/null
    awk '{printf "%.3f", $1 + $2}' "$WORK/time"
}

# The least CPU time of three runs of: cpu_best INPUT COMMAND...
cpu_best() {
    input=$1; shift
    best=
    for _ in 1 2 3; do
        t=$(cpu "$@" < "$input")
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}

rate() { echo "$1 / ($2 - $3)" | bc -l | awk '{printf "%.0f", $1}'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(uname -sr)"
echo "fastText $(dpkg-query -W -f='${Version}' fasttext 2>/dev/null || echo '?'); otklik: $BIN"
echo "throughput: dev texts repeated to >= 100,000 (at least $REPEAT times), one thread, CPU time, best of 3, minus a run on empty input (model loading)"
echo
printf '| data set | fastText macro-F1 | otklik macro-F1 | fastText train s | otklik train s | fastText texts/s | otklik texts/s (CLI) | speed-up (CLI) | otklik texts/s (in-process) | otklik p50 µs/text |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'

SETS=${*:-$(ls "$DATA")}
for d in $SETS; do
    [ -f "$DATA/$d/train.tsv" ] && [ -f "$DATA/$d/dev.tsv" ] || continue
    W="$WORK/$d"
    mkdir -p "$W"
    python3 "$HERE/prep_fasttext.py" "$DATA/$d/train.tsv" "$W/ft.train"
    python3 "$HERE/prep_fasttext.py" "$DATA/$d/dev.tsv" "$W/ft.devtext" --text-only
    cut -f2- "$DATA/$d/dev.tsv" > "$W/raw.dev"
    # Enough copies for about 100,000 texts, so CPU-time ticks (10 ms) do not matter.
    n_dev=$(wc -l < "$W/raw.dev")
    reps=$(( (100000 + n_dev - 1) / n_dev ))
    [ "$reps" -gt "$REPEAT" ] || reps=$REPEAT
    : > "$W/ft.many"; : > "$W/raw.many"
    i=0
    while [ $i -lt "$reps" ]; do
        cat "$W/ft.devtext" >> "$W/ft.many"; cat "$W/raw.dev" >> "$W/raw.many"; i=$((i + 1))
    done
    n_many=$(wc -l < "$W/ft.many")

    # fastText: train, score on dev, prediction speed.
    # shellcheck disable=SC2046
    ft_train=$(cpu "$FASTTEXT" supervised -input "$W/ft.train" -output "$W/ft" $(ft_args "$d") \
        -thread 1 -seed 1 -verbose 0 < /dev/null)
    "$FASTTEXT" predict "$W/ft.bin" "$W/ft.devtext" > "$W/ft.pred"
    ft_f1=$(python3 "$HERE/macro_f1.py" "$DATA/$d/dev.tsv" "$W/ft.pred" | sed 's/.*macro_f1=//')
    e=$(cpu_best /dev/null "$FASTTEXT" predict "$W/ft.bin" -)
    f=$(cpu_best "$W/ft.many" "$FASTTEXT" predict "$W/ft.bin" -)
    ft_rate=$(rate "$n_many" "$f" "$e")

    # otklik: train (dev calibrates the confidences), score, CLI and in-process speed.
    ok_train=$(cpu "$BIN" classify train --data "$DATA/$d/train.tsv" --dev "$DATA/$d/dev.tsv" \
        --out "$W/ok.bin" --quiet < /dev/null)
    ok_f1=$("$BIN" classify eval --model "$W/ok.bin" --data "$DATA/$d/dev.tsv" | tail -1 | sed 's/.*macro_f1=//')
    e=$(cpu_best /dev/null "$BIN" classify predict --model "$W/ok.bin")
    f=$(cpu_best "$W/raw.many" "$BIN" classify predict --model "$W/ok.bin")
    ok_cli=$(rate "$n_many" "$f" "$e")
    bench=$("$BIN" classify bench --model "$W/ok.bin" --data "$DATA/$d/dev.tsv" --repeat "$reps")
    ok_rate=$(echo "$bench" | sed 's/.*texts_per_cpu_s=\([0-9]*\).*/\1/')
    ok_p50=$(echo "$bench" | sed 's/.*p50_us=\([0-9.]*\).*/\1/')
    speedup=$(echo "$ok_cli / $ft_rate" | bc -l | awk '{printf "%.1f", $1}')

    printf '| %s | %s | %s | %s | %s | %s | %s | %s× | %s | %s |\n' "$d" "$ft_f1" "$ok_f1" \
        "$ft_train" "$ok_train" "$ft_rate" "$ok_cli" "$speedup" "$ok_rate" "$ok_p50"
done

# What intake pays per request with the shipped models: topic + sentiment + urgency.
if [ -f models/topic.bin ] && [ -f models/sentiment.bin ]; then
    echo
    for d in sentirueval2016 rusentitweet; do
        [ -f "$DATA/$d/dev.tsv" ] || continue
        r=$("$BIN" classify bench --model models/topic.bin --also models/sentiment.bin --urgency \
            --data "$DATA/$d/dev.tsv" --repeat 5)
        echo "intake cost (topic + sentiment + urgency, shipped models) on $d dev texts: $r"
    done
fi
