/* ctl.h: what every jetsamctl command shares: output format, exit codes, global options */
#ifndef JETSAMCTL_CTL_H
#define JETSAMCTL_CTL_H

enum ctl_format { CTL_FORMAT_TABLE, CTL_FORMAT_JSON, CTL_FORMAT_CSV };

/* Exit codes (documented in jetsamctl(1)) */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_ERROR = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_MATCHED = 3, /* events --fail-if-any or gate end matched */
	CTL_EXIT_UNKNOWN = 4, /* limit: nothing known */
};

struct fleet;

struct ctl {
	const char *socket_path; /* --socket, else $JETSAMD_SOCKET, else the built-in default */
	/* --fleet CONNINFO, else $JETSAMCTL_FLEET (unless --socket): the commands read the
	 * PostgreSQL fleet store (client/fleet.c) instead of asking the daemon; NULL: the daemon */
	const char *fleet_conninfo;
	struct fleet *fleet; /* its connection, once open */
	enum ctl_format format;
	const char *format_opt; /* "--json" or "--csv" once one was given, else NULL */
	int color;		/* stdout is a TTY and NO_COLOR is unset */
	int width; /* table width in columns: the terminal's on a TTY, else $COLUMNS, else 0 =
		      unlimited */
	int daemon_version; /* protocol version of the last hello (cmd_call), 0 before */
};

/* jetsamctl parse FILE...: offline, no daemon (client/parse.c). argv[0] is "parse". */
int parse_main(struct ctl *ctl, int argc, char **argv);

/*
 * The daemon commands. Each gets its own argv (argv[0] is the command name, getopt is reset
 * by the caller), prints its output in ctl->format and returns a CTL_EXIT_* code.
 */
int status_main(struct ctl *ctl, int argc, char **argv);  /* cmd_info.c */
int devices_main(struct ctl *ctl, int argc, char **argv); /* cmd_info.c */
int reports_main(struct ctl *ctl, int argc, char **argv); /* cmd_info.c */
int limits_main(struct ctl *ctl, int argc, char **argv);  /* cmd_limits.c */
int limit_main(struct ctl *ctl, int argc, char **argv);	  /* cmd_limits.c */
int events_main(struct ctl *ctl, int argc, char **argv);  /* cmd_events.c */
int sync_main(struct ctl *ctl, int argc, char **argv);	  /* cmd_actions.c */
int import_main(struct ctl *ctl, int argc, char **argv);  /* cmd_actions.c */
int reparse_main(struct ctl *ctl, int argc, char **argv); /* cmd_actions.c */
int watch_main(struct ctl *ctl, int argc, char **argv);	  /* cmd_watch.c */
int cursor_main(struct ctl *ctl, int argc, char **argv);  /* cmd_gate.c */
int gate_main(struct ctl *ctl, int argc, char **argv);	  /* cmd_gate.c */

/* Print "jetsamctl: <message>" on stderr (message without newline) */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a usage error for command cmd on one line: "jetsamctl CMD: ... (see `jetsamctl CMD
 * --help`)"; cmd NULL: "jetsamctl: ... (see `jetsamctl --help`)" */
void ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
