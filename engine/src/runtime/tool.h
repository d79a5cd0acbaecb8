/* tool.h -- runs a command of the pmls package written in Lua (pmls plot). */
#ifndef PMI_TOOL_H
#define PMI_TOOL_H

/* Loads Lua module `module` (found as the engine's states find the pmls
 * package) in a fresh state without an engine, and calls its main(args),
 * args being argv[0..argc-1]. Returns the exit status main returns (0 when
 * it returns nothing), or 1 after printing "pmls: error: ..." with a
 * traceback when it raises an error, or when the module cannot be loaded. */
int pmi_run_tool(const char *module, int argc, char **argv);

#endif
