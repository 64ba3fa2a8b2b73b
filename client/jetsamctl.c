/* jetsamctl.c: entry point of jetsamctl: global options and command dispatch */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "protocol.h"

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
	{"watch", watch_main, "watch [--until-event]  stream kill events and phone changes"},
	{"parse", parse_main, "parse FILE...          parse reports offline (no daemon)"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: jetsamctl [--socket PATH] [--json | --csv] COMMAND [ARGS]\n"
		   "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fprintf(f, "`jetsamctl COMMAND --help` describes a command; see jetsamctl(1).\n");
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
		{"csv", no_argument, NULL, 'c'},	  {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	  {NULL, 0, NULL, 0},
	};
	struct ctl ctl = {.socket_path = JETSAMD_DEFAULT_SOCKET, .format = CTL_FORMAT_TABLE};
	const char *env = getenv("JETSAMD_SOCKET");
	size_t i;
	int c;

	if (env != NULL && *env != '\0')
		ctl.socket_path = env;
	while ((c = getopt_long(argc, argv, "+s:jch", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			ctl.socket_path = optarg;
			break;
		case 'j':
			ctl.format = CTL_FORMAT_JSON;
			break;
		case 'c':
			ctl.format = CTL_FORMAT_CSV;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("jetsamctl %s (protocol %d)\n", JETSAMD_VERSION, PROTO_VERSION);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	ctl.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	ctl.width = output_width();
	argc -= optind;
	argv += optind;
	optind = 0; /* commands run getopt again on their own argv */
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].main(&ctl, argc, argv);
	fprintf(stderr, "jetsamctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return CTL_EXIT_USAGE;
}
