#!/usr/bin/env bats
# The conventions every tool shares, and the man pages staying true to --help.

load helpers

TOOLS="nsenter-rs cgset layermount netbridge ctr-ps ctr-state ctr-oci"

# the --long options a --help text mentions
long_options() {
    grep -oE '(^|[ ,[])--[a-z][a-z0-9-]+' | sed 's/^[ ,[]//' | sort -u
}

# the subcommands a --help text lists under "Commands:"
subcommands() {
    awk '/^Commands:/{on=1; next} on && /^[A-Za-z]/{on=0} on && /^  [a-z]/{print $1}' | grep -v '^help$' || true
}

@test "every tool answers --version as 'TOOL (ctrkit) X.Y.Z'" {
    for t in $TOOLS; do
        run_tool "$t" --version
        assert_match "$output" "^$t \(ctrkit\) [0-9]+\.[0-9]+\.[0-9]+$"
    done
}

@test "every script answers --version with the tools' version" {
    want=$(nsenter-rs --version | awk '{print $3}')
    for s in "$CTRKIT_SRC"/scripts/ctr-* "$CTRKIT_SRC"/scripts/mkimage-*; do
        run_tool "$s" --version
        assert_eq "$output" "$(basename "$s") (ctrkit) $want"
    done
}

@test "every tool answers --help on stdout with its synopsis" {
    for t in $TOOLS; do
        run_tool "$t" --help
        assert_contains "$output" "Usage: $t"
        assert_eq "$stderr" ""
    done
}

@test "a bad flag is one line on stderr and exit 2, naming the flag" {
    for t in $TOOLS; do
        run_tool --rc 2 "$t" --no-such-flag
        assert_error "$t" "--no-such-flag"
        assert_eq "$output" ""
    done
}

@test "checked-in man pages match --generate man" {
    for t in $TOOLS; do
        diff -u "$CTRKIT_SRC/man/$t.1" <("$t" --generate man) || {
            echo "man/$t.1 is stale: run 'make man'" >&2
            return 1
        }
    done
}

@test "every option in --help (and each subcommand's) appears in the man page" {
    for t in $TOOLS; do
        page="$CTRKIT_SRC/man/$t.1"
        help=$("$t" --help)
        opts=$(printf '%s\n' "$help" | long_options)
        for sub in $(printf '%s\n' "$help" | subcommands); do
            opts="$opts $("$t" "$sub" --help | long_options)"
        done
        for o in $opts; do
            grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$page" || {
                echo "man/$t.1 lacks $o" >&2
                return 1
            }
        done
    done
}

@test "every script's options appear in its man page" {
    for s in "$CTRKIT_SRC"/scripts/ctr-* "$CTRKIT_SRC"/scripts/mkimage-*; do
        [ -f "$s" ] || continue
        name=$(basename "$s")
        page="$CTRKIT_SRC/man/$name.1"
        [ -f "$page" ] || { echo "no man page for scripts/$name" >&2; return 1; }
        for o in $("$s" --help 2>&1 | long_options); do
            grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$page" || {
                echo "man/$name.1 lacks $o" >&2
                return 1
            }
        done
    done
}

@test "man pages render without warnings and have EXAMPLES" {
    for p in "$CTRKIT_SRC"/man/*.1 "$CTRKIT_SRC"/man/*.7; do
        warnings=$(groff -man -ww -z "$p" 2>&1)
        assert_eq "$warnings" "" "groff warnings in $p"
        grep -q '^\.SH EXAMPLES' "$p" || { echo "$p has no EXAMPLES" >&2; return 1; }
    done
}

@test "completions generate for bash, zsh and fish" {
    for t in $TOOLS; do
        for sh in bash zsh fish; do
            run_tool "$t" --generate "$sh"
            assert_contains "$output" "$t"
        done
        run_tool --rc 2 "$t" --generate nosuchshell
        assert_error "$t" "nosuchshell"
    done
}

@test "make install into a temp prefix installs binaries, man pages and completions" {
    [ "${CTRKIT_TEST_INSTALL:-1}" = 1 ] || skip "CTRKIT_TEST_INSTALL=0"
    prefix="$TEST_DIR/prefix"
    # install from the debug build, so the test does not need a release build
    run_tool make -C "$CTRKIT_SRC" --no-print-directory install-files PREFIX="$prefix" RELEASE="$CTRKIT_BIN"
    for t in $TOOLS; do
        [ -x "$prefix/bin/$t" ]
        "$prefix/bin/$t" --version
        [ -f "$prefix/share/man/man1/$t.1" ]
        MANWIDTH=80 man -l "$prefix/share/man/man1/$t.1" >/dev/null 2>"$TEST_DIR/man.err"
        assert_eq "$(cat "$TEST_DIR/man.err")" ""
        [ -s "$prefix/share/bash-completion/completions/$t" ]
        [ -s "$prefix/share/zsh/site-functions/_$t" ]
        [ -s "$prefix/share/fish/vendor_completions.d/$t.fish" ]
    done
    [ -f "$prefix/share/man/man7/ctrkit.7" ]
    # the scripts, their completions too (made from their --help)
    for s in "$CTRKIT_SRC"/scripts/ctr-*; do
        n=$(basename "$s")
        [ -x "$prefix/bin/$n" ]
        assert_contains "$(cat "$prefix/share/bash-completion/completions/$n")" "--help"
        assert_contains "$(cat "$prefix/share/zsh/site-functions/_$n")" "#compdef $n"
        assert_contains "$(cat "$prefix/share/fish/vendor_completions.d/$n.fish")" "complete -c $n -l help"
    done
    assert_contains "$(cat "$prefix/share/bash-completion/completions/ctr-run")" "--restart"
    bash -n "$prefix/share/bash-completion/completions/ctr-run"
}
