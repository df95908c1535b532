
# Object names after the kind of `get`, `describe`, `delete` and `export`
# (`s2i get is <TAB>`, `s2i get is/<TAB>`), read from the store with
# `s2i get`, in the namespace and store the command line names; anything
# else is completed by `_s2i` above.
_s2i_objects() {
    local cur="${words[CURRENT]}" verb="" kind="" word
    local -a scope names
    local -i i
    for ((i = 2; i < CURRENT; i++)); do
        word="${words[i]}"
        case "$word" in
            -n|--namespace|--store) scope+=("$word" "${words[i+1]}"); ((i++)); continue ;;
            --namespace=*|--store=*) scope+=("$word"); continue ;;
            -o|--output|-l|--selector) ((i++)); continue ;;
            -*) continue ;;
        esac
        if [[ -z "$verb" ]]; then
            case "$word" in get|describe|delete|export) verb="$word" ;; *) _s2i "$@"; return ;; esac
        elif [[ -z "$kind" ]]; then
            kind="$word"
        fi
    done
    if [[ -z "$verb" || "$cur" == -* ]]; then
        _s2i "$@"
        return
    fi
    if [[ "$cur" == */* ]]; then
        kind="${cur%%/*}"
        names=(${=$(s2i "${scope[@]}" get "$kind" -o "jsonpath={range .items[*]}$kind/{.metadata.name} {end}" 2>/dev/null)})
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
