# otklik - GNU Makefile.  Targets: all run check bench lint fmt clean.
#   make            release binary build/otklik
#   make run        install missing packages, build, create ./otklik.db with demo data, serve
#   make check      normal + sanitizer builds, every test; ends with "N passed, N failed"
#   V=1             show full compiler command lines

PKGS      := libmicrohttpd jansson libcjson sqlite3 libsodium libutf8proc libcurl gmime-3.0 libqrencode libpng
CC        ?= cc
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wformat=2 -Wvla -Wno-format-nonliteral
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lstemmer -llinear -lm -pthread
# The release build allocates with tcmalloc (gperftools): per-thread caches, and
# memory freed on another thread than the one that took it (a request parsed on
# an HTTP loop, written by the writer, answered after the fsync) costs no lock.
# The sanitizer build keeps AddressSanitizer's allocator.
REL_LIBS   := $(PKG_LIBS) -l:libtcmalloc_minimal.so.4
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE -g -pthread -Isrc -Ibuild/gen $(PKG_CFLAGS) $(WARN)
REL_CFLAGS  := $(BASE_CFLAGS) -O2
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_CFLAGS  := $(BASE_CFLAGS) -O1 $(SAN_FLAGS)

SRC       := $(sort $(shell find src -name '*.c' ! -path src/main.c))
WEB       := $(sort $(shell find web -type f))
REL_OBJ   := $(SRC:src/%.c=build/rel/%.o) build/rel/gen/web_assets.o
SAN_OBJ   := $(SRC:src/%.c=build/san/%.o) build/san/gen/web_assets.o
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=build/san/tests/%)

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all run check bench lint fmt clean deps unit api browser demo-db
all: build/otklik

build/otklik: build/rel/main.o $(REL_OBJ) | build/lint.stamp
	@echo "  LD      $@"
	$(Q)$(CC) $(REL_CFLAGS) -o $@ $^ $(REL_LIBS)

build/otklik-san: build/san/main.o $(SAN_OBJ) | build/lint.stamp
	@echo "  LD      $@"
	$(Q)$(CC) $(SAN_CFLAGS) -o $@ $^ $(PKG_LIBS)

build/rel/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(REL_CFLAGS) -MMD -MP -c -o $@ $<

build/san/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC san  $<"
	$(Q)$(CC) $(SAN_CFLAGS) -MMD -MP -c -o $@ $<

# The web UI is compiled into the binary, so it runs from any directory.
build/gen/web_assets.c: tools/embed.c $(WEB)
	@mkdir -p build/gen build/tools
	$(Q)$(CC) -std=c17 -O1 -Wall -Wextra -Werror -o build/tools/embed tools/embed.c
	@echo "  EMBED   web/"
	$(Q)build/tools/embed $@ $(WEB)

build/rel/gen/web_assets.o: build/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(REL_CFLAGS) -c -o $@ $<

build/san/gen/web_assets.o: build/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(SAN_CFLAGS) -c -o $@ $<

build/san/tests/%: tests/unit/%.c $(SAN_OBJ) tests/unit/testutil.h
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(SAN_CFLAGS) -Itests/unit -o $@ $< $(SAN_OBJ) $(PKG_LIBS) -lcmocka

# Benchmark programs (bench/<part>/<name>.c) link the release objects: make build/bench/<part>/<name>
build/bench/%: bench/%.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(REL_CFLAGS) -Wno-missing-prototypes -o $@ $< $(REL_OBJ) $(REL_LIBS)

# Banned functions: unbounded or ambiguous C library calls.
BANNED := \b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|gets)[[:space:]]*\(
build/lint.stamp: $(SRC) src/main.c $(wildcard src/*/*.h)
	@mkdir -p build
	@if grep -nE '$(BANNED)' $^ ; then echo "lint: banned function (see STYLE)"; exit 1; fi
	@touch $@

lint: build/lint.stamp

deps:
	$(Q)scripts/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory build/otklik
	$(Q)test -f otklik.db || build/otklik demo --db otklik.db
	$(Q)build/otklik serve --db otklik.db --listen 127.0.0.1:8080 --print-logins

check: deps
	$(Q)$(MAKE) --no-print-directory build/otklik build/otklik-san $(UNIT_BIN)
	$(Q)scripts/check.sh

bench:
	$(Q)scripts/deps.sh --bench
	$(Q)$(MAKE) --no-print-directory build/otklik
	$(Q)bench/run.sh

fmt:
	clang-format -i $(SRC) src/main.c $(wildcard src/*/*.h) $(UNIT_SRC)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
