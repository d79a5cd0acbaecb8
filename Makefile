# PMLS build. `make` builds the command and the libraries into build/;
# `make demo` and `make test` install what is missing first (tools/deps.sh).
PREFIX ?= /usr/local
CC ?= cc
BUILD := build
PKGS := luajit nanomsg zlib libsodium libcrypto

# Error messages are truncated to their buffers on purpose.
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-format-truncation
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Iengine/include -fPIC -g $(WARN)
CFLAGS ?= -O2
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS = $(PKG_LIBS) -ljemalloc -lpthread -ldl -lm
SAN_LIBS = $(PKG_LIBS) -lpthread -ldl -lm
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC := $(filter-out %_test.c,$(wildcard engine/src/*/*.c))
LIB_SRC := $(filter-out engine/src/cli/%,$(LIB_SRC))
TEST_SRC := $(wildcard engine/src/*/*_test.c)
HDRS := $(wildcard engine/include/*.h engine/src/*/*.h engine/test/*.h)

OBJ := $(patsubst engine/src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
SAN_OBJ := $(patsubst engine/src/%.c,$(BUILD)/obj-san/%.o,$(LIB_SRC))
TESTS := $(patsubst engine/src/%_test.c,$(BUILD)/test/%_test,$(TEST_SRC))
SAN_TESTS := $(patsubst engine/src/%_test.c,$(BUILD)/test-san/%_test,$(TEST_SRC))
CDEF := $(BUILD)/lua/pmls/cdef.lua
CDEF_AUX := $(BUILD)/lua/pmls/cdef_aux.lua

.PHONY: all deps demo test install clean
# Keep the sanitizer objects between runs (make would delete them as
# intermediates of the test binaries).
.SECONDARY: $(SAN_OBJ)
MAN := $(BUILD)/share/man/man1/pmls.1
COMPLETION := $(BUILD)/share/bash-completion/completions/pmls
all: $(BUILD)/bin/pmls $(BUILD)/lib/libpmls.a $(BUILD)/lib/libpmls.so $(CDEF) $(CDEF_AUX) $(MAN) $(COMPLETION)

# The man page and the bash completion come from the command's own option
# table (engine/src/cli/options.c), so they never drift from it.
$(MAN): $(BUILD)/bin/pmls
	@mkdir -p $(dir $@)
	$(BUILD)/bin/pmls man > $@
$(COMPLETION): $(BUILD)/bin/pmls
	@mkdir -p $(dir $@)
	$(BUILD)/bin/pmls completion > $@

deps:
	@tools/deps.sh

$(BUILD)/obj/%.o: engine/src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -fvisibility=hidden $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/obj-san/%.o: engine/src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -c $< -o $@

# The element loops (dtype.c) are the engine's inner loops over row bytes:
# -O3 lets GCC vectorize them, which -O2's cheap cost model does not.
$(BUILD)/obj/store/dtype.o: CFLAGS += -O3
$(BUILD)/obj/numeric/vec_%.o: CFLAGS += -O3
$(BUILD)/obj/numeric/gram.o: CFLAGS += -O3
$(BUILD)/obj/numeric/lda.o: CFLAGS += -O3
$(BUILD)/obj/numeric/softmax.o: CFLAGS += -O3

# The prefix the library is built for: where the Lua package is looked for
# last, which is how a host that links libpmls.a finds it (lua_path.c).
PREFIX_DEF = -DPMLS_PREFIX='"$(PREFIX)"'
$(BUILD)/obj/runtime/lua_path.o $(BUILD)/obj-san/runtime/lua_path.o: BASE_CFLAGS += $(PREFIX_DEF)

$(BUILD)/lib/libpmls.a: $(OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The shared library leaves malloc to its host: Debian's jemalloc needs
# static TLS, so a library linked with it cannot be dlopen'ed (by luajit's
# ffi.load, say). The pmls command and the C tests link jemalloc themselves.
$(BUILD)/lib/libpmls.so: $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $^ $(SAN_LIBS)

# -rdynamic exports pmls_* so the Lua package finds them through ffi.C.
CLI_OBJ := $(patsubst engine/src/%.c,$(BUILD)/obj/%.o,$(wildcard engine/src/cli/*.c))
$(BUILD)/bin/pmls: $(CLI_OBJ) $(BUILD)/lib/libpmls.a
	@mkdir -p $(dir $@)
	$(CC) -rdynamic -o $@ $(CLI_OBJ) -Wl,--whole-archive $(BUILD)/lib/libpmls.a -Wl,--no-whole-archive $(LIBS)

$(BUILD)/obj/cli/%.o: engine/src/cli/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

$(CDEF): engine/include/pmls.h tools/gen_cdef.lua
	@mkdir -p $(dir $@)
	luajit tools/gen_cdef.lua $< $@

# The auxiliary header's binding, loaded by the Lua modules that use it.
$(CDEF_AUX): engine/include/pmlsaux.h tools/gen_cdef.lua
	@mkdir -p $(dir $@)
	luajit tools/gen_cdef.lua $< $@

$(BUILD)/test/%_test: engine/src/%_test.c $(BUILD)/lib/libpmls.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -rdynamic -Iengine/test $(PKG_CFLAGS) -o $@ $< -Wl,--whole-archive $(BUILD)/lib/libpmls.a -Wl,--no-whole-archive $(LIBS)

$(BUILD)/test-san/%_test: engine/src/%_test.c $(SAN_OBJ) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 $(SAN) -rdynamic -Iengine/test $(PKG_CFLAGS) -o $@ $< $(SAN_OBJ) $(SAN_LIBS)

# The fuzz harnesses (see "fuzzing" below), defined before `test` names them.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard engine/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst engine/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_HDRS := $(wildcard engine/fuzz/*.h)
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_NAMES))
FUZZ_REPLAY := $(patsubst %,$(BUILD)/fuzz-replay/%,$(FUZZ_NAMES))
FUZZ_OBJ := $(patsubst engine/src/%.c,$(BUILD)/obj-fuzz/%.o,$(LIB_SRC))
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -Iengine/include -fPIC -g $(filter-out -Wno-format-truncation,$(WARN)) -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CHECK = printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' | \
  $(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1

demo: deps all
	$(BUILD)/bin/pmls run examples/logreg_demo.lua

# The floor check, every C test (plain and sanitized), the embedding example
# against a `make install` under build/ (tools/embed-test.sh) and every busted
# spec; the last line is "N passed, N failed" over all of them.
test: deps all $(TESTS) $(SAN_TESTS) $(FUZZ_REPLAY)
	@if $(FUZZ_CHECK); then $(MAKE) --no-print-directory fuzz-build; else \
	  echo "pmls: no libFuzzer ($(FUZZ_CC) -fsanitize=fuzzer): the fuzz corpora are replayed by the gcc driver only" >&2; fi
	@tools/run-tests.sh tools/check_floors.lua $(TESTS) $(SAN_TESTS) tools/embed-test.sh tools/fuzz-test.sh

# ---- fuzzing (engine/fuzz/, docs/security.md "Fuzzing") --------------------
# Each engine/fuzz/fuzz_NAME.c is a libFuzzer harness with its seed corpus in
# engine/fuzz/corpus/NAME/. Built with clang's libFuzzer, ASan and UBSan into
# build/fuzz/NAME (over the library compiled again with clang into
# build/obj-fuzz/), and with gcc's ASan and UBSan and a plain main()
# (replay.c) into build/fuzz-replay/NAME, which replays files on a machine
# without libFuzzer. `make fuzz` runs each harness for FUZZ_SECONDS;
# `make test` replays every corpus and runs each harness briefly
# (tools/fuzz-test.sh).
.PHONY: fuzz fuzz-build fuzz-corpus
.SECONDARY: $(FUZZ_OBJ)

$(BUILD)/obj-fuzz/%.o: engine/src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined $(PKG_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/%: engine/fuzz/fuzz_%.c $(FUZZ_OBJ) $(HDRS) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJ) $(SAN_LIBS)
$(BUILD)/fuzz-replay/%: engine/fuzz/fuzz_%.c engine/fuzz/replay.c $(SAN_OBJ) $(HDRS) $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -o $@ $< engine/fuzz/replay.c $(SAN_OBJ) $(SAN_LIBS)
fuzz-build: $(FUZZ_BINS)

# Runs each harness for FUZZ_SECONDS (FUZZ=NAME for one) at low priority,
# on a scratch copy of its corpus; a crash leaves its input in
# build/fuzz-out/NAME/ and the log beside it.
FUZZ ?= $(FUZZ_NAMES)
fuzz: deps $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ))
	@tools/fuzz-run.sh $(FUZZ_SECONDS) $(FUZZ)

# The seed corpora of the message harnesses, made with the wire helpers
# (the data readers' seeds are files written by hand).
$(BUILD)/fuzz-gen: engine/fuzz/gen_corpus.c $(BUILD)/lib/libpmls.a $(HDRS) $(FUZZ_HDRS)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/lib/libpmls.a $(LIBS)
fuzz-corpus: $(BUILD)/fuzz-gen
	$(BUILD)/fuzz-gen engine/fuzz/corpus

# ---- make install ----------------------------------------------------------
# What is installed knows its prefix even after a plain `make` built for
# another: lua_path.c is compiled again for PREFIX and the libraries and the
# command are linked again with it in build/inst/ (remade when PREFIX
# changes; the build tree's own files are left alone).
INST := $(BUILD)/inst
INST_OBJ := $(filter-out $(BUILD)/obj/runtime/lua_path.o,$(OBJ)) $(INST)/obj/lua_path.o
.PHONY: FORCE
$(INST)/prefix: FORCE
	@mkdir -p $(dir $@)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
$(INST)/obj/lua_path.o: engine/src/runtime/lua_path.c $(HDRS) $(INST)/prefix
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -fvisibility=hidden $(PREFIX_DEF) -c $< -o $@
$(INST)/lib/libpmls.a: $(INST_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(INST)/lib/libpmls.so: $(INST_OBJ)
	$(CC) -shared -o $@ $^ $(SAN_LIBS)
$(INST)/bin/pmls: $(CLI_OBJ) $(INST)/lib/libpmls.a
	@mkdir -p $(dir $@)
	$(CC) -rdynamic -o $@ $(CLI_OBJ) -Wl,--whole-archive $(INST)/lib/libpmls.a -Wl,--no-whole-archive $(LIBS)
INST_FILES := $(INST)/bin/pmls $(INST)/lib/libpmls.a $(INST)/lib/libpmls.so

# Models (with their subdirectories), examples and docs/embedding.md go to
# share/pmls, beside the Lua package; pmls.pc carries an rpath to libdir.
install: all $(INST_FILES)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/pmls/lua/pmls
	install -m 755 $(INST)/bin/pmls $(DESTDIR)$(PREFIX)/bin/pmls
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 644 $(MAN) $(DESTDIR)$(PREFIX)/share/man/man1/pmls.1
	install -m 644 $(COMPLETION) $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pmls
	install -m 644 $(INST)/lib/libpmls.a $(DESTDIR)$(PREFIX)/lib/libpmls.a
	install -m 755 $(INST)/lib/libpmls.so $(DESTDIR)$(PREFIX)/lib/libpmls.so
	install -m 644 engine/include/pmls.h engine/include/pmlsaux.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 lua/pmls/*.lua $(CDEF) $(CDEF_AUX) $(DESTDIR)$(PREFIX)/share/pmls/lua/pmls/
	install -d $(DESTDIR)$(PREFIX)/share/pmls/lua/pmls/data
	install -m 644 lua/pmls/data/*.lua $(DESTDIR)$(PREFIX)/share/pmls/lua/pmls/data/
	for f in $$(find models examples -type f) docs/embedding.md; do \
	  install -D -m 644 $$f $(DESTDIR)$(PREFIX)/share/pmls/$$f || exit 1; done
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@DEPS_LIBS@|$(PKG_LIBS)|g' \
	  tools/pmls.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/pmls.pc

clean:
	rm -rf $(BUILD)

# Benchmarks: ratios against references measured in the same run (bench/).
.PHONY: bench
bench: deps all
	@tools/deps.sh bench
	@bench/run.sh
