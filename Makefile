# Native build: strategies, the load generator and the C unit tests.
# `npm run build` calls this; outputs go to build/ (git-ignored).
CC       ?= cc
OPT      ?= -O2 -g -fno-omit-frame-pointer
CFLAGS   += $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -MMD -MP
LDLIBS_BASE := -lcrypto -lxxhash -lpthread

# llhttp is Node's HTTP parser; Debian's node-llhttp ships its C sources.
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
CFLAGS   += -I$(LLHTTP_INC)

B := build
obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

CORE_OBJS   := $(call obj,$(wildcard strategies/core/*.c))
# interpose*.c count an event library's syscalls by defining read, write, ...
# in the executable: only strategies built on such a library link them
# (net/interpose.h). INTERPOSE_OBJ: the I/O and the epoll calls (libuv,
# libevent); INTERPOSE_POLL_OBJ: only the epoll calls and the library's
# wake-up eventfd, for a strategy that does its own I/O with the sc_* wrappers (libev).
INTERPOSE_POLL_OBJ := $(call obj,strategies/net/interpose_poll.c)
INTERPOSE_OBJ := $(call obj,strategies/net/interpose.c) $(INTERPOSE_POLL_OBJ)
NET_OBJS    := $(call obj,$(filter-out strategies/net/interpose%.c,$(wildcard strategies/net/*.c)))
LLHTTP_OBJS := $(B)/obj/llhttp/api.o $(B)/obj/llhttp/http.o $(B)/obj/llhttp/llhttp.o
# What every native server links: protocol core, I/O helpers, control channel.
SERVER_OBJS := $(CORE_OBJS) $(NET_OBJS) $(LLHTTP_OBJS)

.DEFAULT_GOAL := all
PROGRAMS :=
TESTS    :=
# Each strategy folder says how its program is built (and which libraries it needs).
include $(wildcard strategies/*/build.mk)
include loadgen/build.mk
include test/native/build.mk
include test/fuzz/build.mk

all: $(PROGRAMS) $(TESTS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Third-party generated parser: built with its own warnings silenced.
$(B)/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -I$(LLHTTP_INC) -w -c -o $@ $<

clean:
	rm -rf $(B)

.PHONY: all clean
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
