# libFuzzer harnesses of the protocol core (docs/fuzzing.md). Not part of the
# default build (which uses $(CC), usually gcc): `make fuzz` builds them with
# clang's libFuzzer, ASan and UBSan; scripts/fuzz.sh runs them.
FUZZ_CC     ?= clang
FUZZ_FLAGS  ?= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(B)/fuzz/fuzz_p2p $(B)/fuzz/fuzz_http
# Sanitizers must see the core itself, so it is compiled from source here
# (not linked from the gcc objects), with the native build's defines.
FUZZ_SRCS   := $(wildcard strategies/core/*.c) $(LLHTTP_SRC)/api.c $(LLHTTP_SRC)/http.c $(LLHTTP_SRC)/llhttp.c

fuzz: fuzz-check-cc $(FUZZ_TARGETS)

fuzz-check-cc:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { \
	  echo "make fuzz: '$(FUZZ_CC)' not found; install clang (Debian: apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
	@echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
	  | $(FUZZ_CC) $(FUZZ_FLAGS) -x c - -o /dev/null >/dev/null 2>&1 || { \
	  echo "make fuzz: $(FUZZ_CC) cannot link -fsanitize=fuzzer,address,undefined; install its runtime (Debian: apt-get install libclang-rt-14-dev)" >&2; exit 1; }

$(B)/fuzz/%: test/fuzz/%.c test/fuzz/driver.h $(FUZZ_SRCS) $(wildcard strategies/core/*.h) | fuzz-check-cc
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -I$(LLHTTP_INC) -w -o $@ $< $(FUZZ_SRCS) $(LDLIBS_BASE)

.PHONY: fuzz fuzz-check-cc
