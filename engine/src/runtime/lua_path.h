/* lua_path.h -- where a Lua state of the engine finds the pmls package. */
#ifndef PMI_LUA_PATH_H
#define PMI_LUA_PATH_H

#include <stddef.h>

/* Sets out to the package.path entries (";"-separated "?.lua" patterns)
 * that reach the pmls Lua package and returns 0. Tried in order: the
 * configured path (pmls_config.lua_path; NULL = none), $PMLS_LUA_PATH, the
 * build tree or the install prefix next to the file holding this code (a
 * shared library, or an executable it is linked into), and the prefix the
 * library was built for. The first two may list directories, patterns or
 * both; a directory D stands for "D/?.lua;D/?/init.lua", and a pattern
 * "D/?.lua" brings "D/?/init.lua" along. Returns -1 when nothing is found,
 * with out saying where it looked. */
int pmi_lua_path(const char *configured, char *out, size_t cap);

#endif
