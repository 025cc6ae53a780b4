# C unit tests of the sans-I/O core; run by test/native.test.ts.
TESTS += build/test-core
build/test-core: $(call obj,$(wildcard test/native/*.c)) $(CORE_OBJS) $(LLHTTP_OBJS)
	$(CC) -o $@ $^ $(LDLIBS_BASE)
