# jetsamctl.bash: bash completion for jetsamctl (commands, options, roles, files; UDIDs,
# products, builds and processes from the daemon when it runs)

# The values of a JSON string member from the daemon: _jetsamctl_ask MEMBER ARGS...
# (jetsamctl --json ARGS, at most 2 s, nothing when the daemon does not answer)
_jetsamctl_ask()
{
	local member=$1 prog=${words[0]:-jetsamctl}
	shift
	local t=()
	command -v timeout >/dev/null 2>&1 && t=(timeout 2)
	"${t[@]}" "$prog" "${sock[@]}" --json "$@" 2>/dev/null </dev/null |
		grep -o "\"$member\":\"[^\"]*\"" | sed -e "s/^\"$member\":\"//" -e 's/"$//' |
		sort -u
}

_jetsamctl()
{
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	local commands="status devices limits limit events reports cursor gate sync import reparse watch parse help"
	local global="--socket --fleet --json --csv --help --version"
	local cmd="" i sock=()
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket) sock=(--socket "${words[i + 1]}"); ((i++)) ;;
		--fleet) sock=(--fleet "${words[i + 1]}"); ((i++)) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done

	case $prev in
	--socket)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--role)
		COMPREPLY=($(compgen -W "foreground daemon background" -- "$cur")); return ;;
	--status)
		COMPREPLY=($(compgen -W "ok skipped error" -- "$cur")); return ;;
	--reason)
		COMPREPLY=($(compgen -W "per-process-limit highwater vm-pageshortage vnode-limit exc-resource-memory" -- "$cur")); return ;;
	--since|--until|--collected-since)
		COMPREPLY=($(compgen -W "15m 1h 2h 1d 7d now" -- "$cur")); return ;;
	--udid)
		COMPREPLY=($(compgen -W "$(_jetsamctl_ask udid devices)" -- "$cur")); return ;;
	--product)
		COMPREPLY=($(compgen -W "$(_jetsamctl_ask product limits; _jetsamctl_ask product devices)" -- "$cur")); return ;;
	--build)
		COMPREPLY=($(compgen -W "$(_jetsamctl_ask build limits)" -- "$cur")); return ;;
	--os)
		COMPREPLY=($(compgen -W "$(_jetsamctl_ask os_version limits)" -- "$cur")); return ;;
	--process)
		COMPREPLY=($(compgen -W "$(_jetsamctl_ask process events --limit 200)" -- "$cur")); return ;;
	--junit|--tap)
		COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	--limit|--timeout|--max-size|--after|--settle)
		return ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local opts="--json --csv --help"
	case $cmd in
	limits) opts+=" --product --build --os --role" ;;
	limit) opts+=" --product --build --os --role --min" ;;
	events) opts+=" --udid --product --build --os --process --reason --role --since --until --limit --fail-if-any --after --collected-since" ;;
	reports) opts+=" --udid --status --limit" ;;
	sync) opts+=" --wait" ;;
	watch) opts+=" --until-event --timeout --udid --process --kills --events-only" ;;
	parse) opts+=" --max-size" ;;
	gate) [[ ${words[cword - 1]} != gate ]] && opts+=" --process --udid --settle --junit --tap" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ $cmd == sync ]]; then
		COMPREPLY=($(compgen -W "$(_jetsamctl_ask udid devices)" -- "$cur"))
	elif [[ $cmd == gate && ${words[cword - 1]} == gate ]]; then
		COMPREPLY=($(compgen -W "begin end" -- "$cur"))
	elif [[ $cmd == help ]]; then
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
	elif [[ $cmd == import || $cmd == parse ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
	fi
}
complete -F _jetsamctl jetsamctl
