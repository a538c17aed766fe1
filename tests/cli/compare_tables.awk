# compare_tables.awk — compares two CSV tables with the same header, rows matched by the
# key columns (every column before "ATT"). Usage:
#   awk -F, -v cols="ATT,std_error" -v abs=1e-9 -v rel=1e-9 -f compare_tables.awk EXPECTED OURS
# Prints "ok rows=N max_abs=D" or "bad ..." (a missing row, an empty/non-empty mismatch, or a
# difference above abs + rel·|expected|).
FNR == 1 {
    nk = 0
    for (j = 1; j <= NF; j++) { name[FILENAME, $j] = j; if ($j == "ATT") nk = j - 1 }
    ncols = split(cols, want, ",")
    next
}
{
    key = ""
    for (j = 1; j <= nk; j++) key = key "|" $j
    if (FNR == NR) { for (c = 1; c <= ncols; c++) exp_[key, c] = $(name[FILENAME, want[c]]); keys[key] = 1; nexp++; next }
    seen[key] = 1
    if (!(key in keys)) { extra++; next }
    for (c = 1; c <= ncols; c++) {
        e = exp_[key, c]; o = $(name[FILENAME, want[c]])
        if ((e == "") != (o == "")) { if (!mism) mism = key " " want[c] " expected '" e "' got '" o "'"; continue }
        if (e == "") continue
        d = e - o; if (d < 0) d = -d
        ae = e < 0 ? -e : e
        if (d > maxd) maxd = d
        if (d > abs + rel * ae && !bad) bad = key " " want[c] " expected " e " got " o
    }
    n++
}
END {
    for (k in keys) if (!(k in seen)) { missing = k; break }
    if (missing != "") printf "bad missing row %s\n", missing
    else if (extra) printf "bad %d extra rows\n", extra
    else if (mism != "") printf "bad %s\n", mism
    else if (bad != "") printf "bad %s (max_abs=%.3g)\n", bad, maxd
    else printf "ok rows=%d max_abs=%.3g\n", n, maxd
}
