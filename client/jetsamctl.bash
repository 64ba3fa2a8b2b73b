# jetsamctl.bash: bash completion for jetsamctl (commands, options, roles, files)
_jetsamctl()
{
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	local commands="status devices limits limit events reports sync import reparse watch parse help"
	local global="--socket --json --csv --help --version"
	local cmd="" i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket) ((i++)) ;;
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
	--since|--until)
		COMPREPLY=($(compgen -W "15m 1h 2h 1d 7d now" -- "$cur")); return ;;
	--product|--build|--process|--udid|--limit|--timeout|--max-size)
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
	limits) opts+=" --product --build --role" ;;
	limit) opts+=" --product --build --role --min" ;;
	events) opts+=" --udid --product --build --process --reason --role --since --until --limit --fail-if-any" ;;
	reports) opts+=" --udid --status --limit" ;;
	sync) opts+=" --wait" ;;
	watch) opts+=" --until-event --timeout --udid --process --events-only" ;;
	parse) opts+=" --max-size" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ $cmd == import || $cmd == parse ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
	fi
}
complete -F _jetsamctl jetsamctl
