PROGRAMS += $(B)/muxbench-epoll
$(B)/muxbench-epoll: $(call obj,$(wildcard strategies/epoll/*.c)) $(SERVER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)
