/* jetsamctl.c: entry point of jetsamctl: global options and command dispatch */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "ctl.h"
#include "fleet.h"
#include "protocol.h"
#include "suggest.h"

static const struct command {
	const char *name;
	int (*main)(struct ctl *ctl, int argc, char **argv);
	const char *synopsis;
} commands[] = {
	{"status", status_main, "status                 the daemon's state"},
	{"devices", devices_main, "devices                every phone seen, attached first"},
	{"limits", limits_main, "limits [FILTERS]       observed limits by product, build, role"},
	{"limit", limit_main, "limit --product P ...  one limit in bytes (exit 4: unknown)"},
	{"events", events_main, "events [FILTERS]       kill events (--fail-if-any: exit 3)"},
	{"reports", reports_main, "reports [FILTERS]      collected reports"},
	{"sync", sync_main, "sync [UDID] [--wait]   pull new reports from phones now"},
	{"import", import_main, "import FILE...         send report files to the daemon"},
	{"reparse", reparse_main, "reparse                re-read every archived report"},
	{"cursor", cursor_main,
	 "cursor                 the collection cursor (for events --after)"},
	{"gate", gate_main, "gate begin | end TOKEN a CI gate: exit 3 when APP was killed"},
	{"watch", watch_main, "watch [--until-event]  stream kill events and phone changes"},
	{"parse", parse_main, "parse FILE...          parse reports offline (no daemon)"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: jetsamctl [--socket PATH | --fleet CONNINFO] [--json | --csv] COMMAND "
		   "[ARGS]\n"
		   "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fprintf(f, "--fleet CONNINFO (or $" FLEET_ENV "): limits, limit, events and devices across "
		   "the farm,\nfrom the PostgreSQL fleet store (a libpq conninfo or URI; the "
		   "password in ~/.pgpass).\n"
		   "`jetsamctl help COMMAND` describes a command; see jetsamctl(1).\n");
}

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The command called name, or NULL after a one-line usage error (with "did you mean") */
static const struct command *find_command(const char *name)
{
	const char *words[N_COMMANDS + 1], *best;
	size_t i;

	for (i = 0; i < N_COMMANDS; i++) {
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
		words[i] = commands[i].name;
	}
	words[N_COMMANDS] = "help";
	best = suggest_word(name, words, N_COMMANDS + 1);
	if (best != NULL)
		ctl_usage_error(NULL, "unknown command '%s'; did you mean '%s'?", name, best);
	else
		ctl_usage_error(NULL, "unknown command '%s'", name);
	return NULL;
}

/* jetsamctl help [COMMAND]: the overview, or the --help of COMMAND */
static int help_main(struct ctl *ctl, int argc, char **argv)
{
	static char help_opt[] = "--help";
	const struct command *cmd;
	char *args[3];

	if (argc < 2) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if (argc > 2) {
		ctl_usage_error("help", "unexpected argument '%s'", argv[2]);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (cmd == NULL)
		return CTL_EXIT_USAGE;
	args[0] = argv[1];
	args[1] = help_opt;
	args[2] = NULL;
	return cmd->main(ctl, 2, args);
}

/* --fleet (or $JETSAMCTL_FLEET when no --socket is given) for command name: CMD_RUN or an
 * exit code */
static int fleet_options(struct ctl *ctl, int socket_given, const char *name)
{
	const char *env = getenv(FLEET_ENV);
	int r;

	if (ctl->fleet_conninfo != NULL && socket_given) {
		ctl_usage_error(NULL, "--socket and --fleet cannot be used together: a daemon, or "
				      "the fleet");
		return CTL_EXIT_USAGE;
	}
	if (ctl->fleet_conninfo == NULL && !socket_given && env != NULL && *env != '\0')
		ctl->fleet_conninfo = env;
	if (ctl->fleet_conninfo == NULL)
		return CMD_RUN;
	if (!fleet_command_ok(name)) {
		ctl_usage_error(NULL,
				"%s asks one daemon: with --fleet%s only limits, limit, events "
				"and devices run",
				name, getenv(FLEET_ENV) ? " (or $" FLEET_ENV ")" : "");
		return CTL_EXIT_USAGE;
	}
	r = fleet_check_conninfo(ctl->fleet_conninfo);
	return r == 0 ? CMD_RUN : r;
}

/* Read the global options into ctl: CMD_RUN, or an exit code (after --help, --version or a
 * usage error) */
static int global_options(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"csv", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"fleet", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	int socket_given = 0;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:jch", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			ctl->socket_path = optarg;
			socket_given = 1;
			break;
		case 'F':
			ctl->fleet_conninfo = optarg;
			break;
		case 'j':
		case 'c':
			if (cmd_set_format(ctl, NULL, c == 'j' ? CTL_FORMAT_JSON : CTL_FORMAT_CSV))
				return CTL_EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("jetsamctl %s (protocol %d)\n", JETSAMD_VERSION, PROTO_VERSION);
			return CTL_EXIT_OK;
		default:
			cmd_bad_option(NULL, opts, argv, c);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	return fleet_options(ctl, socket_given, argv[optind]);
}

/* Table width: the terminal's when stdout is one, else $COLUMNS, else unlimited */
static int output_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env != NULL && atoi(env) > 0)
		return atoi(env);
	return isatty(STDOUT_FILENO) ? 80 : 0;
}

/* LC_CTYPE from the environment, for wcwidth(3) in tables; a UTF-8 one when it names none
 * (the daemon's texts are UTF-8) */
static void ctype_locale(void)
{
	const char *l = setlocale(LC_CTYPE, "");

	if (l == NULL || strcmp(l, "C") == 0 || strcmp(l, "POSIX") == 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

int main(int argc, char **argv)
{
	struct ctl ctl = {.socket_path = JETSAMD_DEFAULT_SOCKET, .format = CTL_FORMAT_TABLE};
	const char *env = getenv("JETSAMD_SOCKET");
	const struct command *cmd;
	int r;

	ctype_locale();
	if (env != NULL && *env != '\0')
		ctl.socket_path = env;
	r = global_options(&ctl, argc, argv);
	if (r != CMD_RUN)
		return r;
	ctl.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	ctl.width = output_width();
	argc -= optind;
	argv += optind;
	optind = 0; /* commands run getopt again on their own argv */
	if (strcmp(argv[0], "help") == 0)
		return help_main(&ctl, argc, argv);
	cmd = find_command(argv[0]);
	r = cmd != NULL ? cmd->main(&ctl, argc, argv) : CTL_EXIT_USAGE;
	fleet_close(&ctl);
	return r;
}
