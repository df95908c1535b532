
# Object names after the kind of `get`, `describe`, `delete` and `export`
# (`s2i get is <TAB>`, `s2i get is/<TAB>`), read from the store with
# `s2i get`, in the namespace and store the command line names.
function __s2i_object_names
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l verb
    set -l kind
    set -l scope
    set -l i 2
    while test $i -le (count $words)
        set -l word $words[$i]
        set i (math $i + 1)
        switch $word
            case -n --namespace --store
                if test $i -le (count $words)
                    set -a scope $word $words[$i]
                end
                set i (math $i + 1)
            case -o --output -l --selector
                set i (math $i + 1)
            case '--namespace=*' '--store=*'
                set -a scope $word
            case '-*'
            case '*'
                if test -z "$verb"
                    contains -- $word get describe delete export; or return
                    set verb $word
                else if test -z "$kind"
                    set kind $word
                end
        end
    end
    test -n "$verb"; or return
    string match -q -- '-*' "$cur"; and return
    if string match -q -- '*/*' "$cur"
        set kind (string split -m 1 / -- "$cur")[1]
        s2i $scope get $kind -o "jsonpath={range .items[*]}$kind/{.metadata.name} {end}" 2>/dev/null | string split -n ' '
    else if test -n "$kind"; and not string match -q -- '*/*' "$kind"
        s2i $scope get $kind -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null | string split -n ' '
    end
end

complete -c s2i -n '__fish_s2i_using_subcommand get describe delete export' -f -a '(__s2i_object_names)'
