#include "CGaragetytus.h"
#include <stdint.h>
#include <string.h>

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as in iSCSI, ext4 and btrfs: the SSE4.2
// instruction where the CPU has it (8 bytes per step), else the same CRC bit by bit.

static uint32_t crc32c_soft(uint32_t crc, const unsigned char *p, size_t n) {
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);  // no alignment assumed
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t gt_crc32c(const void *data, size_t length) {
    const unsigned char *p = data;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return ~crc32c_hw(~0u, p, length);
#endif
    return ~crc32c_soft(~0u, p, length);
}
