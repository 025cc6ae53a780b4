# C unit tests of the sans-I/O core; run by test/core-native.test.ts.
TESTS += $(B)/test-core
$(B)/test-core: $(call obj,$(wildcard test/native/*.c)) $(CORE_OBJS) $(LLHTTP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)
