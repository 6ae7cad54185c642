#!/bin/sh
# completions.sh SHELL SCRIPT - print a bash, zsh or fish completion for one of ctrkit's
# scripts, made from its --help: its options, then container names (ctr-ls -a) or files.
# Used by `make install`; the tools make their own (TOOL --generate SHELL).
# shellcheck disable=SC2016 # (the completions' own code is printed as it is)
set -eu
[ $# -eq 2 ] || { echo "usage: completions.sh bash|zsh|fish SCRIPT" >&2 && exit 2; }
shell=$1 script=$2
name=${script##*/}
# the options: every -x and --long word at the start of a --help option line
# (the option part of the line only: the text before its description's two spaces)
opts=$("$script" --help | sed -n 's/^ \{1,8\}\(-[^ ].*\)$/\1/p' | sed 's/   *.*//' |
    grep -o -- '-\{1,2\}[A-Za-z][A-Za-z0-9-]*' | sort -u | tr '\n' ' ')
# the scripts whose arguments are containers (their usage names CONTAINER or NAME)
if "$script" --help | head -n 1 | grep -q 'CONTAINER\|NAME'; then containers=1; else containers=0; fi
case $shell in
    bash)
        fn=_ctrkit_$(echo "$name" | tr '-' '_')
        printf '%s() {\n' "$fn"
        printf '    local cur=${COMP_WORDS[COMP_CWORD]}\n'
        printf '    if [[ $cur == -* ]]; then\n'
        printf '        COMPREPLY=($(compgen -W "%s" -- "$cur"))\n' "$opts"
        if [ "$containers" = 1 ]; then
            printf '    else\n'
            printf '        COMPREPLY=($(compgen -W "$(ctr-ls -a --format "{{.Names}}" 2>/dev/null)" -- "$cur"))\n'
        fi
        printf '    fi\n}\n'
        printf 'complete -o default -F %s %s\n' "$fn" "$name"
        ;;
    zsh)
        printf '#compdef %s\n' "$name"
        printf 'if [[ $PREFIX == -* ]]; then\n    compadd -- %s\n' "$opts"
        if [ "$containers" = 1 ]; then
            printf 'else\n    compadd -- ${(f)"$(ctr-ls -a --format "{{.Names}}" 2>/dev/null)"}\n'
            printf '    _files\n'
        else
            printf 'else\n    _files\n'
        fi
        printf 'fi\n'
        ;;
    fish)
        for o in $opts; do
            case $o in
                --*) printf 'complete -c %s -l %s\n' "$name" "${o#--}" ;;
                -?) printf 'complete -c %s -s %s\n' "$name" "${o#-}" ;;
            esac
        done
        if [ "$containers" = 1 ]; then
            printf "complete -c %s -f -a '(ctr-ls -a --format \"{{.Names}}\" 2>/dev/null)'\n" "$name"
        fi
        ;;
    *) echo "completions.sh: error: unknown shell '$shell' (bash, zsh or fish)" >&2 && exit 2 ;;
esac
