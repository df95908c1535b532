
# Object names, read from the store with `s2i get` in the namespace and
# store the command line names: after the kind of `get`, `describe`,
# `delete` and `export` (`s2i get is <TAB>`, `s2i get is/<TAB>`), and the
# objects of `start-build` (build configs), `logs` (build/NAME, bc/NAME),
# `cancel-build` (builds), `tag` (image stream tags) and `route export`
# (routes). Everything else is clap's `_s2i`.
@TAKES_VALUE@
_s2i_objects() {
    _s2i "$@"
    local cur="${COMP_WORDS[COMP_CWORD]}" verb="" kind="" i word
    local -a scope=()
    # bash splits STREAM:TAG at the colon (COMP_WORDBREAKS): complete the
    # word as typed, and answer with what follows its last colon.
    if [[ -n "$COMP_LINE" ]]; then
        local line="${COMP_LINE:0:COMP_POINT}"
        cur="${line##*[[:space:]]}"
    fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        case "$word" in
            -n|--namespace|--store) scope+=("$word" "${COMP_WORDS[i+1]}"); ((i++)); continue ;;
            --namespace=*|--store=*) scope+=("$word"); continue ;;
            -*) _s2i_takes_value "$verb" "$word" && ((i++)); continue ;;
            :) continue ;;
        esac
        if [[ -z "$verb" ]]; then
            case "$word" in
                get|describe|delete|export) verb="$word" ;;
                start-build) verb="$word" kind=buildconfigs ;;
                cancel-build) verb="$word" kind=builds ;;
                tag) verb="$word" kind=imagestreamtags ;;
                logs|route) verb="$word" ;;
                *) return 0 ;;
            esac
        elif [[ "$verb" == route ]]; then
            [[ "$word" == export ]] || return 0
            verb="route export" kind=routes
        elif [[ -z "$kind" && "$verb" != logs ]]; then
            kind="$word"
        fi
    done
    [[ -n "$verb" && "$verb" != route && "$cur" != -* ]] || return 0
    # The value of an option is the option's (a directory, a format).
    ((COMP_CWORD > 1)) && _s2i_takes_value "$verb" "${COMP_WORDS[COMP_CWORD-1]}" && return 0
    local names
    if [[ "$cur" == */* ]]; then
        kind="${cur%%/*}"
        names=$(s2i "${scope[@]}" get "$kind" -o "jsonpath={range .items[*]}$kind/{.metadata.name} {end}" 2>/dev/null)
    elif [[ "$verb" == logs ]]; then
        names="$(s2i "${scope[@]}" get builds -o 'jsonpath={range .items[*]}build/{.metadata.name} {end}' 2>/dev/null)
$(s2i "${scope[@]}" get buildconfigs -o 'jsonpath={range .items[*]}bc/{.metadata.name} {end}' 2>/dev/null)"
    elif [[ -n "$kind" && "$kind" != */* ]]; then
        names=$(s2i "${scope[@]}" get "$kind" -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null)
    else
        return 0
    fi
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
    if [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]]; then
        local typed="${cur%"${cur##*:}"}"
        COMPREPLY=("${COMPREPLY[@]#"$typed"}")
    fi
}

complete -F _s2i_objects -o bashdefault -o default s2i
