/* Native fast path of the answers reader and of majority vote's passes over the answers
 * (labeling/aggregation/native/__init__.py loads it with ctypes; no Python headers; `make native`
 * builds it). The vote kernels are at the end of the file.
 *
 * qn_parse reads a whole answers CSV held in memory, in one pass: it splits the rows (through an
 * index of the separators, built a few kilobytes ahead), checks the bytes are valid UTF-8 and
 * codes the item, annotator and label fields, each column with its own table (codes in order of
 * first appearance; while a column's names come in increasing order, as the items of a file
 * grouped in item order, a new name is only compared with the last one, no hashing; a field with
 * the same bytes as the same column of the row before takes that row's code).
 * After the rows, a column whose names did not come in sorted order and are all of at most 16
 * bytes has them sorted here (radix sort, sort_column) and its codes renumbered to sorted ranks.
 * It returns int64 codes per row and, per column, the distinct names (offsets + bytes), plus
 * whether the codes already follow the sorted (byte) order. Only where they do not (a name over
 * 16 bytes in a column seen out of order) Python sorts the distinct names and remaps the codes
 * (qn_remap), so the codes are always those of the pyarrow path.
 *
 * Only the simple case is handled: anything else returns QN_UNHANDLED and the caller reads the
 * file with pyarrow, which gives today's results and error messages. Not handled: a quote
 * character anywhere, a UTF-8 byte order mark, invalid UTF-8 anywhere, a carriage return not
 * followed by a line feed, an empty line, a row whose field count differs from the header's, an
 * empty item/annotator/label field, a header without exactly one item, annotator and label column
 * or with an empty or repeated name, more than QN_MAX_COLUMNS columns, no data row, or over 2 GB
 * of distinct names in one column. Handled: LF and CRLF line ends, the three columns in any
 * order among others (the other fields are only checked, never kept), a last line without a line
 * end.
 *
 * The buffer must be followed by at least QN_PADDING readable bytes, the first of them '\n' (a
 * sentinel that ends the last row) and the others zero: the separator index reads whole 64-byte
 * blocks, the header's scan and the name comparisons 8 or 16 bytes at a time.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Checked by the Python loader: bump on any change of the functions' signatures or meaning
 * (5: qn_parse sorts the names of up to 16 bytes itself; 6: the packed vote passes and
 * qn_take_offsets / qn_take_bytes). */
#define QN_ABI_VERSION 6
#define QN_PADDING 80
#define QN_MAX_COLUMNS 64

enum { QN_OK = 0, QN_UNHANDLED = 1, QN_NOMEM = 2, QN_FULL = 3 };
enum { COL_ITEM = 0, COL_ANNOTATOR = 1, COL_LABEL = 2, COL_OTHER = 3 };

/* info[] slots filled by qn_parse */
enum {
    INFO_STATUS = 0, INFO_ROWS = 1, INFO_NAMES = 2,  /* 2..4: distinct names per column */
    INFO_BYTES = 5,                                   /* 5..7: bytes of those names */
    INFO_SORTED = 8,                                  /* 8..10: first-seen order is sorted */
    INFO_WHERE = 11,                                  /* byte offset where parsing gave up */
    INFO_SIZE = 12
};

int qn_abi_version(void) { return QN_ABI_VERSION; }

