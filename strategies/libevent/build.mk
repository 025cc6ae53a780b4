# libevent from pkg-config: libevent_core (event loop, bufferevents, listener),
# libevent_extra (evhttp) and libevent_pthreads (evthread_use_pthreads, for
# --handoff). Its flags apply to this strategy's objects only.
LIBEVENT_CFLAGS := $(shell pkg-config --cflags libevent_core libevent_extra libevent_pthreads 2>/dev/null)
LIBEVENT_LIBS   := $(shell pkg-config --libs libevent_core libevent_extra libevent_pthreads 2>/dev/null || echo -levent_core -levent_extra -levent_pthreads)
LIBEVENT_OBJS   := $(call obj,$(wildcard strategies/libevent/*.c))

PROGRAMS += $(B)/muxbench-libevent
$(LIBEVENT_OBJS): CFLAGS += $(LIBEVENT_CFLAGS)
# INTERPOSE_OBJ counts the syscalls libevent makes (strategies/net/interpose.h);
# it must be linked with libevent on the command line so that the linker
# exports read, writev, ... from the executable for libevent to bind to.
$(B)/muxbench-libevent: $(LIBEVENT_OBJS) $(INTERPOSE_OBJ) $(SERVER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBEVENT_LIBS) $(LDLIBS_BASE)
