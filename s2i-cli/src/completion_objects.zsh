
# Object names, read from the store with `s2i get` in the namespace and
# store the command line names: after the kind of `get`, `describe`,
# `delete` and `export` (`s2i get is <TAB>`, `s2i get is/<TAB>`), and the
# objects of `start-build` (build configs), `logs` (build/NAME, bc/NAME),
# `cancel-build` (builds), `tag` (image stream tags) and `route export`
# (routes). Anything else is completed by `_s2i` above.
@TAKES_VALUE@
_s2i_objects() {
    local cur="${words[CURRENT]}" verb="" kind="" word
    local -a scope names
    local -i i
    for ((i = 2; i < CURRENT; i++)); do
        word="${words[i]}"
        case "$word" in
            -n|--namespace|--store) scope+=("$word" "${words[i+1]}"); ((i++)); continue ;;
            --namespace=*|--store=*) scope+=("$word"); continue ;;
            -*) _s2i_takes_value "$verb" "$word" && ((i++)); continue ;;
        esac
        if [[ -z "$verb" ]]; then
            case "$word" in
                get|describe|delete|export) verb="$word" ;;
                start-build) verb="$word" kind=buildconfigs ;;
                cancel-build) verb="$word" kind=builds ;;
                tag) verb="$word" kind=imagestreamtags ;;
                logs|route) verb="$word" ;;
                *) _s2i "$@"; return ;;
            esac
        elif [[ "$verb" == route ]]; then
            if [[ "$word" != export ]]; then
                _s2i "$@"
                return
            fi
            verb="route export" kind=routes
        elif [[ -z "$kind" && "$verb" != logs ]]; then
            kind="$word"
        fi
    done
    # Options, and the value of an option (a directory, a format), are clap's.
    if [[ -z "$verb" || "$verb" == route || "$cur" == -* ]] || _s2i_takes_value "$verb" "${words[CURRENT-1]}"; then
        _s2i "$@"
        return
    fi
    if [[ "$cur" == */* ]]; then
        kind="${cur%%/*}"
        names=(${=$(s2i "${scope[@]}" get "$kind" -o "jsonpath={range .items[*]}$kind/{.metadata.name} {end}" 2>/dev/null)})
    elif [[ "$verb" == logs ]]; then
        names=(${=$(s2i "${scope[@]}" get builds -o 'jsonpath={range .items[*]}build/{.metadata.name} {end}' 2>/dev/null)})
        names+=(${=$(s2i "${scope[@]}" get buildconfigs -o 'jsonpath={range .items[*]}bc/{.metadata.name} {end}' 2>/dev/null)})
    elif [[ -n "$kind" && "$kind" != */* ]]; then
        names=(${=$(s2i "${scope[@]}" get "$kind" -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null)})
    else
        _s2i "$@"
        return
    fi
    compadd -Q -- "${names[@]}"
}

if [ "$funcstack[1]" = "_s2i" ]; then
    # Loaded from `fpath` as `_s2i`: complete through the names from now on.
    compdef _s2i_objects s2i
    _s2i_objects "$@"
else
    compdef _s2i_objects s2i
fi
