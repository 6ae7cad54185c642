# libopt.sh - command-line words read the way docker's (and getopt_long's) parser reads
# them: bundled short flags (-dit, -aq, -fv), attached values (-eK=V, -p8080:80) and
# --long=value. Sourced by lib.sh.
# shellcheck shell=sh disable=SC2034 # (OPT* are read by the scripts)

# opt_split SHORT_WITH_VALUE WORD : split one word into OPT (the option: -x or --long),
# OPT_VAL and OPT_INLINE=1 when the value was attached to it, and OPT_REST, the flags of a
# bundle still to be read. SHORT_WITH_VALUE lists the letters whose option takes a value
# ("ewuvmph"): there the rest of the word is the value (-eFOO=1), elsewhere it is more
# flags (-dit: -d, then -it). The caller puts OPT_REST back in front of its words:
#     opt_split ewu "$1"; shift; [ -z "$OPT_REST" ] || set -- "-$OPT_REST" "$@"
# Words that are not options (IMAGE, -, a value) come back whole in OPT.
opt_split() {
    OPT=$2 OPT_VAL='' OPT_INLINE=0 OPT_REST=''
    case $2 in
        --*=*) OPT_VAL=${2#*=} OPT=${2%%=*} OPT_INLINE=1 ;;
        --* | - | [!-]*) ;;
        -??*)
            _o_rest=${2#-?}
            OPT=${2%"$_o_rest"}
            case $1 in
                *"${OPT#-}"*) OPT_VAL=$_o_rest OPT_INLINE=1 ;;
                *) OPT_REST=$_o_rest ;;
            esac
            ;;
    esac
}

# opt_value WORDS_LEFT NEXT : the value of an option that takes one: the attached one, else
# the next word (the caller shifts it when OPT_TOOK=1); none left is a usage error
opt_value() {
    OPT_TOOK=0
    [ "$OPT_INLINE" = 0 ] || return 0
    [ "$1" -gt 0 ] || usage "option $OPT needs a value"
    OPT_VAL=$2 OPT_TOOK=1
}

# opt_flag : an option that takes no value was given one (--rm=yes)
opt_flag() {
    [ "$OPT_INLINE" = 0 ] || usage "option $OPT takes no value"
}
