
# Object names, read from the store with `s2i get` in the namespace and
# store the command line names: after the kind of `get`, `describe`,
# `delete` and `export` (`s2i get is <TAB>`, `s2i get is/<TAB>`), and the
# objects of `start-build` (build configs), `logs` (build/NAME, bc/NAME),
# `cancel-build` (builds), `tag` (image stream tags) and `route export`
# (routes).
@TAKES_VALUE@
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
            case '--namespace=*' '--store=*'
                set -a scope $word
            case '-*'
                if __s2i_takes_value "$verb" $word
                    set i (math $i + 1)
                end
            case '*'
                if test -z "$verb"
                    switch $word
                        case get describe delete export logs route
                            set verb $word
                        case start-build
                            set verb $word
                            set kind buildconfigs
                        case cancel-build
                            set verb $word
                            set kind builds
                        case tag
                            set verb $word
                            set kind imagestreamtags
                        case '*'
                            return
                    end
                else if test "$verb" = route
                    test "$word" = export; or return
                    set verb 'route export'
                    set kind routes
                else if test -z "$kind"; and test "$verb" != logs
                    set kind $word
                end
        end
    end
    test -n "$verb"; and test "$verb" != route; or return
    string match -q -- '-*' "$cur"; and return
    # The value of an option (a directory, a format) is the option's.
    test (count $words) -gt 1; and __s2i_takes_value "$verb" $words[-1]; and return
    if string match -q -- '*/*' "$cur"
        set kind (string split -m 1 / -- "$cur")[1]
        s2i $scope get $kind -o "jsonpath={range .items[*]}$kind/{.metadata.name} {end}" 2>/dev/null | string split -n ' '
    else if test "$verb" = logs
        s2i $scope get builds -o 'jsonpath={range .items[*]}build/{.metadata.name} {end}' 2>/dev/null | string split -n ' '
        s2i $scope get buildconfigs -o 'jsonpath={range .items[*]}bc/{.metadata.name} {end}' 2>/dev/null | string split -n ' '
    else if test -n "$kind"; and not string match -q -- '*/*' "$kind"
        s2i $scope get $kind -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null | string split -n ' '
    end
end

complete -c s2i -n '__fish_s2i_using_subcommand get describe delete export start-build logs cancel-build tag' -f -a '(__s2i_object_names)'
complete -c s2i -n '__fish_s2i_using_subcommand route; and __fish_seen_subcommand_from export' -f -a '(__s2i_object_names)'
