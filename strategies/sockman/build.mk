PROGRAMS += $(B)/muxbench-sockman
$(B)/muxbench-sockman: $(call obj,$(wildcard strategies/sockman/*.c)) $(SERVER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)
