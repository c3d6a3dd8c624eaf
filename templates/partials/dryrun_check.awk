# dryrun_check.awk: llama-quantize --dry-run output against the plan's tensor types.
#
#     awk -v planfile=PLAN_TYPES -f dryrun_check.awk DRY_RUN_LOG
#
# PLAN_TYPES holds one `NAME TYPE` line per planned tensor (TYPE upper-case, as in the plan).
# Dry-run lines look like `[  84/  96] NAME - [ne0, ...], type =    f16, size = A MiB -> B MiB (q6_K)`:
# the type in parentheses is the one llama-quantize would write; a line without it keeps its
# source type. Every other line is ignored. Prints one line per mismatch (missing, other type,
# not in the plan) and exits 1 if there is any, or if nothing was compared; exits 0 otherwise.
#
# Included verbatim into quantize.sh. POSIX awk only (it runs under macOS awk, mawk, busybox and
# gawk): no gawk extensions, no regex intervals.
BEGIN {
    while ((getline line < planfile) > 0) {
        split(line, f, " ")
        want[f[1]] = f[2]
        order[++n] = f[1]
    }
}
/^\[ *[0-9]+\/ *[0-9]+\] / {
    s = $0
    sub(/^\[ *[0-9]+\/ *[0-9]+\] +/, "", s)
    name = s
    sub(/ .*/, "", name)
    t = s
    if (match(s, /\([A-Za-z0-9_]+\)[ \t\r]*$/)) {
        t = substr(s, RSTART + 1, RLENGTH - 1)
        sub(/\).*/, "", t)
    } else {
        sub(/.*type = */, "", t)
        sub(/,.*/, "", t)
    }
    if (!(name in got)) {
        seen++
    }
    got[name] = toupper(t)
}
END {
    bad = 0
    for (i = 1; i <= n; i++) {
        k = order[i]
        if (!(k in got)) {
            print "  " k ": planned " want[k] ", missing from the dry run"
            bad++
        } else if (got[k] != want[k]) {
            print "  " k ": planned " want[k] ", llama-quantize would write " got[k]
            bad++
        }
    }
    for (k in got) {
        if (!(k in want)) {
            print "  " k ": not in the plan, llama-quantize would write " got[k]
            bad++
        }
    }
    if (n == 0 || seen == 0) {
        print "  no tensors compared (empty plan or unreadable dry-run output)"
        bad++
    }
    exit (bad > 0 ? 1 : 0)
}
