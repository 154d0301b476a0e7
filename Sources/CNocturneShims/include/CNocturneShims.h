#ifndef C_NOCTURNE_SHIMS_H
#define C_NOCTURNE_SHIMS_H

/// Asks the CPU to start loading the cache line at `address` for writing. The aggregation
/// tables are evicted by the packet stream between packets; issuing the loads of all three
/// table entries of a packet before touching any of them overlaps their misses.
static inline void nocturne_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
