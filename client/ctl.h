/* ctl.h: what every jetsamctl command shares: output format, exit codes, global options */
#ifndef JETSAMCTL_CTL_H
#define JETSAMCTL_CTL_H

enum ctl_format { CTL_FORMAT_TABLE, CTL_FORMAT_JSON, CTL_FORMAT_CSV };

/* Exit codes (documented in jetsamctl(1)) */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_ERROR = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_MATCHED = 3, /* events --fail-if-any matched */
	CTL_EXIT_UNKNOWN = 4, /* limit: nothing known */
};

struct ctl {
	const char *socket_path; /* --socket, else $JETSAMD_SOCKET, else the built-in default */
	enum ctl_format format;
	int color; /* stdout is a TTY and NO_COLOR is unset */
};

/* jetsamctl parse FILE...: offline, no daemon (client/parse.c). argv[0] is "parse". */
int parse_main(struct ctl *ctl, int argc, char **argv);

#endif