static inline uint64_t load8(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HASZERO(v) (((v) - ONES) & ~(v) & HIGHS)

/* First byte at or after p that is ',', '\n', '\r', '"' or not ASCII. The lowest set bit of each
 * HASZERO term is exact (false positives only sit above a true match), so is their union's. */
static inline const uint8_t *scan_special(const uint8_t *p) {
    for (;;) {
        uint64_t w = load8(p);
        uint64_t m = HASZERO(w ^ (ONES * ',')) | HASZERO(w ^ (ONES * '\n')) | HASZERO(w ^ (ONES * '\r')) |
                     HASZERO(w ^ (ONES * '"')) | (w & HIGHS);
        if (m) return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
}

/* Length of the valid UTF-8 sequence starting at non-ASCII byte q, 0 if invalid. */
static inline int utf8_sequence(const uint8_t *q) {
    uint8_t c = q[0], d = q[1];
    if (c < 0xC2) return 0;
    if (c < 0xE0) return (d & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (c == 0xE0 ? (d < 0xA0 || d > 0xBF) : c == 0xED ? (d < 0x80 || d > 0x9F) : (d & 0xC0) != 0x80) return 0;
        return (q[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c < 0xF5) {
        if (c == 0xF0 ? (d < 0x90 || d > 0xBF) : c == 0xF4 ? (d < 0x80 || d > 0x8F) : (d & 0xC0) != 0x80) return 0;
        return ((q[2] & 0xC0) == 0x80 && (q[3] & 0xC0) == 0x80) ? 4 : 0;
    }
    return 0;
}

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static const uint64_t BYTE_MASK[9] = {
    0, 0xffULL, 0xffffULL, 0xffffffULL, 0xffffffffULL, 0xffffffffffULL, 0xffffffffffffULL,
    0xffffffffffffffULL, 0xffffffffffffffffULL};

/* The first 16 bytes of a name of up to 16 bytes as two zero-padded words (the sort's keys). */
static inline void name_words(const uint8_t *p, int64_t len, uint64_t *k0, uint64_t *k1) {
    if (len <= 8) {
        *k0 = load8(p) & BYTE_MASK[len];
        *k1 = 0;
    } else {
        *k0 = load8(p);
        *k1 = load8(p + 8) & BYTE_MASK[len - 8];
    }
}

/* A name's key in a column's hash table, 12 bytes (a, b), b never 0. A name of up to SHORT_NAME
 * bytes is its own key: a its first 8 bytes, b the next 3 and the length in the top byte
 * (zero-padded): equal keys mean equal names. A longer name is hashed into a, with b = 0xff in
 * the top byte and the length's low bits below, and checked byte by byte. A slot is 16 bytes,
 * four to a cache line. */
#define SHORT_NAME 11
static inline void table_key(const uint8_t *p, int64_t len, uint64_t *a, uint32_t *b) {
    if (len <= 8) {
        *a = load8(p) & BYTE_MASK[len];
        *b = (uint32_t)len << 24;
    } else if (len <= SHORT_NAME) {
        *a = load8(p);
        *b = ((uint32_t)load8(p + 8) & (uint32_t)BYTE_MASK[len - 8]) | (uint32_t)len << 24;
    } else {
        uint64_t h = (uint64_t)len * 0x9E3779B97F4A7C15ULL;
        for (int64_t i = 0; i + 8 < len; i += 8) h = mix64(h ^ load8(p + i));
        *a = mix64(h ^ load8(p + len - 8));  /* the last 8 bytes (overlapping) */
        *b = 0xff000000u | ((uint32_t)len & 0xffffffu);
    }
}

/* Slot of a key in a table of 2^(64 - shift) slots: both words mixed, then Fibonacci hashing
 * (the top bits of a product depend on every bit of the key). */
static inline int64_t slot_of(uint64_t a, uint32_t b, int shift) {
    uint64_t h = a * 0x9E3779B97F4A7C15ULL ^ (uint64_t)b * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 32;
    return (int64_t)((h * 0xD6E8FEB86659FD93ULL) >> shift);
}

typedef struct {
    uint64_t a;
    uint32_t b;  /* 0: empty slot */
    uint32_t code;
} slot;

typedef struct {
    slot *slots;
    int64_t size;    /* slots (a power of 2), 0 until the table is built */
    int shift;       /* 64 - log2(size) */
    int64_t n, cap;
    int64_t *off;    /* n + 1 offsets into bytes */
    uint8_t *bytes;  /* the names, back to back, with 16 zero bytes after the last */
    int64_t nbytes, bytes_cap;
    int sorted;      /* codes follow the names' byte order (seen in order, or sorted after) */
    const uint8_t *prev;
    int64_t prev_len, prev_code;
    int64_t repeats, misses;  /* fields equal to the row before's, or not; repeats -1: not tried */
    int64_t longest;          /* bytes of the longest name */
} column;

typedef struct {
    column col[3];
} qn_ctx;

static int column_init(column *c) {
    memset(c, 0, sizeof *c);
    c->cap = 1024;
    c->off = malloc((c->cap + 1) * sizeof(int64_t));
    c->bytes_cap = 1 << 14;
    c->bytes = malloc(c->bytes_cap);
    if (!c->off || !c->bytes) return QN_NOMEM;
    c->off[0] = 0;
    c->sorted = 1;
    c->prev_code = -1;
    return QN_OK;
}

static void column_free(column *c) {
    free(c->slots);
    free(c->off);
    free(c->bytes);
}

/* A zeroed table of size slots; large ones on transparent huge pages where the kernel offers
 * them (random probes into megabytes of table otherwise miss the TLB on most lookups). */
static slot *alloc_slots(int64_t size) {
    size_t bytes = (size_t)size * sizeof(slot);
    void *mem = NULL;
    if (bytes >= (2u << 20)) {
        if (posix_memalign(&mem, 2u << 20, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
        madvise(mem, bytes, MADV_HUGEPAGE);
#endif
        memset(mem, 0, bytes);
        return mem;
    }
    return calloc(size, sizeof(slot));
}

static inline void put(slot *slots, int64_t mask, int shift, slot s) {
    int64_t j = slot_of(s.a, s.b, shift);
    while (slots[j].b) j = (j + 1) & mask;
    slots[j] = s;
}

/* Tables of fewer slots (up to 1 MB) stay in cache: their lookups are done at once. A table
 * only grows, so a column switches to the queue once, with nothing pending. */
#define QUEUE_MIN (1 << 16)

/* Move the table to size slots (a power of 2). */
static int resize_table(column *c, int64_t size) {
    int shift = 64;
    for (int64_t s = size; s > 1; s >>= 1) shift--;
    slot *slots = alloc_slots(size);
    if (!slots) return QN_NOMEM;
    for (int64_t i = 0; i < c->size; i++)
        if (c->slots[i].b) put(slots, size - 1, shift, c->slots[i]);
    free(c->slots);
    c->slots = slots;
    c->size = size;
    c->shift = shift;
    return QN_OK;
}

/* Equal n bytes at a and b (both followed by at least 16 readable bytes). */
static inline int same_bytes(const uint8_t *a, const uint8_t *b, int64_t n) {
    if (n <= 8) return ((load8(a) ^ load8(b)) & BYTE_MASK[n]) == 0;
    if (n <= 16) return load8(a) == load8(b) && ((load8(a + 8) ^ load8(b + 8)) & BYTE_MASK[n - 8]) == 0;
    return memcmp(a, b, n) == 0;
}

/* Append a new name; its code, or -1 when out of memory or too large. */
static int64_t append(column *c, const uint8_t *p, int64_t len) {
    int64_t code = c->n;
    if (len > 0x7fffffff || code >= 0x7fffffff || c->nbytes + len > 0x7fffffff) return -1;
    if (code + 1 > c->cap) {
        int64_t cap = c->cap * 2;
        int64_t *off = realloc(c->off, (cap + 1) * sizeof(int64_t));
        if (!off) return -1;
        c->off = off;
        c->cap = cap;
    }
    if (c->nbytes + len + 16 > c->bytes_cap) {
        int64_t cap = c->bytes_cap;
        while (c->nbytes + len + 16 > cap) cap *= 2;
        uint8_t *bytes = realloc(c->bytes, cap);
        if (!bytes) return -1;
        c->bytes = bytes;
        c->bytes_cap = cap;
    }
    memcpy(c->bytes + c->nbytes, p, len);
    memset(c->bytes + c->nbytes + len, 0, 16);
    c->nbytes += len;
    c->off[code + 1] = c->nbytes;
    c->n = code + 1;
    if (len > c->longest) c->longest = len;
    return code;
}

/* Byte order of a[0:na) and b[0:nb). */
static inline int compare(const uint8_t *a, int64_t na, const uint8_t *b, int64_t nb) {
    int cmp = memcmp(a, b, na < nb ? na : nb);
    return cmp ? cmp : (na > nb) - (na < nb);
}

/* Index every name so far (the column leaves its sorted mode). */
static int build_table(column *c) {
    int64_t size = 1024;
    while (size < 4 * c->n) size *= 2;
    if (resize_table(c, size) != QN_OK) return QN_NOMEM;
    for (int64_t i = 0; i < c->n; i++) {
        slot s;
        s.code = (uint32_t)i;
        table_key(c->bytes + c->off[i], c->off[i + 1] - c->off[i], &s.a, &s.b);
        put(c->slots, c->size - 1, c->shift, s);
    }
    return QN_OK;
}

/* The code of name p[0:len) with key (a, b) in a column in hash mode, added if new; -1 when
 * out of memory or too large. */
static inline __attribute__((always_inline)) int64_t find_or_add(column *c, const uint8_t *p, int64_t len,
                                                                 uint64_t a, uint32_t b) {
    int64_t mask = c->size - 1, j = slot_of(a, b, c->shift);
    for (;;) {
        slot s = c->slots[j];
        if (!s.b) break;
        if (s.a == a && s.b == b &&
            (len <= SHORT_NAME || (c->off[s.code + 1] - c->off[s.code] == len &&
                                   same_bytes(c->bytes + c->off[s.code], p, len))))
            return s.code;
        j = (j + 1) & mask;
    }
    int64_t code = append(c, p, len);
    if (code < 0) return -1;
    c->slots[j] = (slot){a, b, (uint32_t)code};
    /* at most a quarter full while the table stays in cache (fewer probes that the branch
     * predictor cannot guess), at most half full beyond */
    if (c->n * (c->size < QUEUE_MIN ? 4 : 2) > c->size && resize_table(c, c->size * 2) != QN_OK) return -1;
    return code;
}

/* The code of name p[0:len) (len >= 1) in a column in sorted mode, added if new; -1 when out of
 * memory or too large.
 *
 * While the names so far came in strictly increasing byte order (c->sorted: the items of a file
 * grouped in item order), a name is either the last one or a new one above it: no hash table is
 * kept. The first name below the last one indexes them all, and hashing takes over. */
static int64_t lookup_sorted(column *c, const uint8_t *p, int64_t len) {
    if (!c->n) return append(c, p, len);
    int64_t last = c->n - 1, last_len = c->off[c->n] - c->off[last];
    int cmp = compare(c->bytes + c->off[last], last_len, p, len);
    if (cmp == 0) return last;
    if (cmp < 0) return append(c, p, len);
    c->sorted = 0;
    if (build_table(c) != QN_OK) return -1;
    uint64_t a;
    uint32_t b;
    table_key(p, len, &a, &b);
    return find_or_add(c, p, len, a, b);
}

/* Lookups of a column in hash mode wait in a short queue, their slot prefetched, and are done
 * in row order PENDING rows later: with a large table (the items of a shuffled file) each probe
 * would otherwise wait for memory. A column in sorted mode has no table (size 0). */
#define PENDING 16

typedef struct {
    const uint8_t *p;  /* NULL: the same name as the row before */
    uint64_t a;
    uint32_t b;
    int64_t len, row;
} pending;

typedef struct {
    pending at[PENDING];
    int first, count;
} queue;

static inline int settle(column *c, int64_t *codes, const pending *e) {
    if (!e->p) {
        codes[e->row] = codes[e->row - 1];
        return QN_OK;
    }
    int64_t code = find_or_add(c, e->p, e->len, e->a, e->b);
    if (code < 0) return QN_UNHANDLED;
    codes[e->row] = code;
    return QN_OK;
}

static inline int enqueue(queue *q, column *c, int64_t *codes, pending e) {
    if (q->count == PENDING) {
        if (settle(c, codes, &q->at[q->first]) != QN_OK) return QN_UNHANDLED;
        q->at[q->first] = e;
        q->first = (q->first + 1) % PENDING;
        return QN_OK;
    }
    q->at[(q->first + q->count) % PENDING] = e;
    q->count++;
    return QN_OK;
}

static int drain(queue *q, column *c, int64_t *codes) {
    for (; q->count; q->count--, q->first = (q->first + 1) % PENDING)
        if (settle(c, codes, &q->at[q->first]) != QN_OK) return QN_UNHANDLED;
    return QN_OK;
}

/* ---- Sorting a column's distinct names (after the parse), so that Python gets codes and names
 * in sorted (byte) order, as the pyarrow path gives them. Names of up to 16 bytes are their own
 * key: the first 8 bytes big-endian (hi), the next 8 (lo), then the length, zero-padded, so that
 * integer order is byte order (a name before any longer one it starts, NUL bytes included). Only
 * the key bits that differ between names matter: when there are at most 64 of them (20 for
 * 100,000 names like item0038851: the low 4 bits of 5 digits), they are packed into one 64-bit
 * key, which an LSD radix sort orders in passes of up to 11 bits (2 passes there); else the
 * sort takes one pass per key byte that differs. Longer names are left to Python (Arrow's
 * string sort). */
typedef struct {
    uint64_t hi, lo;
    uint32_t len, code;
} sort_entry;

typedef struct {
    uint64_t key, code;
} packed_entry;

#define KEY_DIGITS 17  /* hi's 8 bytes, lo's 8, the length; most significant first */

static inline unsigned key_digit(const sort_entry *e, int g) {
    if (g < 8) return (unsigned)(e->hi >> (56 - 8 * g)) & 0xff;
    if (g < 16) return (unsigned)(e->lo >> (56 - 8 * (g - 8))) & 0xff;
    return e->len;
}

/* Stable counting sort of n entries from src to dst by digit(entry) (below buckets, at most
 * 1 << RADIX_BITS). */
#define RADIX_BITS 11
#define RADIX_PASS(type, src, dst, n, digit, buckets)                 \
    do {                                                              \
        uint32_t count_[1 << RADIX_BITS], at_ = 0;                    \
        memset(count_, 0, (buckets) * sizeof(uint32_t));              \
        for (int64_t i_ = 0; i_ < (n); i_++) {                        \
            const type *e = &(src)[i_];                               \
            count_[digit]++;                                          \
        }                                                             \
        for (unsigned v_ = 0; v_ < (buckets); v_++) {                 \
            uint32_t m_ = count_[v_];                                 \
            count_[v_] = at_;                                         \
            at_ += m_;                                                \
        }                                                             \
        for (int64_t i_ = 0; i_ < (n); i_++) {                        \
            const type *e = &(src)[i_];                               \
            (dst)[count_[digit]++] = *e;                              \
        }                                                             \
    } while (0)

/* Sort column c's names (all of at most 16 bytes), renumber codes[0:rows) to their sorted ranks
 * and put the names in that order; QN_NOMEM leaves everything as it was. The column's hash
 * table, no longer needed, serves as scratch memory where it is large enough (no fresh pages). */
static int sort_column(column *c, int64_t *codes, int64_t rows) {
    int64_t n = c->n;
    uint64_t vary_hi = 0, vary_lo = 0, vary_len = 0, first_hi = 0, first_lo = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t k0, k1;
        int64_t len = c->off[i + 1] - c->off[i];
        name_words(c->bytes + c->off[i], len, &k0, &k1);
        if (!i) first_hi = k0, first_lo = k1;
        vary_hi |= k0 ^ first_hi;
        vary_lo |= k1 ^ first_lo;
        vary_len |= (uint64_t)len ^ (uint64_t)(c->off[1] - c->off[0]);
    }
    sort_entry probe = {__builtin_bswap64(vary_hi), __builtin_bswap64(vary_lo), (uint32_t)vary_len, 0};
    /* the key bytes that differ between names (most significant first), their bits that do, and
     * per such byte a table that packs those bits together (order-preserving: the other bits are
     * the same in every name) */
    int digits[KEY_DIGITS], width[KEY_DIGITS], nd = 0, bits = 0;
    for (int g = 0; g < KEY_DIGITS; g++) {
        unsigned mask = key_digit(&probe, g);
        if (!mask) continue;
        digits[nd] = g;
        width[nd] = __builtin_popcount(mask);
        bits += width[nd++];
    }
    size_t entry = bits <= 64 ? sizeof(packed_entry) : sizeof(sort_entry);
    size_t need = (size_t)n * (2 * entry + sizeof(uint32_t));
    int own = (size_t)c->size * sizeof(slot) < need;
    void *work = own ? malloc(need) : (void *)c->slots;
    int64_t *off = malloc((size_t)(n + 1) * sizeof *off);
    uint8_t *bytes = malloc((size_t)c->nbytes + 16);
    uint8_t (*pack)[256] = bits <= 64 ? malloc((size_t)(nd ? nd : 1) * 256) : NULL;
    if (!work || !off || !bytes || (bits <= 64 && !pack)) {
        if (own) free(work);
        free(off), free(bytes), free(pack);
        return QN_NOMEM;
    }
    uint32_t *order = (uint32_t *)((uint8_t *)work + 2 * n * entry);
    if (bits <= 64) {
        for (int j = 0; j < nd; j++) {
            unsigned mask = key_digit(&probe, digits[j]);
            for (unsigned v = 0; v < 256; v++) {
                unsigned packed = 0;
                for (int bit = 7; bit >= 0; bit--)
                    if (mask >> bit & 1) packed = packed << 1 | (v >> bit & 1);
                pack[j][v] = (uint8_t)packed;
            }
        }
        packed_entry *a = work, *b = a + n;
        for (int64_t i = 0; i < n; i++) {
            sort_entry e;
            uint64_t k0, k1;
            e.len = (uint32_t)(c->off[i + 1] - c->off[i]);
            name_words(c->bytes + c->off[i], e.len, &k0, &k1);
            e.hi = __builtin_bswap64(k0);
            e.lo = __builtin_bswap64(k1);
            uint64_t key = 0;
            for (int j = 0; j < nd; j++) key = key << width[j] | pack[j][key_digit(&e, digits[j])];
            a[i] = (packed_entry){key, (uint64_t)i};
        }
        /* least significant bits first, in passes of at most RADIX_BITS */
        int passes = (bits + RADIX_BITS - 1) / RADIX_BITS, done = 0;
        for (int pass = 0; pass < passes; pass++) {
            int w = (bits - done + (passes - pass) - 1) / (passes - pass);
            uint64_t m = (1ULL << w) - 1;
            RADIX_PASS(packed_entry, a, b, n, (unsigned)(e->key >> done & m), 1u << w);
            done += w;
            packed_entry *t = a;
            a = b;
            b = t;
        }
        for (int64_t i = 0; i < n; i++) order[i] = (uint32_t)a[i].code;
    } else {
        sort_entry *a = work, *b = a + n;
        for (int64_t i = 0; i < n; i++) {
            uint64_t k0, k1;
            int64_t len = c->off[i + 1] - c->off[i];
            name_words(c->bytes + c->off[i], len, &k0, &k1);
            a[i] = (sort_entry){__builtin_bswap64(k0), __builtin_bswap64(k1), (uint32_t)len, (uint32_t)i};
        }
        for (int j = nd - 1; j >= 0; j--) {
            int g = digits[j];
            RADIX_PASS(sort_entry, a, b, n, key_digit(e, g), 256u);
            sort_entry *t = a;
            a = b;
            b = t;
        }
        for (int64_t i = 0; i < n; i++) order[i] = a[i].code;
    }
    free(pack);
    /* the names in sorted order (16 bytes copied at a time, each name overwriting the previous
     * one's excess; the old names are followed by 16 readable bytes), and each code's rank */
    uint32_t *rank = (uint32_t *)work;  /* the entries are no longer needed */
    off[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t code = order[i];
        memcpy(bytes + off[i], c->bytes + c->off[code], 16);
        off[i + 1] = off[i] + (c->off[code + 1] - c->off[code]);
        rank[code] = (uint32_t)i;
    }
    memset(bytes + c->nbytes, 0, 16);
    for (int64_t i = 0; i < rows; i++) codes[i] = rank[codes[i]];
    if (own) free(work);
    free(c->off), free(c->bytes);
    c->off = off;
    c->bytes = bytes;
    c->cap = n;
    c->bytes_cap = c->nbytes + 16;
    c->sorted = 1;
    return QN_OK;
}

void qn_free(void *handle) {
    qn_ctx *ctx = handle;
    if (!ctx) return;
    for (int i = 0; i < 3; i++) column_free(&ctx->col[i]);
    free(ctx);
}

/* Scan one field from p: returns the byte that ended it (',', '\n' for a line end, also CRLF, or
 * 0 for anything not handled) and sets *end to the field's end, *next past the delimiter. */
static inline __attribute__((always_inline)) int field_end(const uint8_t *p, const uint8_t **end, const uint8_t **next) {
    for (;;) {
        const uint8_t *q = scan_special(p);
        uint8_t ch = *q;
        if (ch == ',') {
            *end = q;
            *next = q + 1;
            return ',';
        }
        if (ch == '\n') {
            *end = q;
            *next = q + 1;
            return '\n';
        }
        if (ch == '\r') {
            if (q[1] != '\n') return 0;
            *end = q;
            *next = q + 2;
            return '\n';
        }
        if (ch == '"') return 0;
        int n = utf8_sequence(q);
        if (!n) return 0;
        p = q + n;
    }
}

/* The rows are split through an index of their separators (',', '\n', '\r'), built 64 bytes at a
 * time (SSE2 where available, else 8 bytes per word) a few kilobytes ahead of the row walker,
 * which then takes one position per field instead of scanning its bytes. The same pass notes
 * whether any quote or non-ASCII byte occurs: a quote means not handled; non-ASCII bytes are
 * checked as UTF-8 once the parse is done (splitting never depends on them). */
#define INDEX_BLOCKS 64                   /* 64-byte blocks indexed per refill */
#define INDEX_ROOM (INDEX_BLOCKS * 64)   /* at most one separator per byte */

typedef struct {
    const uint8_t *pos[INDEX_ROOM];
    int count, next;
    const uint8_t *indexed;  /* next byte to index */
    const uint8_t *limit;    /* one past the sentinel */
    uint64_t quotes, high;
} sep_index;

#ifndef __SSE2__
/* High bit of each byte of v that equals c's byte (exact, unlike HASZERO). */
static inline uint64_t bytes_equal(uint64_t v, uint64_t c) {
    uint64_t x = v ^ c;
    return ~(((x & ~HIGHS) + ~HIGHS) | x) & HIGHS;
}

static inline uint64_t byte_bits(uint64_t highs) {  /* 8 high bits -> 8 low bits */
    return ((highs >> 7) * 0x0102040810204080ULL) >> 56;
}
#endif

static inline uint64_t block_separators(const uint8_t *b, uint64_t *quotes, uint64_t *high) {
#ifdef __SSE2__
    const __m128i comma = _mm_set1_epi8(','), nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'),
                  quote = _mm_set1_epi8('"');
    uint64_t m = 0;
    for (int i = 0; i < 4; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(b + 16 * i));
        __m128i sep = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, nl)), _mm_cmpeq_epi8(v, cr));
        m |= (uint64_t)(uint32_t)_mm_movemask_epi8(sep) << (16 * i);
        *quotes |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote));
        *high |= (uint32_t)_mm_movemask_epi8(v);
    }
    return m;
