# libev only multiplexes: this strategy does its own socket I/O through the
# counting sc_* wrappers (net/stream_io.h), so it links $(INTERPOSE_POLL_OBJ),
# which counts libev's epoll_wait/epoll_ctl and its ev_async eventfd, and not
# the I/O interposer, which would count every read and write twice (see
# net/interpose.h). Debian ships no pkg-config file for libev: -lev.
LIBEV_LIBS ?= -lev
LIBEV_OBJS := $(call obj,$(wildcard strategies/libev/*.c))

PROGRAMS += $(B)/muxbench-libev
$(B)/muxbench-libev: $(LIBEV_OBJS) $(SERVER_OBJS) $(INTERPOSE_POLL_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBEV_LIBS) $(LDLIBS_BASE)
