PROGRAMS += $(B)/muxbench-select
$(B)/muxbench-select: $(call obj,$(wildcard strategies/select/*.c)) $(SERVER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)
