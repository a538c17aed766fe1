#!/usr/bin/env bash
# memprof estimate vs the Python package `differences` 0.2.0 (golden outputs in
# tests/data/differences, made by scripts/differences_golden.py on differences' own
# simulate_data panel and on a `memprof simulate` panel):
#  - never/not-yet-treated x varying/universal x anticipation 0/1: ATT(g,t), analytic SE and
#    pointwise bounds, and every analytic aggregation, within 1e-9 abs + 1e-9 rel;
#  - bootstrap (B = 1000): per-cell bootstrap SE vs differences' bootstrap SE within
#    4·√2·1.17/√B (two independent IQR estimates, docs/estimator.md: relative MC s.d. 1.17/√B each),
#    vs the analytic SE within 4·1.17/√B, and the sup-t critical values within 4·√2·1.17/√B.
# Then a live cross-check on a fresh panel when `differences` is importable ($DIFFERENCES_PYTHON,
# default python3), SKIP otherwise.
set -u
MEMPROF=${MEMPROF:-build/memprof}
gold=tests/data/differences
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
awkcmp=tests/cli/compare_tables.awk

check_configs() {  # dir_of_goldens label
    local root=$1 label=$2 n=0 fails=0 worst=0
    for d in "$root"/*_d[01]; do
        [ -d "$d" ] || continue
        local name=${d##*/} ds rest ctrl base delta
        ds=${name%%_*}; rest=${name#*_}
        case $rest in never_treated*) ctrl=never_treated; rest=${rest#never_treated_};;
                      *) ctrl=not_yet_treated; rest=${rest#not_yet_treated_};; esac
        base=${rest%%_*}; delta=${rest##*_d}
        if ! "$MEMPROF" estimate --csv "$root/panel_$ds.csv" --unit unit --time time --cohort cohort --outcome y \
                --control "$ctrl" --base-period "$base" --anticipation "$delta" --bootstrap 0 --quiet \
                --out "$tmp/ours_$label/$name" >"$tmp/log" 2>&1; then
            echo "FAIL ${label}_$name: $(cat "$tmp/log")"; fails=$((fails + 1)); continue
        fi
        for t in attgt agg_simple agg_cohort agg_time agg_event; do
            r=$(awk -F, -v cols="ATT,std_error,lower,upper" -v abs=1e-9 -v rel=1e-9 -f "$awkcmp" "$d/$t.csv" "$tmp/ours_$label/$name/$t.csv")
            n=$((n + 1))
            case $r in ok*) ;; *) echo "FAIL ${label}_${name}_$t: $r"; fails=$((fails + 1));; esac
            worst=$(awk -v a="$worst" -v r="$r" 'BEGIN { split(r, f, "max_abs="); v = f[2] + 0; print (v > a) ? v : a }')
        done
    done
    if [ "$n" -eq 0 ]; then echo "FAIL ${label}_analytic: no golden configurations found under $root"
    elif [ "$fails" -eq 0 ]; then echo "PASS ${label}_analytic ($n tables, max abs deviation $worst)"; fi
}

check_bootstrap() {  # dir label
    local root=$1 label=$2
    for d in "$root"/*_boot1000; do
        [ -d "$d" ] || continue
        local name ds ctrl
        name=${d##*/}; ds=${name%%_*}
        case $name in *_not_yet_treated_*) ctrl=not_yet_treated;; *) ctrl=never_treated;; esac
        cp "$root/${ds}_${ctrl}_varying_d0/attgt.csv" "$tmp/analytic_attgt.csv"
        "$MEMPROF" estimate --csv "$root/panel_$ds.csv" --unit unit --time time --cohort cohort --outcome y \
            --control "$ctrl" --bootstrap 1000 --seed 1234 --quiet --out "$tmp/ours_$label/$name" >"$tmp/log" 2>&1 || { echo "FAIL ${label}_$name: $(cat "$tmp/log")"; continue; }
        r=$(awk -F, -v B=1000 '
            FNR == 1 { next }
            FNR == NR { k = $1 "|" $2 "|" $3; dse[k] = $5; if ($5 != "" && !dc) dc = ($7 - $4) / $5; next }
            FILENAME ~ /analytic/ { k = $1 "|" $2 "|" $3; ase[k] = $5; next }
            { k = $1 "|" $2 "|" $3; if ($5 == "" || dse[k] == "") next
              r1 = $5 / dse[k] - 1; if (r1 < 0) r1 = -r1; if (r1 > m1) m1 = r1
              r2 = $5 / ase[k] - 1; if (r2 < 0) r2 = -r2; if (r2 > m2) m2 = r2
              if (!oc) oc = ($7 - $4) / $5; n++ }
            END { tol1 = 4 * sqrt(2) * 1.17 / sqrt(B); tol2 = 4 * 1.17 / sqrt(B)
                  rc = oc / dc - 1; if (rc < 0) rc = -rc
                  ok = n > 10 && m1 <= tol1 && m2 <= tol2 && rc <= tol1
                  printf "%s cells=%d max|se/se_differences-1|=%.3f (tol %.3f) max|se/se_analytic-1|=%.3f (tol %.3f) crit=%.4f vs differences %.4f\n",
                         ok ? "ok" : "bad", n, m1, tol1, m2, tol2, oc, dc }' \
            "$d/attgt.csv" "$tmp/analytic_attgt.csv" "$tmp/ours_$label/$name/attgt.csv" 2>/dev/null)
        case $r in ok*) echo "PASS ${label}_$name ($r)";; *) echo "FAIL ${label}_$name: $r";; esac
    done
}

# (the analytic SEs for the bootstrap comparison come from differences' analytic golden of the
# same panel and control group)
check_configs "$gold" golden
check_bootstrap "$gold" golden

PY=${DIFFERENCES_PYTHON:-python3}
if "$PY" -c "import differences" >/dev/null 2>&1; then
    if "$PY" scripts/differences_golden.py live --memprof "$MEMPROF" --work "$tmp/live" >"$tmp/livelog" 2>&1; then
        check_configs "$tmp/live" live
        check_bootstrap "$tmp/live" live
    else
        echo "FAIL differences_live: the differences script failed: $(tail -3 "$tmp/livelog")"
    fi
else
    echo "SKIP differences_live: differences is not importable by $PY (set DIFFERENCES_PYTHON; see scripts/requirements-differences.txt)"
fi
