#!/usr/bin/env bash
# R `did` reference (tests/data/mpdta-r-did-reference.csv: analytic att_gt + aggte on mpdta,
# never- and not-yet-treated controls, varying base, no anticipation): every ATT(g,t), SE and
# aggregate within 1e-9 absolute.
set -u
MEMPROF=${MEMPROF:-build/memprof}
ref=tests/data/mpdta-r-did-reference.csv
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for cg in nevertreated notyettreated; do
    ctrl=never_treated; [ "$cg" = notyettreated ] && ctrl=not_yet_treated
    out=$tmp/$cg
    if ! "$MEMPROF" estimate --csv tests/data/mpdta.csv --unit countyreal --time year --cohort first.treat \
            --outcome lemp --never-value 0 --control "$ctrl" --bootstrap 0 --quiet --out "$out" >"$tmp/log" 2>&1; then
        echo "FAIL mpdta_$cg: estimate failed: $(cat "$tmp/log")"; continue
    fi
    # ours: key → "att se" for every table, in the reference's naming
    { awk -F, 'NR>1 {print "att_gt," $1 "," $3 "," $4 "," $5}' "$out/attgt.csv"
      awk -F, 'NR>1 {k=($1=="overall")?"dynamic_overall,,":"dynamic," $1 ","; print k "," $2 "," $3}' "$out/agg_event.csv"
      awk -F, 'NR>1 {k=($1=="overall")?"group_overall,,":"group," $1 ","; print k "," $2 "," $3}' "$out/agg_cohort.csv"
      awk -F, 'NR>1 {k=($1=="overall")?"calendar_overall,,":"calendar," $1 ","; print k "," $2 "," $3}' "$out/agg_time.csv"
      awk -F, 'NR>1 {print "simple_overall,,," $1 "," $2}' "$out/agg_simple.csv"
    } | sed 's/,,,/,,/' > "$tmp/ours"
    result=$(awk -F, -v cg="$cg" '
        FNR==NR { key=$1 "," $2 "," $3; if ($1 ~ /overall/) key=$1 ",,"; a[key]=$(NF-1); s[key]=$NF; next }
        $1==cg { key=$2 "," $3 "," $4; n++
                 if (!(key in a)) { printf "missing %s\n", key; bad=1; next }
                 d=a[key]-$5; if (d<0) d=-d; if (d>m) m=d
                 e=s[key]-$6; if (e<0) e=-e; if (e>m) m=e }
        END { if (n < 30) bad=1; printf "%s rows=%d max_abs_dev=%.3g\n", (bad || m > 1e-9) ? "bad" : "ok", n, m }' "$tmp/ours" "$ref")
    case $result in
        ok*) echo "PASS mpdta_$cg ($result)";;
        *) echo "FAIL mpdta_$cg: $result";;
    esac
done
