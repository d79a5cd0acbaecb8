/* options.h -- the engine options of `pmls run`: one table, from which the
 * command parses them, prints its help, its man page and its bash
 * completion, and suggests a near miss. */
#ifndef PMLS_CLI_OPTIONS_H
#define PMLS_CLI_OPTIONS_H

#include <stdio.h>

typedef enum {
  OPT_WORKERS, OPT_PROCS, OPT_TRANSPORT, OPT_HOSTFILE, OPT_MASTER, OPT_BIND,
  OPT_HEARTBEAT, OPT_SERVERS, OPT_SCHEDULERS, OPT_STALENESS, OPT_CONSISTENCY,
  OPT_SEED, OPT_METRICS, OPT_CHECKPOINT, OPT_CHECKPOINT_EVERY, OPT_RESUME,
  OPT_RESTARTS, OPT_TIMEOUT, OPT_QUIET, OPT_SILENT, OPT_TRACE,
  OPT_SECRET_FILE, OPT_HELP, OPT_COUNT
} pl_opt_id;

typedef enum { KIND_INT, KIND_CHOICE, KIND_STRING, KIND_FLAG } pl_opt_kind;

typedef struct {
  pl_opt_id id;
  char shrt;           /* 0: none */
  const char *name;    /* without the leading "--" */
  const char *metavar; /* NULL for a flag */
  pl_opt_kind kind;
  long long lo, hi;    /* KIND_INT */
  const char *choices; /* KIND_CHOICE: "ipc tcp" */
  const char *help;
} pl_opt;

extern const pl_opt pl_opts[OPT_COUNT];

/* Matches argv[*i] against the table: "-w N", "-wN", "--workers N",
 * "--workers=N". Returns the option (advancing *i past a separate value,
 * with *val set: NULL if it was missing) or NULL. */
const pl_opt *pl_opt_match(int argc, char **argv, int *i, const char **val);

/* Checks val for o; on success *n holds an int's value. On failure writes
 * "bad value 'V' for --NAME: ..." into err and returns -1. */
int pl_opt_value(const pl_opt *o, const char *val, long long *n, char *err,
                 size_t errlen);

/* The engine option nearest to arg (a "--word" or "-x"), or NULL if none is
 * close enough to be what was meant. */
const char *pl_opt_suggest(const char *arg);

/* "--workers -w --procs -p ...": for the script's option parser, which
 * suggests among them too. */
void pl_opt_flags(char *out, size_t cap);

void pl_opt_help(FILE *f);       /* the "Engine options" part of help */
void pl_opt_man(FILE *f, const char *version);
void pl_opt_completion(FILE *f); /* a bash completion script */

#endif
