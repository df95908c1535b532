
# Object names after the kind of `get`, `describe`, `delete` and `export`
# (`s2i get is <TAB>`, `s2i get is/<TAB>`), read from the store with
# `s2i get`, in the namespace and store the command line names.
_s2i_objects() {
    _s2i "$@"
    local cur="${COMP_WORDS[COMP_CWORD]}" verb="" kind="" i word
    local -a scope=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        case "$word" in
            -n|--namespace|--store) scope+=("$word" "${COMP_WORDS[i+1]}"); ((i++)); continue ;;
            --namespace=*|--store=*) scope+=("$word"); continue ;;
            -o|--output|-l|--selector) ((i++)); continue ;;
            -A|--all-namespaces) continue ;;
            -*) continue ;;
        esac
        if [[ -z "$verb" ]]; then
            case "$word" in get|describe|delete|export) verb="$word" ;; *) return 0 ;; esac
        elif [[ -z "$kind" ]]; then
            kind="$word"
        fi
    done
    [[ -n "$verb" && "$cur" != -* ]] || return 0
    local names
    if [[ "$cur" == */* ]]; then
        kind="${cur%%/*}"
        names=$(s2i "${scope[@]}" get "$kind" -o "jsonpath={range .items[*]}$kind/{.metadata.name} {end}" 2>/dev/null)
    elif [[ -n "$kind" && "$kind" != */* ]]; then
        names=$(s2i "${scope[@]}" get "$kind" -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null)
    else
        return 0
    fi
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
}

complete -F _s2i_objects -o bashdefault -o default s2i
