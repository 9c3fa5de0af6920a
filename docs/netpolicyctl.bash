# bash completion for netpolicyctl(8)                      -*- shell-script -*-
# Installed as <bash-completion completionsdir>/netpolicyctl.

_netpolicyctl() {
    local cur prev words cword
    _init_completion || return

    # Each command and what its arguments are ("file": one policy file,
    # "": none). A new command is one more entry here.
    local -A commands=(
        [check]=file
        [export]=file
        [diff]=file
        [status]=
        [interfaces]=
        [rules]=
        [reload]=
    )
    local global_options='--runtime-dir --json --help --version'

    if [[ $prev == --runtime-dir ]]; then
        _filedir -d
        return
    fi

    # The command is the first word that is neither an option nor the value
    # of --runtime-dir; count the arguments given after it.
    local i command='' arguments=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --runtime-dir) ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $command ]]; then
                    command=${words[i]}
                else
                    ((arguments++))
                fi
                ;;
        esac
    done

    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$global_options" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "${!commands[*]}" -- "$cur")
        fi
        return
    fi

    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W '--json --help' -- "$cur")
        return
    fi
    if [[ ${commands[$command]-} == file ]] && ((arguments == 0)); then
        _filedir '@(yaml|yml)'
    fi
} &&
    complete -F _netpolicyctl netpolicyctl

# ex: filetype=sh
