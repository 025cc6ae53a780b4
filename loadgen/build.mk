PROGRAMS += build/muxbench-loadgen
build/muxbench-loadgen: $(call obj,$(wildcard loadgen/*.c)) $(SERVER_OBJS)
	$(CC) -o $@ $^ $(LDLIBS_BASE) -lm
