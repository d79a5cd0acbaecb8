/* tool.c -- runs a command of the pmls package written in Lua, such as
 * `pmls plot`: the work is reading files and driving a program (gnuplot),
 * which Lua says in fewer lines than C, and which needs no engine. The
 * state gets the standard libraries and the same package.path as an
 * engine's states (lua_path.c), so the module is found in the build tree or
 * the install prefix. The module reports its own usage and input errors
 * and returns an exit status; an error raised out of it is a bug, shown
 * with its traceback. */
#include <limits.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_path.h"
#include "tool.h"

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

int pmi_run_tool(const char *module, int argc, char **argv) {
  char path[3 * PATH_MAX + 128];
  if (pmi_lua_path(NULL, path, sizeof path)) {
    fprintf(stderr, "pmls: error: cannot find the pmls Lua package (looked in "
            "%s; set PMLS_LUA_PATH to its directory)\n", path);
    return 1;
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "pmls: error: cannot create a Lua state\n");
    return 1;
  }
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s;%s", path, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
  lua_pushcfunction(L, traceback);
  int handler = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushstring(L, module);
  int status = 1;
  if (lua_pcall(L, 1, 1, handler) == 0) {
    lua_getfield(L, -1, "main");
    lua_createtable(L, argc, 0);
    for (int i = 0; i < argc; i++) {
      lua_pushstring(L, argv[i]);
      lua_rawseti(L, -2, i + 1);
    }
    if (lua_pcall(L, 1, 1, handler) == 0)
      status = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    else
      fprintf(stderr, "pmls: error: %s\n", lua_tostring(L, -1));
  } else {
    fprintf(stderr, "pmls: error: %s\n", lua_tostring(L, -1));
  }
  lua_close(L);
  return status;
}
