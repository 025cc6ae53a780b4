/* kernel.io_uring_disabled, read by the programs that probe for io_uring
 * (the io_uring strategy and asio's io_uring build): 0 = allowed, 1 = only
 * members of kernel.io_uring_group, 2 = off for everyone. Kernels without
 * the setting (before 6.6) allow io_uring: 0. */
#ifndef MUXBENCH_IO_URING_SYSCTL_H
#define MUXBENCH_IO_URING_SYSCTL_H

#include <stdio.h>

static inline int io_uring_disabled_level(void) {
    int level = 0;
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (f) {
        if (fscanf(f, "%d", &level) != 1) level = 0;
        fclose(f);
    }
    return level;
}

#endif
