/* options.c -- the engine options of `pmls run`, as one table.
 *
 * Everything that lists or checks these options reads this table: the
 * parser (short options with their value attached or not, long ones with
 * '=' or a separate value), the help text, the man page and the bash
 * completion that `pmls man` and `pmls completion` print (the build
 * installs their output), and the near-miss suggestion, which the script's
 * option parser gets too (through PMLS_ENGINE_FLAGS) so that a mistyped
 * engine option after the script is caught there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

const pl_opt pl_opts[OPT_COUNT] = {
    {OPT_WORKERS, 'w', "workers", "N", KIND_INT, 1, 4096, NULL,
     "worker threads per process (default: this host's cores shared among its processes: cores / P)"},
    {OPT_PROCS, 'p', "procs", "P", KIND_INT, 1, 4096, NULL,
     "processes on this host, over ipc:// (default: 1)"},
    {OPT_TRANSPORT, 0, "transport", "T", KIND_CHOICE, 0, 0, "ipc tcp",
     "ipc or tcp (on 127.0.0.1) for -p (default: ipc)"},
    {OPT_HOSTFILE, 0, "hostfile", "FILE", KIND_STRING, 0, 0, NULL,
     "start processes on the hosts listed (one per line, 'HOST [SLOTS]'), over ssh and tcp://; rank 0 is this process and takes the first slot"},
    {OPT_MASTER, 0, "master", "ADDR", KIND_STRING, 0, 0, NULL,
     "rank 0's address (tcp://HOST:PORT or ipc:///DIR/NAME) for ranks started by mpirun or srun (or PMLS_MASTER)"},
    {OPT_BIND, 0, "bind", "HOST", KIND_STRING, 0, 0, NULL,
     "the address this process listens on (tcp)"},
    {OPT_HEARTBEAT, 0, "heartbeat-timeout", "SECS", KIND_INT, 1, 86400, NULL,
     "a silent peer is dead after this (default: 10)"},
    {OPT_SERVERS, 0, "servers", "K", KIND_INT, 1, 1024, NULL,
     "server shards (default: one per process)"},
    {OPT_SCHEDULERS, 0, "schedulers", "K", KIND_INT, 1, 1024, NULL,
     "scheduler nodes for scheduled (push/pull) models; node k runs in process k mod P (default: 1)"},
    {OPT_STALENESS, 0, "staleness", "S", KIND_INT, 0, 1000000000, NULL,
     "default SSP staleness bound for tables (default: 0)"},
    {OPT_CONSISTENCY, 0, "consistency", "M", KIND_CHOICE, 0, 0,
     "ssp bsp essp async",
     "default model for tables: ssp, bsp, essp or async (default: ssp; see docs/consistency.md)"},
    {OPT_SEED, 0, "seed", "N", KIND_INT, 0, 9223372036854775807LL, NULL,
     "base random seed handed to the script (default: 1)"},
    {OPT_METRICS, 0, "metrics", "PATH", KIND_STRING, 0, 0, NULL,
     "append one JSON object per clock to PATH"},
    {OPT_CHECKPOINT, 0, "checkpoint", "DIR", KIND_STRING, 0, 0, NULL,
     "write a snapshot of the run (tables, workers' state) into DIR every --checkpoint-every clocks (docs/fault-tolerance.md)"},
    {OPT_CHECKPOINT_EVERY, 0, "checkpoint-every", "N", KIND_INT, 1, 1000000000, NULL,
     "clocks (a scheduled model's rounds) between snapshots (default: 10)"},
    {OPT_RESUME, 0, "resume", "DIR", KIND_STRING, 0, 0, NULL,
     "go on from the last complete snapshot in DIR (the run's other options as before)"},
    {OPT_RESTARTS, 0, "restarts", "K", KIND_INT, 0, 1000, NULL,
     "with --checkpoint: when the job fails, run it again from its last snapshot, up to K times (the launcher of -p, --hostfile or one process)"},
    {OPT_TIMEOUT, 0, "timeout", "SECS", KIND_INT, 1, 86400, NULL,
     "how long a read may wait for a peer (default: 60)"},
    {OPT_QUIET, 'q', "quiet", NULL, KIND_FLAG, 0, 0, NULL,
     "no progress lines: only the final one (-qq: --silent)"},
    {OPT_SILENT, 0, "silent", NULL, KIND_FLAG, 0, 0, NULL,
     "neither progress nor the final line: errors only (also -qq)"},
    {OPT_TRACE, 0, "trace", NULL, KIND_FLAG, 0, 0, NULL,
     "a Lua traceback with every error, also a data file's (which is one "
     "line without it)"},
    {OPT_SECRET_FILE, 0, "secret-file", "PATH", KIND_STRING, 0, 0, NULL,
     "the tcp job's secret, the same file for every rank, mode 0600 (or PMLS_SECRET_FILE), for ranks started by mpirun or srun; -p and --hostfile make their own"},
    {OPT_HELP, 'h', "help", NULL, KIND_FLAG, 0, 0, NULL,
     "list the script's options and these"},
};

const pl_opt *pl_opt_match(int argc, char **argv, int *i, const char **val) {
  const char *a = argv[*i];
  *val = NULL;
  for (int k = 0; k < OPT_COUNT && strcmp(a, "-qq") == 0; k++)
    if (pl_opts[k].id == OPT_SILENT) return &pl_opts[k];
  for (int k = 0; k < OPT_COUNT; k++) {
    const pl_opt *o = &pl_opts[k];
    int takes = o->kind != KIND_FLAG;
    if (o->shrt && a[0] == '-' && a[1] == o->shrt) {
      if (a[2] == 0) {
        if (takes) *val = *i + 1 < argc ? argv[++*i] : NULL;
        return o;
      }
      if (takes) { /* -w2 */
        *val = a + 2;
        return o;
      }
    }
    if (a[0] == '-' && a[1] == '-') {
      size_t n = strlen(o->name);
      if (strncmp(a + 2, o->name, n) != 0) continue;
      if (a[2 + n] == 0) {
        if (takes) *val = *i + 1 < argc ? argv[++*i] : NULL;
        return o;
      }
      if (a[2 + n] == '=' && takes) {
        *val = a + 3 + n;
        return o;
      }
    }
  }
  return NULL;
}

