#!/usr/bin/env bash
# Bad input for `memprof estimate`, each checked against a hand-built equivalent or an error:
# missing outcome values (R: units with any missing period are dropped, with a count; an
# emptied cohort is an error), cohorts off the time grid, no never-treated units under
# never_treated (R: the last cohort becomes the comparison group), constant outcomes (zero SE
# handled as R: NA), a CSV row with the wrong number of fields (line number in the error).
set -u
MEMPROF=${MEMPROF:-build/memprof}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
src=tests/data/mpdta.csv
est() { "$MEMPROF" estimate --unit countyreal --time year --cohort first.treat --outcome lemp --never-value 0 --bootstrap 0 "$@"; }
same_tables() {  # dirA dirB → 0 when every table has the same numbers within 1e-12
    for t in attgt agg_simple agg_cohort agg_time agg_event; do
        r=$(awk -F, -v cols="ATT,std_error" -v abs=1e-12 -v rel=0 -f tests/cli/compare_tables.awk "$1/$t.csv" "$2/$t.csv")
        case $r in ok*) ;; *) echo "$t: $r"; return 1;; esac
    done
}

# 1. missing outcome values: one empty value, one absent row → both units dropped and counted
awk -F, 'NR==1 || !($2==8001 && $1==2005) {print}' "$src" | awk -F, -v OFS=, 'NR>1 && $2==8019 && $1==2006 {$4=""} {print}' > "$tmp/missing.csv"
awk -F, 'NR==1 || ($2!=8001 && $2!=8019) {print}' "$src" > "$tmp/without.csv"
if est --csv "$tmp/missing.csv" --out "$tmp/m1" >"$tmp/log" 2>&1 && est --csv "$tmp/without.csv" --out "$tmp/m2" --quiet \
   && grep -q "dropped: 2 with missing periods" "$tmp/log" && why=$(same_tables "$tmp/m1" "$tmp/m2"); then
    echo "PASS badinput_missing_values_drop_units"
else echo "FAIL badinput_missing_values_drop_units: $(head -c 300 "$tmp/log") ${why:-}"; fi

# 1b. a cohort whose units all have a missing period → clear error
awk -F, -v OFS=, 'NR>1 && $5==2004 && $1==2005 {$4="NA"} {print}' "$src" > "$tmp/emptied.csv"
if ! est --csv "$tmp/emptied.csv" --out "$tmp/m3" >"$tmp/log" 2>&1 && grep -q "cohort 2004: every unit has a missing period" "$tmp/log"; then
    echo "PASS badinput_missing_values_empty_a_cohort"
else echo "FAIL badinput_missing_values_empty_a_cohort: $(cat "$tmp/log")"; fi

# 2. cohorts off the time grid: keep odd years only, so cohorts 2004 and 2006 fall between periods
awk -F, 'NR==1 || $1 % 2 == 1 {print}' "$src" > "$tmp/offgrid.csv"
if ! est --csv "$tmp/offgrid.csv" --out "$tmp/o" >"$tmp/log" 2>&1 && grep -q "is not one of the time periods" "$tmp/log"; then
    echo "PASS badinput_cohort_off_grid"
else echo "FAIL badinput_cohort_off_grid: $(cat "$tmp/log")"; fi

# 3. no never-treated units: R makes the last cohort (2007) the comparison group and drops the
#    periods from 2007 on; compare with that panel built by hand
awk -F, 'NR==1 || $5 != 0 {print}' "$src" > "$tmp/nonever.csv"
awk -F, -v OFS=, 'NR==1 {print; next} $5 != 0 && $1 < 2007 { if ($5 == 2007) $5 = 0; print }' "$src" > "$tmp/byhand.csv"
if est --csv "$tmp/nonever.csv" --out "$tmp/n1" >"$tmp/log" 2>&1 && grep -q "cohort 2007 is the comparison group" "$tmp/log" \
   && est --csv "$tmp/byhand.csv" --out "$tmp/n2" --quiet && why=$(same_tables "$tmp/n1" "$tmp/n2"); then
    echo "PASS badinput_no_never_treated_like_R"
else echo "FAIL badinput_no_never_treated_like_R: $(head -c 300 "$tmp/log") ${why:-}"; fi

# 4. constant outcomes: ATT 0 and every SE NA (R: se <= sqrt(eps)*10 is NA), with and without bootstrap
awk -F, -v OFS=, 'NR>1 {$4 = 1} {print}' "$src" > "$tmp/const.csv"
ok=1
for b in 0 200; do
    "$MEMPROF" estimate --csv "$tmp/const.csv" --unit countyreal --time year --cohort first.treat --outcome lemp --never-value 0 \
        --bootstrap $b --bootstrap-aggregates --out "$tmp/c$b" --quiet >"$tmp/log" 2>&1 || { ok=0; break; }
    awk -F, 'NR>1 && ($4 != 0 || $5 != "" || $8 != "") {bad=1} END {exit bad}' "$tmp/c$b/attgt.csv" || ok=0
    for t in agg_simple agg_cohort agg_time agg_event; do
        awk -F, 'NR>1 && $(NF-3) != "" {bad=1} END {exit bad}' "$tmp/c$b/$t.csv" || ok=0
    done
done
if [ $ok = 1 ]; then echo "PASS badinput_constant_outcome_se_na"; else echo "FAIL badinput_constant_outcome_se_na: $(cat "$tmp/log")"; fi

# 5. a row with the wrong number of fields → the line number in the error
awk 'NR==7 {print $0 ",extra"; next} {print}' "$src" > "$tmp/fields.csv"
if ! est --csv "$tmp/fields.csv" --out "$tmp/f" >"$tmp/log" 2>&1 && grep -q "fields.csv:7: expected 6 fields" "$tmp/log"; then
    echo "PASS badinput_wrong_field_count_line_number"
else echo "FAIL badinput_wrong_field_count_line_number: $(cat "$tmp/log")"; fi

# 6. usage errors and --help
"$MEMPROF" estimate --help | grep -q "usage: memprof estimate" && "$MEMPROF" simulate --help | grep -q "usage: memprof simulate" \
    && ! "$MEMPROF" estimate --csv x --out y 2>/dev/null && ! "$MEMPROF" estimate --control sometimes --csv "$src" 2>/dev/null \
    && echo "PASS estimate_simulate_help_and_usage" || echo "FAIL estimate_simulate_help_and_usage: unexpected exit status"
