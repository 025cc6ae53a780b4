# Standalone asio (Debian's libasio-dev, header-only). The C++ server
# (asio.cpp) compiles twice: with asio's default epoll reactor, and with its
# io_uring backend (ASIO_HAS_IO_URING, and ASIO_DISABLE_EPOLL so that
# io_uring becomes asio's default and sockets go through it). C++ stays in
# this folder; the C core is reached through shim.c (C11, the %.c rule).
# Both programs link $(INTERPOSE_OBJ): asio makes its syscalls itself.
# asio-io_uring also wraps the two liburing functions that enter the kernel
# (uring.c says why and how they are counted).
ASIO_CXXFLAGS    := -std=c++17 $(OPT) -pthread -Wall -Wextra -MMD -MP
ASIO_URING_DEFS  := -DMUXBENCH_ASIO_URING -DASIO_HAS_IO_URING -DASIO_DISABLE_EPOLL
ASIO_URING_LIBS  := $(shell pkg-config --libs liburing 2>/dev/null || echo -luring)
ASIO_URING_WRAP  := -Wl,--wrap=io_uring_submit -Wl,--wrap=__io_uring_get_cqe

ASIO_CXX_SRCS    := $(wildcard strategies/asio/*.cpp)
ASIO_EPOLL_OBJS  := $(patsubst %.cpp,$(B)/obj/%.epoll.o,$(ASIO_CXX_SRCS))
ASIO_URING_OBJS  := $(patsubst %.cpp,$(B)/obj/%.uring.o,$(ASIO_CXX_SRCS))
ASIO_SHIM_OBJS   := $(call obj,strategies/asio/shim.c)
ASIO_URING_C_OBJS := $(call obj,strategies/asio/uring.c)

$(B)/obj/strategies/asio/%.epoll.o: strategies/asio/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(ASIO_CXXFLAGS) -c -o $@ $<

$(B)/obj/strategies/asio/%.uring.o: strategies/asio/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(ASIO_CXXFLAGS) $(ASIO_URING_DEFS) -c -o $@ $<

PROGRAMS += $(B)/muxbench-asio $(B)/muxbench-asio-io_uring
$(B)/muxbench-asio: $(ASIO_EPOLL_OBJS) $(ASIO_SHIM_OBJS) $(SERVER_OBJS) $(INTERPOSE_OBJ)
	$(CXX) $(LDFLAGS) -pthread -o $@ $^ $(LDLIBS_BASE)
$(B)/muxbench-asio-io_uring: $(ASIO_URING_OBJS) $(ASIO_SHIM_OBJS) $(ASIO_URING_C_OBJS) $(SERVER_OBJS) $(INTERPOSE_OBJ)
	$(CXX) $(LDFLAGS) -pthread $(ASIO_URING_WRAP) -o $@ $^ $(ASIO_URING_LIBS) $(LDLIBS_BASE)