/* "a, b or c" from "a b c". */
static void or_list(const char *choices, char *out, size_t cap) {
  char words[8][32];
  int n = 0;
  for (const char *p = choices; *p && n < 8;) {
    int k = (int)strcspn(p, " ");
    snprintf(words[n++], sizeof words[0], "%.*s", k, p);
    p += k;
    while (*p == ' ') p++;
  }
  size_t len = 0;
  out[0] = 0;
  for (int i = 0; i < n && len < cap; i++)
    len += (size_t)snprintf(out + len, cap - len, "%s%s",
                            i == 0 ? "" : i == n - 1 ? " or " : ", ", words[i]);
}

int pl_opt_value(const pl_opt *o, const char *val, long long *n, char *err,
                 size_t errlen) {
  if (o->kind == KIND_FLAG) return 0;
  if (!val) {
    snprintf(err, errlen, "option --%s needs a value", o->name);
    return -1;
  }
  switch (o->kind) {
  case KIND_INT: {
    errno = 0;
    char *end;
    long long v = strtoll(val, &end, 10);
    if (!*val || errno || *end || v < o->lo || v > o->hi) {
      if (o->hi >= 9223372036854775807LL)
        snprintf(err, errlen, "bad value '%s' for --%s: a whole number >= %lld "
                 "expected", val, o->name, o->lo);
      else
        snprintf(err, errlen, "bad value '%s' for --%s: a whole number from %lld "
                 "to %lld expected", val, o->name, o->lo, o->hi);
      return -1;
    }
    *n = v;
    return 0;
  }
  case KIND_CHOICE: {
    size_t len = strlen(val);
    for (const char *p = o->choices; *p;) {
      size_t k = strcspn(p, " ");
      if (len && k == len && strncmp(p, val, k) == 0) return 0;
      p += k;
      while (*p == ' ') p++;
    }
    char list[128];
    or_list(o->choices, list, sizeof list);
    snprintf(err, errlen, "bad value '%s' for --%s: %s expected", val, o->name,
             list);
    return -1;
  }
  case KIND_STRING:
    if (!*val) {
      snprintf(err, errlen, "option --%s needs a value", o->name);
      return -1;
    }
    return 0;
  case KIND_FLAG: return 0;
  }
  return 0;
}

/* Edit distance, for near misses (short strings only); a swap of
 * neighbours is one edit. */
