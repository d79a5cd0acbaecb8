/* lua_path.c -- finding the pmls Lua package for the engine's Lua states.
 *
 * Every Lua state the engine makes (script.c) starts with require "pmls",
 * whatever program the engine runs in: the pmls command, a host linked with
 * libpmls.so, or a host with libpmls.a linked into it. The code finds its
 * own file with dladdr and looks beside it, which serves the build tree and
 * an installed prefix, even one moved elsewhere as a whole. A host that
 * links the static library lives anywhere, so the prefix the library was
 * built for (PMLS_PREFIX, set by the Makefile, again by `make install`) is
 * the last place tried. A configured path or $PMLS_LUA_PATH overrides all
 * of these, for a package moved on its own; either may name directories,
 * since writing Lua's "?.lua" and "?/init.lua" patterns by hand is what
 * users got wrong. */
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lua_path.h"

#ifndef PMLS_PREFIX
#define PMLS_PREFIX "/usr/local"
#endif

typedef struct {
  char *s;
  size_t cap, len;
  int overflow;
} text;

static void put(text *t, const char *fmt, ...) {
  if (t->overflow) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= t->cap - t->len) {
    t->overflow = 1;
    t->s[t->len] = 0;
    return;
  }
  t->len += (size_t)n;
}

static int has_package(const char *dir) {
  char p[PATH_MAX + 32];
  struct stat st;
  snprintf(p, sizeof p, "%s/pmls/init.lua", dir);
  return stat(p, &st) == 0;
}

static int lists_entry(const char *list, const char *entry, size_t len) {
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ";");
    if (n == len && memcmp(p, entry, len) == 0) return 1;
    p += n;
    if (*p) p++;
  }
  return 0;
}

/* Appends the patterns of a user's list of directories and patterns. */
static void put_list(text *t, const char *list) {
  for (const char *p = list; *p;) {
    int n = (int)strcspn(p, ";");
    if (n > 0 && memchr(p, '?', (size_t)n)) {
      put(t, "%.*s;", n, p);
      /* "D/?.lua" alone finds pmls.core but not pmls itself. */
      int base = n - 5;
      if (base >= 0 && memcmp(p + base, "?.lua", 5) == 0 &&
          (base == 0 || p[base - 1] == '/')) {
        char init[PATH_MAX + 16];
        int len = snprintf(init, sizeof init, "%.*s?/init.lua", base, p);
        if (len > 0 && (size_t)len < sizeof init &&
            !lists_entry(list, init, (size_t)len))
          put(t, "%s;", init);
      }
    } else if (n > 0) {
      int d = n;
      while (d > 1 && p[d - 1] == '/') d--;
      put(t, "%.*s/?.lua;%.*s/?/init.lua;", d, p, d, p);
    }
    p += n;
    if (*p) p++;
  }
}

/* Cuts the last path component off (in place); 0 when there is none. */
static int up(char *path) {
  char *slash = strrchr(path, '/');
  if (!slash) return 0;
  if (slash == path) slash[1] = 0;
  else *slash = 0;
  return 1;
}

static int done(text *t) {
  if (t->len > 0 && t->s[t->len - 1] == ';') t->s[--t->len] = 0;
  return t->overflow || t->len == 0 ? -1 : 0;
}

int pmi_lua_path(const char *configured, char *out, size_t cap) {
  if (!out || cap == 0) return -1;
  text t = {out, cap, 0, 0};
  out[0] = 0;
  const char *env = getenv("PMLS_LUA_PATH");
  const char *given = configured && *configured ? configured
                      : env && *env             ? env
                                                : NULL;
  if (given) {
    put_list(&t, given);
    if (done(&t) == 0) return 0;
    snprintf(out, cap, "%s names no directory or pattern, or too many",
             given == configured ? "the configured Lua path" : "PMLS_LUA_PATH");
    return -1;
  }

  /* Beside this code: PARENT/lib/libpmls.so or PARENT/bin/pmls, where
   * PARENT is an install prefix or the build tree (then TOP/build). */
  char parent[PATH_MAX] = "", top[PATH_MAX] = "";
  char build_lua[PATH_MAX + 16] = "", generated[PATH_MAX + 16] = "";
  char installed[PATH_MAX + 32] = "";
  Dl_info info;
  /* For code in the main program glibc names argv[0], which a command
   * found through PATH gives without a directory: take the executable. */
  const char *self = NULL;
  char exe[PATH_MAX];
  if (dladdr((void *)&pmi_lua_path, &info) && info.dli_fname)
    self = info.dli_fname;
  if (self && !strchr(self, '/')) {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    self = n > 0 ? (exe[n] = 0, exe) : NULL;
  }
  if (self && realpath(self, parent) && up(parent) && up(parent)) {
    snprintf(top, sizeof top, "%s", parent);
    up(top);
    snprintf(build_lua, sizeof build_lua, "%s/lua", top);
    snprintf(generated, sizeof generated, "%s/lua", parent);
    snprintf(installed, sizeof installed, "%s/share/pmls/lua", parent);
  }
  const char *built_for = PMLS_PREFIX "/share/pmls/lua";
  if (build_lua[0] && has_package(build_lua)) {
    put(&t, "%s/?.lua;%s/?/init.lua;%s/?.lua", build_lua, build_lua, generated);
  } else if (installed[0] && has_package(installed)) {
    put(&t, "%s/?.lua;%s/?/init.lua", installed, installed);
  } else if (has_package(built_for)) {
    put(&t, "%s/?.lua;%s/?/init.lua", built_for, built_for);
  } else {
    t.len = 0;
    out[0] = 0;
    if (installed[0]) put(&t, "%s, %s, ", build_lua, installed);
    put(&t, "%s; PMLS_LUA_PATH is unset", built_for);
    return -1;
  }
  return done(&t);
}