#else
    uint64_t m = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t w = load8(b + 8 * i);
        uint64_t sep = bytes_equal(w, ONES * ',') | bytes_equal(w, ONES * '\n') | bytes_equal(w, ONES * '\r');
        m |= byte_bits(sep) << (8 * i);
        *quotes |= bytes_equal(w, ONES * '"');
        *high |= w & HIGHS;
    }
    return m;
#endif
}

/* Index the next blocks; 0 when the whole buffer is indexed. */
static int refill(sep_index *x) {
    x->count = x->next = 0;
    for (int k = 0; k < INDEX_BLOCKS && x->indexed < x->limit; k++, x->indexed += 64) {
        const uint8_t *b = x->indexed;
        uint64_t m = block_separators(b, &x->quotes, &x->high);
        if (x->limit - b < 64) m &= (1ULL << (x->limit - b)) - 1;  /* nothing past the sentinel */
        while (m) {
            x->pos[x->count++] = b + __builtin_ctzll(m);
            m &= m - 1;
        }
    }
    return x->count > 0;
}

/* The next separator (NULL past the last). */
static inline const uint8_t *next_separator(sep_index *x) {
    if (x->next == x->count && !refill(x)) return NULL;
    return x->pos[x->next++];
}

/* p[0:n) is valid UTF-8 (p followed by the sentinel and padding). */
static int valid_utf8(const uint8_t *p, const uint8_t *end) {
    while (p < end) {
        if (!(load8(p) & HIGHS)) {
            p += 8;
            continue;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = utf8_sequence(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

/* Parse buf[0:size) (see the top of the file for the padding). codes: three arrays of at least
 * max_rows int64 each (item, annotator, label). On QN_OK, *handle holds the distinct names until
 * qn_free; info gets INFO_SIZE values. */
int qn_parse(const uint8_t *buf, int64_t size, int64_t max_rows, int64_t *item_codes,
             int64_t *annotator_codes, int64_t *label_codes, int64_t *info, void **handle) {
    const uint8_t *p = buf, *end = buf + size;
    int64_t *codes[3] = {item_codes, annotator_codes, label_codes};
    int role[QN_MAX_COLUMNS];
    const uint8_t *name_at[QN_MAX_COLUMNS];
    int64_t name_len[QN_MAX_COLUMNS];
    int ncols = 0, found[3] = {0, 0, 0}, status = QN_UNHANDLED;
    int64_t rows = 0;
    qn_ctx *ctx = NULL;
    queue queues[3];
    memset(queues, 0, sizeof queues);

    memset(info, 0, INFO_SIZE * sizeof(int64_t));
    *handle = NULL;
    if (size >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF) goto done;  /* BOM */
    /* header */
    for (;;) {
        const uint8_t *fend, *next;
        int delim = field_end(p, &fend, &next);
        if (!delim || fend == p || ncols == QN_MAX_COLUMNS || fend > end) goto done;
        int64_t len = fend - p;
        for (int i = 0; i < ncols; i++)
            if (name_len[i] == len && memcmp(name_at[i], p, len) == 0) goto done;  /* repeated name */
        name_at[ncols] = p;
        name_len[ncols] = len;
        role[ncols] = COL_OTHER;
        if (len == 4 && memcmp(p, "item", 4) == 0) role[ncols] = COL_ITEM;
        else if (len == 9 && memcmp(p, "annotator", 9) == 0) role[ncols] = COL_ANNOTATOR;
        else if (len == 5 && memcmp(p, "label", 5) == 0) role[ncols] = COL_LABEL;
        if (role[ncols] != COL_OTHER) found[role[ncols]]++;
        ncols++;
        p = next;
        if (delim == '\n') break;
    }
    if (found[0] != 1 || found[1] != 1 || found[2] != 1 || p >= end) goto done;

    ctx = calloc(1, sizeof *ctx);
    if (!ctx) { status = QN_NOMEM; goto done; }
    for (int i = 0; i < 3; i++)
        if (column_init(&ctx->col[i]) != QN_OK) { status = QN_NOMEM; goto done; }

    sep_index *x = malloc(sizeof *x);
    if (!x) { status = QN_NOMEM; goto done; }
    x->count = x->next = 0;
    x->indexed = p;
    x->limit = end + 1;
    x->quotes = x->high = 0;
    const uint8_t *data = p;
    while (p < end) {
        if (rows == max_rows) { status = QN_FULL; goto fail; }  /* more rows than room for */
        for (int f = 0; f < ncols; f++) {
            const uint8_t *q = next_separator(x);
            if (!q) goto fail;
            const uint8_t *next = q + 1;
            uint8_t ch = *q;
            if (ch == '\r') {  /* CRLF: its '\n' is the next separator */
                if (q[1] != '\n' || next_separator(x) != q + 1) goto fail;
                ch = '\n';
                next = q + 2;
            }
            if ((ch == ',') == (f == ncols - 1)) goto fail;  /* ragged */
            int r = role[f];
            if (r != COL_OTHER) {
                int64_t len = q - p;
                if (!len) goto fail;  /* empty value: the pyarrow path names it */
                column *c = &ctx->col[r];
                /* the same bytes as this column's field in the row before: its code (tried while
                 * that mostly holds, 3 times in 4: a guess that fails half the time costs more
                 * than it saves) */
                if (c->repeats >= 0) {
                    if (len == c->prev_len && same_bytes(p, c->prev, len)) {
                        c->repeats++;
                        if (c->size < QUEUE_MIN) codes[r][rows] = c->prev_code;
                        else if (enqueue(&queues[r], c, codes[r], (pending){NULL, 0, 0, 0, rows}) != QN_OK) goto fail;
                        c->prev = p;
                        p = next;
                        continue;
                    }
                    if (++c->misses == 256) {  /* judged every 256 other values */
                        if (c->repeats < 3 * 256) c->repeats = -1;
                        else c->repeats = c->misses = 0;
                    }
                }
                if (c->size < QUEUE_MIN) {  /* sorted mode, or a small table: at once */
                    int64_t code;
                    if (c->sorted) {
                        code = lookup_sorted(c, p, len);
                    } else {
                        uint64_t a;
                        uint32_t b;
                        table_key(p, len, &a, &b);
                        code = find_or_add(c, p, len, a, b);
                    }
                    if (code < 0) goto fail;
                    codes[r][rows] = code;
                    c->prev_code = code;
                } else {
                    uint64_t a;
                    uint32_t b;
                    table_key(p, len, &a, &b);
                    __builtin_prefetch(&c->slots[slot_of(a, b, c->shift)]);
                    if (enqueue(&queues[r], c, codes[r], (pending){p, a, b, len, rows}) != QN_OK) goto fail;
                }
                c->prev = p;
                c->prev_len = len;
            }
            p = next;
        }
        rows++;
    }
    if (x->quotes || (x->high && !valid_utf8(data, end))) goto fail;
    free(x);
    x = NULL;
    for (int i = 0; i < 3; i++)
        if (drain(&queues[i], &ctx->col[i], codes[i]) != QN_OK) goto done;
    if (rows == 0) goto done;
    for (int i = 0; i < 3; i++) {  /* names in sorted order where the parse did not see them so */
        column *c = &ctx->col[i];
        if (!c->sorted && c->longest <= 16 && sort_column(c, codes[i], rows) != QN_OK) {
            status = QN_NOMEM;
            goto done;
        }
    }
    status = QN_OK;
    info[INFO_ROWS] = rows;
    for (int i = 0; i < 3; i++) {
        info[INFO_NAMES + i] = ctx->col[i].n;
        info[INFO_BYTES + i] = ctx->col[i].nbytes;
        info[INFO_SORTED + i] = ctx->col[i].sorted;
    }
    *handle = ctx;
    ctx = NULL;

    if (0) {
    fail:
        free(x);
    }
done:
    info[INFO_STATUS] = status;
    info[INFO_WHERE] = p - buf;
    qn_free(ctx);
    return status;
}

/* Copy column col's distinct names (in code order) out: offsets (n + 1 int32, from 0) and bytes. */
void qn_names(void *handle, int col, int32_t *offsets, uint8_t *bytes) {
    column *c = &((qn_ctx *)handle)->col[col];
    for (int64_t i = 0; i <= c->n; i++) offsets[i] = (int32_t)c->off[i];
    memcpy(bytes, c->bytes, c->nbytes);
}

/* codes[i] = rank[codes[i]], in place. */
void qn_remap(int64_t *codes, int64_t n, const int64_t *rank) {
    for (int64_t i = 0; i < n; i++) codes[i] = rank[codes[i]];
}

/* Gather strings: out = names[codes] for an Arrow string array (offsets from names_offsets[0],
 * n_names of them, no nulls). qn_take_offsets writes the n + 1 output offsets (from 0) and
 * returns the output's bytes, or -1 if a code is out of range or the bytes exceed 2^31 - 1 (the
 * caller then uses Arrow's take, which names the error); qn_take_bytes copies the bytes into
 * out_data, which must have room for 16 bytes more. */
int64_t qn_take_offsets(const int32_t *names_offsets, int64_t n_names, const int64_t *codes, int64_t n,
                        int32_t *out_offsets) {
    int64_t total = 0;
    out_offsets[0] = 0;
    for (int64_t j = 0; j < n; j++) {
        uint64_t c = (uint64_t)codes[j];
        if (c >= (uint64_t)n_names) return -1;
        total += names_offsets[c + 1] - names_offsets[c];
        if (total > 0x7fffffff) return -1;
        out_offsets[j + 1] = (int32_t)total;
    }
    return total;
}

void qn_take_bytes(const int32_t *names_offsets, const uint8_t *names_data, int64_t n_names, const int64_t *codes,
                   int64_t n, const int32_t *out_offsets, uint8_t *out_data) {
    /* few names of at most 16 bytes (labels): each copied from a zero-padded 16-byte slot as a
     * whole, the next name overwriting the excess (out_data has 16 bytes to spare) */
    int short_names = n_names <= 4096;
    for (int64_t c = 0; c < n_names && short_names; c++) short_names = names_offsets[c + 1] - names_offsets[c] <= 16;
    uint8_t (*slot16)[16] = short_names ? calloc(n_names ? n_names : 1, 16) : NULL;
    if (slot16) {
        for (int64_t c = 0; c < n_names; c++)
            memcpy(slot16[c], names_data + names_offsets[c], (size_t)(names_offsets[c + 1] - names_offsets[c]));
        for (int64_t j = 0; j < n; j++) memcpy(out_data + out_offsets[j], slot16[codes[j]], 16);
        free(slot16);
        return;
    }
    for (int64_t j = 0; j < n; j++)
        memcpy(out_data + out_offsets[j], names_data + names_offsets[codes[j]],
               (size_t)(out_offsets[j + 1] - out_offsets[j]));
}

/* ---- Majority vote kernels (labeling/aggregation/majority.py): the passes over the answers and
 * the per-item loops of majority_vote, with the same floating-point operations in the same order
 * as its NumPy/SciPy form, hence bit-identical results. Codes must already be checked to lie in
 * range (base.check_answers). Tables are C-ordered (n_items, k). */

/* Per item, from its vote counts: answers, vote shares, the top count, the label with it (the
 * first such; -1 without answers) and whether it is tied. */
static void plurality(const int64_t *counts, int64_t n_items, int64_t k, int64_t *n_answers, double *shares,
                      int64_t *best, int64_t *chosen, uint8_t *tied) {
    for (int64_t i = 0; i < n_items; i++) {
        const int64_t *c = counts + i * k;
        int64_t total = c[0], top = c[0], at = 0, n_top = 1;
        for (int64_t t = 1; t < k; t++) {
            total += c[t];
            if (c[t] > top) top = c[t], at = t, n_top = 1;
            else if (c[t] == top) n_top++;
        }
        n_answers[i] = total;
        double denominator = (double)(total > 1 ? total : 1);
        for (int64_t t = 0; t < k; t++) shares[i * k + t] = (double)c[t] / denominator;
        best[i] = top;
        chosen[i] = total > 0 ? at : -1;
        tied[i] = n_top > 1 && total > 0;
    }
}

/* Pass 1: votes per (item, label) (counts), answers per item (n_answers), vote shares
 * counts / max(answers, 1), and per item the most votes (best), the lowest label with that many
 * (chosen; -1 on items without answers) and whether two or more labels have it on an answered
 * item (tied). Returns 1, having written nothing past the tables, if an item or label code is
 * out of range (the caller then raises base.check_answers' error). */
int qn_vote_pass(const int64_t *items, const int64_t *labels, int64_t n, int64_t n_items, int64_t k,
                 int64_t *counts, int64_t *n_answers, double *shares, int64_t *best, int64_t *chosen,
                 uint8_t *tied) {
    uint64_t bad = 0;
    memset(counts, 0, (size_t)(n_items * k) * sizeof(int64_t));
    for (int64_t j = 0; j < n; j++) {
        uint64_t i = (uint64_t)items[j], l = (uint64_t)labels[j];
        bad |= (i >= (uint64_t)n_items) | (l >= (uint64_t)k);
        i = i < (uint64_t)n_items ? i : 0;
        l = l < (uint64_t)k ? l : 0;
        counts[i * k + l]++;
    }
    if (bad) return 1;
    plurality(counts, n_items, k, n_answers, shares, best, chosen, tied);
    return 0;
}

/* Pass 2, the M-step sums: out[(annotator * k + label) * k + t] += shares[item * k + t], answers
 * in input order (as SciPy's sparse products visit them); out (n_annotators * k * k) is zeroed
 * first. Returns 1 if an annotator code is out of range (item and label codes were checked by
 * pass 1). */
int qn_share_sums(const int64_t *items, const int64_t *annotators, const int64_t *labels, int64_t n,
                  int64_t n_annotators, int64_t k, const double *shares, double *out) {
    uint64_t bad = 0;
    memset(out, 0, (size_t)(n_annotators * k * k) * sizeof(double));
    for (int64_t j = 0; j < n; j++) {
        uint64_t a = (uint64_t)annotators[j];
        bad |= a >= (uint64_t)n_annotators;
        a = a < (uint64_t)n_annotators ? a : 0;
        double *o = out + ((int64_t)a * k + labels[j]) * k;
        const double *sh = shares + items[j] * k;
        if (k == 3) {
            o[0] += sh[0];
            o[1] += sh[1];
            o[2] += sh[2];
        } else {
            for (int64_t t = 0; t < k; t++) o[t] += sh[t];
        }
    }
    return (int)bad;
}

/* Pass 3, the E-step sums: out[item * k + c] = sum of weights[(annotator * k + label) * k + c]
 * over the item's answers (quantized weights: exact sums, any order). */
void qn_weight_sums(const int64_t *items, const int64_t *annotators, const int64_t *labels, int64_t n, int64_t n_items,
                    int64_t k, const double *weights, double *out) {
    memset(out, 0, (size_t)(n_items * k) * sizeof(double));
    for (int64_t j = 0; j < n; j++) {
        double *o = out + items[j] * k;
        const double *w = weights + (annotators[j] * k + labels[j]) * k;
        for (int64_t t = 0; t < k; t++) o[t] += w[t];
    }
}

/* The same three passes over answers given as packed records, one 32-bit word per answer
 * (majority._majority_native uses them when item codes and annotator * k + label fit in it
 * together): qn_vote_pass_packed does pass 1 as qn_vote_pass, also checks the annotator codes,
 * and writes record[j] = item | (annotator * k + label) << shift (item < 2^shift); passes 2 and 3
 * then read 4 bytes per answer instead of 24 from the three code arrays. Same operations in the
 * same order as qn_vote_pass / qn_share_sums / qn_weight_sums, hence the same bits. Returns 1 if
 * any code is out of range, having written nothing past the tables. */
int qn_vote_pass_packed(const int64_t *items, const int64_t *annotators, const int64_t *labels, int64_t n,
                        int64_t n_items, int64_t n_annotators, int64_t k, int64_t *counts, int64_t *n_answers,
                        double *shares, int64_t *best, int64_t *chosen, uint8_t *tied, uint32_t *record,
                        int64_t shift) {
    uint64_t bad = 0;
    memset(counts, 0, (size_t)(n_items * k) * sizeof(int64_t));
    for (int64_t j = 0; j < n; j++) {
        uint64_t i = (uint64_t)items[j], a = (uint64_t)annotators[j], l = (uint64_t)labels[j];
        bad |= (i >= (uint64_t)n_items) | (l >= (uint64_t)k) | (a >= (uint64_t)n_annotators);
        i = i < (uint64_t)n_items ? i : 0;
        l = l < (uint64_t)k ? l : 0;
        a = a < (uint64_t)n_annotators ? a : 0;
        counts[i * k + l]++;
        record[j] = (uint32_t)(i | (a * (uint64_t)k + l) << shift);
    }
    if (bad) return 1;
    plurality(counts, n_items, k, n_answers, shares, best, chosen, tied);
    return 0;
}

/* Pass 2 from the records: as qn_share_sums. */
void qn_share_sums_packed(const uint32_t *record, int64_t n, int64_t shift, int64_t n_annotators, int64_t k,
                          const double *shares, double *out) {
    uint32_t mask = (uint32_t)((1ULL << shift) - 1);
    memset(out, 0, (size_t)(n_annotators * k * k) * sizeof(double));
    if (k == 3) {
        for (int64_t j = 0; j < n; j++) {
            double *o = out + (int64_t)(record[j] >> shift) * 3;
            const double *sh = shares + (int64_t)(record[j] & mask) * 3;
            o[0] += sh[0];
            o[1] += sh[1];
            o[2] += sh[2];
        }
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        double *o = out + (int64_t)(record[j] >> shift) * k;
        const double *sh = shares + (int64_t)(record[j] & mask) * k;
        for (int64_t t = 0; t < k; t++) o[t] += sh[t];
    }
}

/* Pass 3 from the records: as qn_weight_sums. */
void qn_weight_sums_packed(const uint32_t *record, int64_t n, int64_t shift, int64_t n_items, int64_t k,
                           const double *weights, double *out) {
    uint32_t mask = (uint32_t)((1ULL << shift) - 1);
    memset(out, 0, (size_t)(n_items * k) * sizeof(double));
    if (k == 3) {
        for (int64_t j = 0; j < n; j++) {
            double *o = out + (int64_t)(record[j] & mask) * 3;
            const double *w = weights + (int64_t)(record[j] >> shift) * 3;
            o[0] += w[0];
            o[1] += w[1];
            o[2] += w[2];
        }
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        double *o = out + (int64_t)(record[j] & mask) * k;
        const double *w = weights + (int64_t)(record[j] >> shift) * k;
        for (int64_t t = 0; t < k; t++) o[t] += w[t];
    }
}

/* Ties, as majority._break_ties with the keys [key1 (n_items, k), key2 (k,)]: among the labels
 * with the most votes, those with the highest key1, then the highest key2, then the lowest;
 * level 1, 2 or 3 says which settled it (0 on untied items). */
void qn_break_ties(const int64_t *counts, const int64_t *best, const uint8_t *tied, int64_t n_items, int64_t k,
                   const double *key1, const double *key2, int64_t *chosen, int8_t *level) {
    uint8_t candidate[256];
    for (int64_t i = 0; i < n_items; i++) {
        level[i] = 0;
        if (!tied[i]) continue;
        const int64_t *c = counts + i * k;
        for (int64_t t = 0; t < k; t++) candidate[t] = c[t] == best[i];
        int settled = 0;
        for (int key = 1; key <= 2 && !settled; key++) {
            const double *v = key == 1 ? key1 + i * k : key2;
            double top = -__builtin_inf();
            for (int64_t t = 0; t < k; t++)
                if (candidate[t] && v[t] > top) top = v[t];
            int left = 0;
            for (int64_t t = 0; t < k; t++) {
                candidate[t] = candidate[t] && v[t] == top;
                left += candidate[t];
            }
            if (left == 1) settled = key;
        }
        level[i] = (int8_t)(settled ? settled : 3);
        for (int64_t t = 0; t < k; t++)
            if (candidate[t]) {
                chosen[i] = t;
                break;
            }
    }
}
/* Softmax, first half: scores[i, t] += log_prior[t], then minus (row maximum + 1). */
void qn_softmax_shift(double *scores, int64_t n_items, int64_t k, const double *log_prior) {
    for (int64_t i = 0; i < n_items; i++) {
        double *s = scores + i * k;
        for (int64_t t = 0; t < k; t++) s[t] += log_prior[t];
        double top = s[0];
        for (int64_t t = 1; t < k; t++) top = s[t] > top ? s[t] : top;
        top += 1.0;
        for (int64_t t = 0; t < k; t++) s[t] -= top;
    }
}

/* Softmax, second half (after exp): each row divided by its sum (added in label order); the
 * chosen label's posterior, 0 on items without answers (chosen -1). */
void qn_softmax_finish(double *scores, int64_t n_items, int64_t k, const int64_t *chosen, double *confidence) {
    for (int64_t i = 0; i < n_items; i++) {
        double *s = scores + i * k;
        double total = s[0];
        for (int64_t t = 1; t < k; t++) total += s[t];
        for (int64_t t = 0; t < k; t++) s[t] /= total;
        confidence[i] = chosen[i] >= 0 ? s[chosen[i]] : 0.0;
    }
}
