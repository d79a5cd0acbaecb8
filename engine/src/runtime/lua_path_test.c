/* lua_path_test.c -- how pmi_lua_path turns a configured path or
 * $PMLS_LUA_PATH into Lua patterns, which of the two wins, and what it says
 * when it finds nothing. Finding the package beside an installed library is
 * exercised end to end by tools/embed-test.sh (an installed prefix, with no
 * variable set). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "../runtime/lua_path.h"

static char out[8192];

static void t_directory(void) {
  unsetenv("PMLS_LUA_PATH");
  CHECK_EQ_INT(pmi_lua_path("/opt/x/share/pmls/lua/", out, sizeof out), 0);
  CHECK(strcmp(out, "/opt/x/share/pmls/lua/?.lua;/opt/x/share/pmls/lua/?/init.lua") == 0);
}

static void t_pattern_gets_its_init(void) {
  unsetenv("PMLS_LUA_PATH");
  CHECK_EQ_INT(pmi_lua_path("/p/?.lua", out, sizeof out), 0);
  CHECK(strcmp(out, "/p/?.lua;/p/?/init.lua") == 0);
  /* given both, nothing is added twice */
  CHECK_EQ_INT(pmi_lua_path("/p/?.lua;/p/?/init.lua", out, sizeof out), 0);
  CHECK(strcmp(out, "/p/?.lua;/p/?/init.lua") == 0);
  CHECK_EQ_INT(pmi_lua_path("?.lua", out, sizeof out), 0);
  CHECK(strcmp(out, "?.lua;?/init.lua") == 0);
}

static void t_mixed_list(void) {
  unsetenv("PMLS_LUA_PATH");
  CHECK_EQ_INT(pmi_lua_path("src/lua;;build/lua/?.lua;x/?.luac", out, sizeof out), 0);
  CHECK(strcmp(out, "src/lua/?.lua;src/lua/?/init.lua;build/lua/?.lua;"
                    "build/lua/?/init.lua;x/?.luac") == 0);
}

static void t_env_and_configured(void) {
  setenv("PMLS_LUA_PATH", "/from/env", 1);
  CHECK_EQ_INT(pmi_lua_path(NULL, out, sizeof out), 0);
  CHECK(strcmp(out, "/from/env/?.lua;/from/env/?/init.lua") == 0);
  CHECK_EQ_INT(pmi_lua_path("", out, sizeof out), 0);
  CHECK_STR_CONTAINS(out, "/from/env/?.lua");
  /* the configured path wins over the variable */
  CHECK_EQ_INT(pmi_lua_path("/cfg", out, sizeof out), 0);
  CHECK(strcmp(out, "/cfg/?.lua;/cfg/?/init.lua") == 0);
  setenv("PMLS_LUA_PATH", ";;", 1);
  CHECK_EQ_INT(pmi_lua_path(NULL, out, sizeof out), -1);
  CHECK_STR_CONTAINS(out, "PMLS_LUA_PATH");
  unsetenv("PMLS_LUA_PATH");
}

static void t_too_long(void) {
  char small[16];
  CHECK_EQ_INT(pmi_lua_path("/a/rather/long/directory", small, sizeof small), -1);
  CHECK(strlen(small) < sizeof small);
}

/* This binary lives in build/test[-san]/runtime/, where no package is: unless
 * the prefix it was built for holds one, it says where it looked. */
static void t_not_found_says_where(void) {
  unsetenv("PMLS_LUA_PATH");
  int rc = pmi_lua_path(NULL, out, sizeof out);
  if (rc == 0) {
    CHECK_STR_CONTAINS(out, "/share/pmls/lua/?/init.lua");
  } else {
    CHECK_EQ_INT(rc, -1);
    CHECK_STR_CONTAINS(out, "/build/lua, "); /* the build tree's place */
    CHECK_STR_CONTAINS(out, "build/test"); /* a prefix's, beside this binary */
    CHECK_STR_CONTAINS(out, "/share/pmls/lua, ");
    CHECK_STR_CONTAINS(out, "/share/pmls/lua; PMLS_LUA_PATH is unset");
  }
}

static const th_case cases[] = {
    {"a directory stands for its ?.lua and ?/init.lua", t_directory},
    {"a ?.lua pattern brings its ?/init.lua", t_pattern_gets_its_init},
    {"a list of directories and patterns", t_mixed_list},
    {"PMLS_LUA_PATH, and the configured path before it", t_env_and_configured},
    {"a path longer than the buffer fails", t_too_long},
    {"nothing found: the message says where it looked", t_not_found_says_where},
};

TH_MAIN(cases)
