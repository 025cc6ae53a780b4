# liburing comes from pkg-config; its flags apply to this strategy's objects only.
URING_CFLAGS := $(shell pkg-config --cflags liburing 2>/dev/null)
URING_LIBS   := $(shell pkg-config --libs liburing 2>/dev/null || echo -luring)
URING_OBJS   := $(call obj,$(wildcard strategies/io_uring/*.c))

PROGRAMS += $(B)/muxbench-io_uring
$(URING_OBJS): CFLAGS += $(URING_CFLAGS)
$(B)/muxbench-io_uring: $(URING_OBJS) $(SERVER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(URING_LIBS) $(LDLIBS_BASE)
