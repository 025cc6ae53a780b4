PROGRAMS += $(B)/muxbench-loadgen
$(B)/muxbench-loadgen: $(call obj,$(wildcard loadgen/*.c)) $(SERVER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE) -lm
