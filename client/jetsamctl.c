/* jetsamctl.c: entry point of jetsamctl: global options and command dispatch */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: jetsamctl [--socket PATH] [--json | --csv] COMMAND [ARGS]\n"
		   "commands: parse FILE...\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
		{"csv", no_argument, NULL, 'c'},         {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ctl ctl = {.socket_path = JETSAMD_DEFAULT_SOCKET, .format = CTL_FORMAT_TABLE};
	const char *env = getenv("JETSAMD_SOCKET");
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
	argc -= optind;
	argv += optind;
	optind = 0; /* commands run getopt again on their own argv */
	if (strcmp(argv[0], "parse") == 0)
		return parse_main(&ctl, argc, argv);
	fprintf(stderr, "jetsamctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return CTL_EXIT_USAGE;
}