static int distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 40 || m > 40) return 99;
  int d[41][41];
  for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      int v = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1; /* a swap of neighbours: --wrokers */
      d[i][j] = v;
    }
  return d[n][m];
}

const char *pl_opt_suggest(const char *arg) {
  if (strncmp(arg, "--", 2) != 0) return NULL;
  char word[64];
  snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
  const char *best = NULL;
  int best_d = 99;
  for (int k = 0; k < OPT_COUNT; k++) {
    int dd = distance(word, pl_opts[k].name);
    /* A prefix of one option is what was meant, too (--work). */
    if (strlen(word) >= 3 && strncmp(pl_opts[k].name, word, strlen(word)) == 0)
      dd = 1;
    if (dd < best_d) {
      best_d = dd;
      best = pl_opts[k].name;
    }
  }
  size_t len = strlen(word);
  return best && best_d <= (len <= 4 ? 1 : len <= 8 ? 2 : 3) ? best : NULL;
}

void pl_opt_flags(char *out, size_t cap) {
  size_t len = 0;
  out[0] = 0;
  for (int k = 0; k < OPT_COUNT && len < cap; k++) {
    const pl_opt *o = &pl_opts[k];
    len += (size_t)snprintf(out + len, cap - len, "%s--%s", len ? " " : "",
                            o->name);
    if (o->shrt && len < cap)
      len += (size_t)snprintf(out + len, cap - len, " -%c", o->shrt);
  }
}

/* Prints text wrapped to width columns, every line after the first
 * indented by indent (the first continues where the caller is). */
static void wrapped(FILE *f, const char *text, int indent, int width) {
  int col = indent;
  for (const char *p = text; *p;) {
    while (*p == ' ') p++;
    int n = (int)strcspn(p, " ");
    if (!n) break;
    if (col > indent && col + 1 + n > width) {
      fprintf(f, "\n%*s", indent, "");
      col = indent;
    } else if (col > indent) {
      fputc(' ', f);
      col++;
    }
    fprintf(f, "%.*s", n, p);
    col += n;
    p += n;
  }
  fputc('\n', f);
}

void pl_opt_help(FILE *f) {
  fputs("Engine options (every run; before or after the script):\n", f);
  for (int k = 0; k < OPT_COUNT; k++) {
    const pl_opt *o = &pl_opts[k];
    char left[64];
    snprintf(left, sizeof left, "%c%c%s--%s%s%s", o->shrt ? '-' : ' ',
             o->shrt ? o->shrt : ' ', o->shrt ? ", " : "  ", o->name,
             o->metavar ? " " : "", o->metavar ? o->metavar : "");
    if (strlen(left) <= 22) fprintf(f, "  %-22s ", left);
    else fprintf(f, "  %s\n%25s", left, "");
    wrapped(f, o->help, 25, 79);
  }
}

/* Text for roff: a leading '.' or '\'' and every backslash escaped. */
static void roff(FILE *f, const char *s, int len) {
  for (int i = 0; i < len && s[i]; i++) {
    if (s[i] == '\\') fputs("\\e", f);
    else if (s[i] == '-') fputs("\\-", f);
    else if ((i == 0 || s[i - 1] == '\n') && (s[i] == '.' || s[i] == '\''))
      fprintf(f, "\\&%c", s[i]);
    else fputc(s[i], f);
  }
}

