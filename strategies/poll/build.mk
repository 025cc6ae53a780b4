PROGRAMS += $(B)/muxbench-poll
$(B)/muxbench-poll: $(call obj,$(wildcard strategies/poll/*.c)) $(SERVER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)
