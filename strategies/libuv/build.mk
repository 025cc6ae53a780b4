# libuv makes the syscalls itself: linking $(INTERPOSE_OBJ) defines read,
# writev, accept4, epoll_wait, ... in the program, so the dynamic linker binds
# libuv's calls to counting versions (see net/interpose.h).
# (The fallback keeps `make` quiet for other targets on a host without libuv.)
LIBUV_LIBS   := $(shell pkg-config --libs libuv 2>/dev/null || echo -luv)
LIBUV_CFLAGS := $(shell pkg-config --cflags libuv 2>/dev/null)
LIBUV_OBJS   := $(call obj,$(wildcard strategies/libuv/*.c))

PROGRAMS += $(B)/muxbench-libuv
$(LIBUV_OBJS): CFLAGS += $(LIBUV_CFLAGS)
$(B)/muxbench-libuv: $(LIBUV_OBJS) $(SERVER_OBJS) $(INTERPOSE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBUV_LIBS) $(LDLIBS_BASE)
