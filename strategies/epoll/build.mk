PROGRAMS += build/muxbench-epoll
build/muxbench-epoll: $(call obj,$(wildcard strategies/epoll/*.c)) $(SERVER_OBJS)
	$(CC) -o $@ $^ $(LDLIBS_BASE)