void pl_opt_man(FILE *f, const char *version) {
  fprintf(f, ".TH PMLS 1 \"\" \"pmls %s\" \"User Commands\"\n", version);
  fputs(".SH NAME\npmls \\- run distributed machine learning scripts on a "
        "parameter server\n"
        ".SH SYNOPSIS\n"
        ".B pmls run\n[\\fIengine options\\fR] \\fISCRIPT.lua\\fR|\\fIMODEL\\fR "
        "[\\fIoptions\\fR]\n.br\n"
        ".B pmls plot\n\\fIMETRICS.jsonl\\fR... [\\fB\\-o\\fR \\fIout.svg\\fR|\\fIout.png\\fR] "
        "[\\fB\\-\\-x\\fR time|clock] [\\fIKEY\\fR...]\n.br\n"
        ".B pmls version\n.br\n.B pmls help\n.br\n"
        ".B pmls completion\n.br\n.B pmls man\n"
        ".SH DESCRIPTION\n"
        ".B pmls run\nruns a model script (or an installed model by name) on "
        "the PMLS engine: a sharded parameter server with stale synchronous "
        "parallel clocks and a STRADS-style scheduler. Engine options may "
        "come before or after the script; every other option is the "
        "script's own (see \\fBpmls run\\fR \\fISCRIPT\\fR \\fB\\-\\-help\\fR).\n"
        ".PP\n\\fBpmls plot\\fR draws reported values against time or clock "
        "and the staleness histogram of each table from metrics files "
        "(\\fB\\-\\-metrics\\fR), several runs overlaid, through gnuplot.\n"
        ".PP\n\\fBpmls completion\\fR prints a bash completion script; "
        "\\fBpmls man\\fR prints this page.\n"
        ".SH ENGINE OPTIONS\n", f);
  for (int k = 0; k < OPT_COUNT; k++) {
    const pl_opt *o = &pl_opts[k];
    fputs(".TP\n", f);
    if (o->shrt) fprintf(f, "\\fB\\-%c\\fR, ", o->shrt);
    fputs("\\fB\\-\\-", f);
    roff(f, o->name, (int)strlen(o->name));
    fputs("\\fR", f);
    if (o->metavar) fprintf(f, " \\fI%s\\fR", o->metavar);
    fputc('\n', f);
    roff(f, o->help, (int)strlen(o->help));
    fputc('\n', f);
  }
  fputs(".SH ENVIRONMENT\n"
        ".TP\n.B PMLS_MODEL_PATH\ndirectories (':'-separated) searched for "
        "MODEL.lua before the installed models\n"
        ".TP\n.B PMLS_LUA_PATH\nwhere the pmls Lua package is, when moved\n"
        ".TP\n.B PMLS_MASTER\nrank 0's address, for ranks started by mpirun "
        "or srun\n"
        ".SH EXIT STATUS\n0 success; 1 an error while running; 2 a usage "
        "error; 128 + N when stopped by signal N (130 for SIGINT, 143 for "
        "SIGTERM).\n"
        ".SH SEE ALSO\nThe documentation in share/pmls (docs/ in the source "
        "tree): writing-models.md, consistency.md, embedding.md, "
        "fault-tolerance.md.\n", f);
}

void pl_opt_completion(FILE *f) {
  char flags[1024];
  pl_opt_flags(flags, sizeof flags);
  fputs("# bash completion for pmls (printed by `pmls completion`)\n"
        "_pmls() {\n"
        "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
        "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
        "    COMPREPLY=($(compgen -W 'run plot version help completion man' -- \"$cur\"))\n"
        "    return\n"
        "  fi\n"
        "  [ \"${COMP_WORDS[1]}\" = run ] || return\n"
        "  case $prev in\n", f);
  for (int k = 0; k < OPT_COUNT; k++) {
    const pl_opt *o = &pl_opts[k];
    if (o->kind == KIND_FLAG) continue;
    fprintf(f, "    --%s", o->name);
    if (o->shrt) fprintf(f, "|-%c", o->shrt);
    if (o->kind == KIND_CHOICE)
      fprintf(f, ") COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return;;\n",
              o->choices);
    else if (o->id == OPT_HOSTFILE || o->id == OPT_METRICS ||
             o->id == OPT_CHECKPOINT || o->id == OPT_RESUME)
      fputs(") COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n", f);
    else
      fputs(") return;;\n", f);
  }
  fprintf(f,
          "  esac\n"
          "  local script= w\n"
          "  for w in \"${COMP_WORDS[@]:2:COMP_CWORD-2}\"; do\n"
          "    case $w in *.lua) script=$w;; esac\n"
          "  done\n"
          "  if [[ $cur == -* ]]; then\n"
          "    local more=\n"
          "    [ -n \"$script\" ] && more=$(pmls run \"$script\" --help 2>/dev/null |\n"
          "      grep -o -- '--[a-z][a-z0-9-]*' | sort -u)\n"
          "    COMPREPLY=($(compgen -W '%s '\"$more\" -- \"$cur\"))\n"
          "  elif [ -z \"$script\" ]; then\n"
          "    COMPREPLY=($(compgen -f -X '!*.lua' -- \"$cur\") $(compgen -d -- \"$cur\"))\n"
          "  else\n"
          "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
          "  fi\n"
          "}\n"
          "complete -F _pmls pmls\n", flags);
}
