/* The compiled fast path of the LOG line parser (honeyscope.ingest.parse).
 *
 * One pass over a block's line bytes (an Arrow string array's offsets and data). Each line is
 * either *claimed* -- it is certain to become a row, and every column of that row is written
 * here, typed, in Arrow layout -- or left to the general (polars) path, which then parses it
 * exactly as before. A line is claimed only when it is printable ASCII, has one of the framings
 * below, and carries nothing the general path treats specially (brackets, fragments, options of
 * the IP header, a key twice, an unknown key, a value the general path would reject or warn
 * about). Whenever in doubt: not claimed.
 *
 *   [<PRI>]STAMP host [kernel[:]...] [[uptime]] prefix IN=.. OUT=.. ... PROTO=TCP|UDP|ICMP|ICMPv6|N ...
 *
 * (N: a protocol the kernel prints by its number, 0-255, whose header it does not dump.)
 *
 * STAMP: RFC 3164 "Mmm dd hh:mm:ss" (the year from the reference time, as the general path),
 * RFC 3339 "YYYY-MM-DD[T ]hh:mm:ss[.f{1,6}][Z|+hh:mm|-hh:mm]" or epoch seconds "s{9,10}[.f{1,6}]". Stamps without an offset come
 * out as local wall-clock microseconds (flag "naive") for the caller to convert.
 *
 * Besides, for every line (claimed or not), the two inputs of the block's "trailing space" vote:
 * whether the line has a netfilter body (the kernel's "IN=.. OUT=" anchor, or "IN=" at a word
 * boundary) -- 2 where the line is not ASCII, 3 for a journal record (the caller decides those) --
 * and whether it ends
 * with a space. The work runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h> /* (part of every x86-64) */
#endif

#define MAX_LINE_BYTES 16384
#define MAX_REJECT_TEXT 4096

/* ---------------------------------------------------------------------------------------- */
/* growing byte buffers and output columns                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int fail;
} sbuf;

static int sb_reserve(sbuf *b, size_t extra) {
    if (b->len + extra <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
        b->fail = 1;
        return 0;
    }
    b->p = q;
    b->cap = cap;
    return 1;
}

/* A buffer of strings keeps SLACK bytes after its length, so that its strings can be copied in
 * 16-byte pieces (copy16: reading and writing up to 15 bytes past them) */
#define SLACK 16

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (!n || !sb_reserve(b, n + SLACK)) return; /* (n == 0: s may be NULL, no memcpy) */
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void copy16(char *d, const char *s, size_t n) {
    for (size_t i = 0; i < n; i += 16) memcpy(d + i, s + i, 16);
}

/* string columns (Arrow utf8: int32 offsets) */
enum {
    S_HOST, S_SRC, S_DST, S_PROTO, S_FLAGS, S_TCPOPT, S_PREFIX, S_IN, S_OUT, S_PHYSIN, S_PHYSOUT,
    S_MAC, S_MACDST, S_MACSRC, S_ISRC, S_IDST, S_IPROTO, NS
};
static const char *S_NAMES[NS] = {
    "host", "src", "dst", "proto", "tcp_flags", "tcp_opt", "prefix", "in_iface", "out_iface",
    "physin", "physout", "mac", "mac_dst", "mac_src", "inner_src", "inner_dst", "inner_proto"};

/* fixed-width columns */
enum {
    N_TIME, N_UPTIME, N_SRCINT, N_DSTINT, N_FAMILY, N_SPT, N_DPT, N_ICMPTYPE, N_ICMPCODE, N_ICMPID,
    N_ICMPSEQ, N_LEN, N_L4LEN, N_TTL, N_TOS, N_PREC, N_IPID, N_FLOWLBL, N_WINDOW, N_RES, N_URGP,
    N_TCPSEQ, N_TCPACK, N_MARK, N_UID, N_GID, N_ETHERTYPE, N_MTU, N_ISPT, N_IDPT, N_ILEN, N_ITTL, N_IIPID,
    N_ITYPE, N_ICODE, NN
};
static const char *N_NAMES[NN] = {
    "time", "uptime", "src_int", "dst_int", "family", "spt", "dpt", "icmp_type", "icmp_code",
    "icmp_id", "icmp_seq", "len", "l4_len", "ttl", "tos", "prec", "ip_id", "flowlbl", "window",
    "res", "urgp", "tcp_seq", "tcp_ack", "mark", "uid", "gid", "ethertype", "mtu", "inner_spt",
    "inner_dpt", "inner_len", "inner_ttl", "inner_ip_id", "inner_icmp_type", "inner_icmp_code"};
static const int N_SIZE[NN] = {8, 8, 4, 4, 1, 2, 2, 1, 1, 2, 2, 4, 4, 1, 1, 1, 4, 4, 2, 1, 2,
                               4, 4, 4, 4, 4, 2, 4, 2, 2, 4, 1, 4, 1, 1};

/* boolean columns (Arrow bit-packed, never null) */
enum { B_DF, B_MF, B_CE, NB };
static const char *B_NAMES[NB] = {"df", "mf", "ce"};

typedef struct {
    Py_ssize_t n;        /* rows allocated */
    Py_ssize_t m;        /* rows written */
    const unsigned char *lim; /* the end of the text the rows' strings are copied from */
    int32_t *soff[NS];   /* n + 1 each */
    sbuf sdata[NS];
    uint8_t *svalid[NS]; /* bitmaps */
    uint8_t *ndata[NN];
    uint8_t *nvalid[NN];
    uint8_t *bdata[NB];
    uint8_t *naive;      /* one byte per claimed row: time is local wall clock */
    uint32_t *row;       /* the line (index in the block) of each claimed row */
} out_t;

static inline void bit_set(uint8_t *bm, Py_ssize_t i) { bm[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* the claimed rejects: lines without a netfilter body in a framing the fast path reads ("not a
 * netfilter line", with the host and time of their header) */
typedef struct {
    Py_ssize_t m;
    uint32_t *idx;
    int64_t *time;
    uint8_t *tvalid, *naive, *hvalid;
    int32_t *hoff, *toff;
    sbuf host, text;
    const char *fill; /* the host of a line without one (the sensor), or NULL */
    Py_ssize_t fill_len;
} rej_t;

/* (what each reject writes is not zeroed first: only the bitmaps and the first offsets) */
static int rej_alloc(rej_t *q, Py_ssize_t n) {
    size_t bm = (size_t)(n + 8) / 8;
    q->idx = malloc(((size_t)n + 1) * 4);
    q->time = malloc(((size_t)n + 1) * 8);
    q->tvalid = calloc(bm, 1);
    q->hvalid = calloc(bm, 1);
    q->naive = malloc((size_t)n + 1);
    q->hoff = malloc(((size_t)n + 1) * 4);
    q->toff = malloc(((size_t)n + 1) * 4);
    if (!(q->idx && q->time && q->tvalid && q->hvalid && q->naive && q->hoff && q->toff)) return 0;
    q->hoff[0] = q->toff[0] = 0;
    return 1;
}

static void rej_free(rej_t *q) {
    free(q->idx);
    free(q->time);
    free(q->tvalid);
    free(q->hvalid);
    free(q->naive);
    free(q->hoff);
    free(q->toff);
    free(q->host.p);
    free(q->text.p);
}

/* ---------------------------------------------------------------------------------------- */
/* small readers                                                                             */
/* ---------------------------------------------------------------------------------------- */

static inline int is_digit(unsigned char c) { return (unsigned)(c - '0') <= 9; }
#define H10(a) a, a, a, a, a, a, a, a, a, a
#define H6(a) a, a, a, a, a, a
static const uint8_t HEX_OK[256] = {['0'] = H10(1), ['A'] = H6(1), ['a'] = H6(1)};
#undef H10
#undef H6
static inline int is_hex(unsigned char c) { return HEX_OK[c]; }
static inline int hexval(unsigned char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}
static inline int is_ws(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }
static inline int is_word(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* A number as the kernel prints it (the general path's rule): decimal without sign or leading
 * zero ("0" itself is fine), or hex digits after an optional 0x/0X. Saturates at 2**40. */
static inline int int_of(const unsigned char *s, Py_ssize_t len, int hexa, int64_t *out) {
    Py_ssize_t i = 0;
    int64_t v = 0;
    if (!hexa && len >= 1 && len <= 12) { /* (< 10**12 < 2**40: no saturation) */
        if (len >= 2 && s[0] == '0') return 0;
        for (; i < len; i++) {
            unsigned d = (unsigned)s[i] - '0';
            if (d > 9) return 0;
            v = v * 10 + d;
        }
        *out = v;
        return 1;
    }
    if (hexa) {
        if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) i = 2;
    } else if (len >= 2 && s[0] == '0') {
        return 0;
    }
    if (i >= len) return 0;
    for (; i < len; i++) {
        unsigned char c = s[i];
        int d;
        if (is_digit(c))
            d = c - '0';
        else if (hexa && is_hex(c))
            d = hexval(c);
        else
            return 0;
        if (v < 1099511627776LL) v = v * (hexa ? 16 : 10) + d;
    }
    *out = v;
    return 1;
}

/* canonical dotted quad (no leading zeros) */
static int ipv4_of(const unsigned char *s, Py_ssize_t len, uint32_t *out) {
    if (len < 7 || len > 15) return 0;
    Py_ssize_t i = 0;
    uint32_t v = 0;
    for (int g = 0; g < 4; g++) {
        if (g > 0) {
            if (i >= len || s[i] != '.') return 0;
            i++;
        }
        /* one to three digits, no leading zero, <= 255 */
        unsigned x;
        if (i >= len || (x = (unsigned)s[i] - '0') > 9) return 0;
        i++;
        unsigned d;
        if (i < len && (d = (unsigned)s[i] - '0') <= 9) {
            if (x == 0) return 0;
            x = x * 10 + d;
            i++;
            if (i < len && (d = (unsigned)s[i] - '0') <= 9) {
                x = x * 10 + d;
                i++;
                if (x > 255 || (i < len && is_digit(s[i]))) return 0;
            }
        }
        v = v << 8 | x;
    }
    if (i != len) return 0;
    *out = v;
    return 1;
}

static const char HEXDIG[16] = "0123456789abcdef";

/* full 8-group IPv6 text (each group 1-4 hex digits) → RFC 5952 text as the general path prints
 * it (lower case, leading zeros dropped, the leftmost longest run of >= 2 zero groups as "::") */
static int ipv6_canon(const unsigned char *s, Py_ssize_t len, char *out, int *outlen) {
    unsigned int g[8];
    Py_ssize_t i = 0;
    for (int k = 0; k < 8; k++) {
        if (k > 0) {
            if (i >= len || s[i] != ':') return 0;
            i++;
        }
        Py_ssize_t st = i;
        unsigned int x = 0;
        while (i < len && i - st < 5 && is_hex(s[i])) x = x * 16 + (unsigned)hexval(s[i++]);
        if (i - st == 0 || i - st > 4) return 0;
        g[k] = x;
    }
    if (i != len) return 0;
    int best = 0, bstart = 8;
    for (int k = 0; k < 8; k++) {
        int r = 0;
        while (k + r < 8 && g[k + r] == 0) r++;
        if (r > best) {
            best = r;
            bstart = k;
        }
    }
    int p = 0;
    if (best < 2) bstart = 8;
    for (int k = 0; k < 8; k++) {
        if (k == bstart) {
            out[p++] = ':';
            out[p++] = ':';
            k += best - 1;
            continue;
        }
        if (k > 0 && k != bstart + best) out[p++] = ':';
        unsigned x = g[k]; /* (as "%x") */
        if (x >= 0x1000) out[p++] = HEXDIG[x >> 12];
        if (x >= 0x100) out[p++] = HEXDIG[(x >> 8) & 15];
        if (x >= 0x10) out[p++] = HEXDIG[(x >> 4) & 15];
        out[p++] = HEXDIG[x & 15];
    }
    *outlen = p;
    return 1;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = m > 2 ? m - 3 : m + 9;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
static int leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static int month_len(int64_t y, int m) {
    if (m == 2) return leap(y) ? 29 : 28;
    if (m == 4 || m == 6 || m == 9 || m == 11) return 30;
    return 31;
}

/* ---------------------------------------------------------------------------------------- */
/* the body's keys                                                                           */
/* ---------------------------------------------------------------------------------------- */

enum {
    K_OUT, K_PHYSIN, K_PHYSOUT, K_MAC, K_SRC, K_DST, K_LEN, K_TOS, K_PREC, K_TTL, K_ID, K_TC,
    K_HOP, K_FLOW, /* segment 0 */
    K_PROTO, K_SPT, K_DPT, K_L4LEN, K_WINDOW, K_RES, K_URGP, K_SEQ, K_ACK, K_TYPE, K_CODE,
    K_ICMPID, K_UID, K_GID, K_MARK, K_MTU, /* segment 1 (UID, GID, MARK, MTU also after the brackets) */
    K_ISRC, K_IDST, K_ILEN, K_ITTL, K_IHOP, K_IID, /* the embedded header, before its PROTO= */
    K_IPROTO, K_ISPT, K_IDPT, K_ITYPE, K_ICODE,     /* the embedded header, from its PROTO= */
    NK
};
#define SEG2_FIRST K_ISRC
#define SEG3_FIRST K_IPROTO
static const char *K_KEY[NK] = {
    "OUT=", "PHYSIN=", "PHYSOUT=", "MAC=", "SRC=", "DST=", "LEN=", "TOS=", "PREC=", "TTL=", "ID=",
    "TC=", "HOPLIMIT=", "FLOWLBL=", "PROTO=", "SPT=", "DPT=", "LEN=", "WINDOW=", "RES=", "URGP=",
    "SEQ=", "ACK=", "TYPE=", "CODE=", "ID=", "UID=", "GID=", "MARK=", "MTU=",
    "SRC=", "DST=", "LEN=", "TTL=", "HOPLIMIT=", "ID=", "PROTO=", "SPT=", "DPT=", "TYPE=", "CODE="};
static int K_LEN_[NK];
static uint64_t K_C8[NK]; /* a key's first 8 bytes (little-endian, zero-padded) */

static inline uint64_t code8(const unsigned char *s, Py_ssize_t n) {
    uint64_t c = 0;
    if (n >= 8) {
        memcpy(&c, s, 8);
        return c;
    }
    for (Py_ssize_t j = 0; j < n; j++) c |= (uint64_t)s[j] << (8 * j);
    return c;
}
#define SEG1_FIRST K_PROTO

/* the keys each part of the body may carry, as small tables by a hash of their first 8 bytes
 * without collisions (a multiplier per table found once; a segment holds no key twice) */
enum { KS_IP, KS_L4, KS_INNER, KS_INNER_L4, KS_TAIL, NKS };
static const int KS_RANGE[NKS][2] = {
    {0, SEG1_FIRST}, {SEG1_FIRST, SEG2_FIRST}, {SEG2_FIRST, SEG3_FIRST}, {SEG3_FIRST, NK}, {K_UID, K_MTU + 1}};
#define KT_BITS 6
typedef struct {
    uint64_t code; /* the key's K_C8 (0: no key here -- a key's code is never 0) */
    int32_t len, k;
} kslot;
static kslot KT[NKS][1 << KT_BITS];
static uint64_t KT_MUL[NKS];

static inline unsigned kt_hash(uint64_t code, uint64_t mul) { return (unsigned)((code * mul) >> (64 - KT_BITS)); }

/* 0: no multiplier tried gives each key of a table its own slot */
static int kt_build(void) {
    for (int s = 0; s < NKS; s++) {
        int ok = 0;
        uint64_t mul = 0x9E3779B97F4A7C15ULL;
        for (int tries = 0; tries < 100000 && !ok; tries++, mul += 0x632BE59BD9B4E01AULL) {
            memset(KT[s], 0, sizeof KT[s]);
            ok = 1;
            for (int k = KS_RANGE[s][0]; k < KS_RANGE[s][1] && ok; k++) {
                kslot *e = &KT[s][kt_hash(K_C8[k], mul | 1)];
                if (e->code) ok = 0;
                e->code = K_C8[k];
                e->len = K_LEN_[k];
                e->k = k;
            }
            KT_MUL[s] = mul | 1;
        }
        if (!ok) return 0;
    }
    return 1;
}

/* the key of segment table `s` that is t[0:klen] (its first 8 bytes: `code`), or -1 */
static inline int key_find(int s, const unsigned char *t, Py_ssize_t klen, uint64_t code) {
    const kslot *e = &KT[s][kt_hash(code, KT_MUL[s])];
    if (e->code == code && e->len == klen && (klen <= 8 || memcmp(t + 8, K_KEY[e->k] + 8, (size_t)klen - 8) == 0))
        return e->k;
    return -1;
}

/* eight bytes at a time: the bytes of w equal to c, as their high bits (the lowest set bit is
 * exactly the first such byte) */
static inline uint64_t bytes_eq(uint64_t w, unsigned char c) {
    uint64_t x = w ^ (0x0101010101010101ULL * c);
    return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}
static inline uint64_t load8(const unsigned char *s) {
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

/* the first ' ' in t[i:L] (L if none) */
static inline Py_ssize_t to_space(const unsigned char *t, Py_ssize_t i, Py_ssize_t L) {
    for (; i + 8 <= L; i += 8) {
        uint64_t m = bytes_eq(load8(t + i), ' ');
        if (m) return i + (__builtin_ctzll(m) >> 3);
    }
    while (i < L && t[i] != ' ') i++;
    return i;
}

/* the token t[st:en] (en <= L, L the end of the readable text): where its first '=' is among
 * its first 10 bytes (-1: none), and the key's first 8 bytes (the code8 of its first eq + 1) */
static inline Py_ssize_t token_eq(const unsigned char *t, Py_ssize_t st, Py_ssize_t en, Py_ssize_t L,
                                  uint64_t *code) {
    Py_ssize_t tl = en - st, eq = -1;
    if (st + 8 <= L) {
        uint64_t w = load8(t + st);
        uint64_t m = bytes_eq(w, '=');
        if (m) {
            eq = __builtin_ctzll(m) >> 3;
            if (eq >= tl) return -1;
            *code = eq == 7 ? w : w & ((1ULL << (8 * (eq + 1))) - 1);
            return eq;
        }
        if (tl > 8 && t[st + 8] == '=') eq = 8;
        else if (tl > 9 && t[st + 9] == '=') eq = 9;
        else return -1;
        *code = w;
        return eq;
    }
    Py_ssize_t lim = tl < 10 ? tl : 10;
    for (Py_ssize_t j = 0; j < lim; j++)
        if (t[st + j] == '=') {
            eq = j;
            break;
        }
    if (eq >= 0) *code = code8(t + st, eq + 1);
    return eq;
}

static const char *FLAG_WORDS[8] = {"CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"};

typedef struct {
    int64_t ref_year, ref_key;
    int year_mode; /* --year: RFC 3164 stamps give their position in the year (see parse_head) */
    int64_t dkey, ddays; /* the last date's days_from_civil (lines of a block share their dates) */
} params_t;

static inline int64_t days_of(params_t *pp, int64_t y, int64_t m, int64_t d) {
    int64_t key = (y * 16 + m) * 32 + d;
    if (key != pp->dkey) {
        pp->dkey = key;
        pp->ddays = days_from_civil(y, m, d);
    }
    return pp->ddays;
}

typedef struct { int32_t s, l; } span; /* relative to line start; l < 0: absent */

enum { P_TCP, P_UDP, P_ICMP, P_ICMP6, P_NUM }; /* P_NUM: a protocol nf_log prints as its number */
static const char *PROTO_TEXT[4] = {"TCP", "UDP", "ICMP", "ICMPv6"};
static const int PROTO_LEN[4] = {3, 3, 4, 6};

/* whether t[0:n] is ASCII, and printable ASCII (0x20-0x7e), eight bytes at a time */
static void classify(const unsigned char *t, Py_ssize_t n, int *ascii, int *printable) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t hi = 0, ctl = 0;
    Py_ssize_t j = 0;
#if defined(__SSE2__)
    { /* sixteen bytes at a time (a signed compare: bytes >= 0x80 count as control too, and as
       * not ASCII by their high bit) */
        __m128i vh = _mm_setzero_si128(), vc = _mm_setzero_si128();
        const __m128i c20 = _mm_set1_epi8(0x20), c7f = _mm_set1_epi8(0x7f);
        for (; j + 16 <= n; j += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(t + j));
            vh = _mm_or_si128(vh, v);
            vc = _mm_or_si128(vc, _mm_or_si128(_mm_cmplt_epi8(v, c20), _mm_cmpeq_epi8(v, c7f)));
        }
        if (_mm_movemask_epi8(vh)) hi = highs;
        if (_mm_movemask_epi8(vc)) ctl = highs;
    }
#endif
    for (; j + 8 <= n; j += 8) {
        uint64_t w;
        memcpy(&w, t + j, 8);
        hi |= w;
        /* a byte < 0x20, or == 0x7f (bytes >= 0x80 are caught by `hi`) */
        uint64_t x = w ^ (ones * 0x7f);
        ctl |= ((w - ones * 0x20) & ~w) | ((x - ones) & ~x);
    }
    for (; j < n; j++) {
        unsigned char c = t[j];
        hi |= c;
        if (c < 0x20 || c == 0x7f) ctl |= 0x80;
    }
    *ascii = (hi & highs) == 0;
    *printable = *ascii && (ctl & highs) == 0;
}

/* whether the kernel's "IN=%s OUT=" anchor starts at t[i] (\s and [^\s=] as the general path's
 * regular expression reads them, for ASCII text) */
static inline int anchor_at(const unsigned char *t, Py_ssize_t i, Py_ssize_t L) {
    if (t[i] != 'I' || t[i + 1] != 'N' || t[i + 2] != '=') return 0;
    Py_ssize_t j = i + 3;
    while (j < L && !is_ws(t[j]) && t[j] != '=') j++;
    Py_ssize_t k = j;
    while (k < L && t[k] == ' ') k++;
    if (k == j) return 0;
    if (k + 4 <= L && memcmp(t + k, "OUT=", 4) == 0) return 1;
    if (k + 7 <= L && memcmp(t + k, "PHYSIN=", 7) == 0) {
        Py_ssize_t a = k + 7;
        while (a < L && !is_ws(t[a]) && t[a] != '=') a++;
        Py_ssize_t b = a;
        while (b < L && t[b] == ' ') b++;
        if (b > a && b + 4 <= L && memcmp(t + b, "OUT=", 4) == 0) return 1;
    }
    return 0;
}

/* the first anchor in t[0:L]: its position, or -1 */
static Py_ssize_t find_anchor(const unsigned char *t, Py_ssize_t L) {
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    /* sixteen positions at a time where SSE2 is (every x86-64) */
    for (; i + 18 <= L; i += 16) {
        __m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(t + i)), _mm_set1_epi8('I'));
        __m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(t + i + 1)), _mm_set1_epi8('N'));
        __m128i c = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(t + i + 2)), _mm_set1_epi8('='));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_and_si128(a, b), c));
        while (m) {
            Py_ssize_t p = i + __builtin_ctz(m);
            m &= m - 1;
            if (anchor_at(t, p, L)) return p;
        }
    }
#endif
    /* eight positions at a time: where "IN=" may start (each candidate checked byte by byte) */
    for (; i + 10 <= L; i += 8) {
        uint64_t m = bytes_eq(load8(t + i), 'I') & bytes_eq(load8(t + i + 1), 'N') &
                     bytes_eq(load8(t + i + 2), '=');
        while (m) {
            Py_ssize_t c = i + (__builtin_ctzll(m) >> 3);
            m &= m - 1;
            if (anchor_at(t, c, L)) return c;
        }
    }
    for (; i + 3 <= L; i++)
        if (anchor_at(t, i, L)) return i;
    return -1;
}

static int has_loose(const unsigned char *t, Py_ssize_t L) {
    for (Py_ssize_t i = 0; i + 3 <= L; i++)
        if (t[i] == 'I' && t[i + 1] == 'N' && t[i + 2] == '=' && (i == 0 || !is_word(t[i - 1])))
            return 1;
    return 0;
}

typedef struct {
    int64_t time_us;
    int naive;
    int64_t ypos; /* year mode: seconds into a 365-day year of an RFC 3164 stamp; else -1 */
    double uptime;
    int has_uptime;
    span host, prefix, in, out, physin, physout, mac, flags, tcpopt, src, dst;
    char src6[48], dst6[48], isrc6[48], idst6[48];
    int src6len, dst6len; /* > 0: canonical IPv6 text in src6 / dst6 */
    int isrc6len, idst6len; /* the embedded header's: -1 absent, 0 IPv4 (its span), > 0 IPv6 */
    int brk;
    uint32_t src_int, dst_int;
    int fam, proto;
    uint8_t has[NK];
    int64_t val[NK];
    span kv[NK];
    int df, mf, ce;
    int mac14;
} row_t;

static int head_rest(const unsigned char *t, Py_ssize_t p, Py_ssize_t at, row_t *r, int stamped);

static void put_reject(rej_t *q, Py_ssize_t r, const unsigned char *t, Py_ssize_t raw, const row_t *row);

/* the stamp and header; returns 1 if the line's head is one we read */
static int parse_head(const unsigned char *t, Py_ssize_t at, params_t *pp, row_t *r) {
    Py_ssize_t p = 0;
    r->ypos = -1;
    if (at > 0 && t[0] == '<') {
        Py_ssize_t q = 1;
        while (q < at && q < 4 && is_digit(t[q])) q++;
        if (q == 1 || q >= at || t[q] != '>') return 0;
        p = q + 1;
    }
    const unsigned char *s = t + p;
    Py_ssize_t left = at - p;
    if (left >= 15 && s[0] >= 'A' && s[0] <= 'Z') { /* RFC 3164 */
        int mon = 0;
        switch ((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16) { /* (the month's name) */
#define MON(a, b, c, k) case (uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16: mon = k; break;
            MON('J', 'a', 'n', 1) MON('F', 'e', 'b', 2) MON('M', 'a', 'r', 3) MON('A', 'p', 'r', 4)
            MON('M', 'a', 'y', 5) MON('J', 'u', 'n', 6) MON('J', 'u', 'l', 7) MON('A', 'u', 'g', 8)
            MON('S', 'e', 'p', 9) MON('O', 'c', 't', 10) MON('N', 'o', 'v', 11) MON('D', 'e', 'c', 12)
#undef MON
            default: return 0;
        }
        Py_ssize_t q = 3;
        int sp = 0;
        while (q < left && s[q] == ' ' && sp < 3) { q++; sp++; }
        if (sp < 1 || sp > 2) return 0;
        int dd = 0, nd = 0;
        while (q < left && is_digit(s[q]) && nd < 3) { dd = dd * 10 + (s[q] - '0'); q++; nd++; }
        if (nd < 1 || nd > 2) return 0;
        if (q + 9 > left || s[q] != ' ') return 0;
        q++;
        const unsigned char *c = s + q;
        if (!(is_digit(c[0]) && is_digit(c[1]) && c[2] == ':' && is_digit(c[3]) && is_digit(c[4]) &&
              c[5] == ':' && is_digit(c[6]) && is_digit(c[7])))
            return 0;
        q += 8;
        if (q >= left || s[q] != ' ') return 0;
        int64_t secs = ((c[0] - '0') * 10 + (c[1] - '0')) * 3600 + ((c[3] - '0') * 10 + (c[4] - '0')) * 60 +
                       (c[6] - '0') * 10 + (c[7] - '0');
        if (pp->year_mode) {
            /* --year: the year is the caller's (per sensor, from line to line); a date valid in
             * every year (not Feb 29) gives its position as the general path computes it */
            static const int BEFORE[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
            if (dd < 1 || secs > 86399 || dd > month_len(2001, mon)) return 0;
            r->ypos = (int64_t)(BEFORE[mon - 1] + dd - 1) * 86400 + secs;
            r->time_us = 0;
            r->naive = 1;
            p += q;
            while (p < at && t[p] == ' ') p++;
            return head_rest(t, p, at, r, 1);
        }
        int64_t key = (int64_t)mon * 100000000 + (int64_t)dd * 1000000 + secs;
        int64_t year = key <= pp->ref_key ? pp->ref_year : pp->ref_year - 1;
        if (mon == 2 && dd == 29)
            for (int k = 0; k < 7; k++)
                if (!leap(year)) year--;
        if (dd < 1 || dd > 31 || secs > 86399 || dd > month_len(year, mon)) return 0;
        r->time_us = (days_of(pp, year, mon, dd) * 86400 + secs) * 1000000;
        r->naive = 1;
        p += q;
    } else if (left > 9 && is_digit(s[0]) && is_digit(s[4])) {
        /* epoch seconds, rsyslog's date-unixtimestamp (the DShield sensor's template): 9-10
         * digits, up to 6 of a fraction, UTC; years from 2100 on are left to the general path */
        Py_ssize_t q = 0;
        int64_t sec = 0;
        while (q < left && q < 11 && is_digit(s[q])) sec = sec * 10 + (s[q++] - '0');
        if (q < 9 || q > 10 || sec >= INT64_C(4102444800)) return 0;
        int64_t frac = 0;
        if (q < left && s[q] == '.') {
            q++;
            int nd = 0;
            while (q < left && nd < 7 && is_digit(s[q])) {
                frac = frac * 10 + (s[q++] - '0');
                nd++;
            }
            if (nd < 1 || nd > 6) return 0;
            for (; nd < 6; nd++) frac *= 10;
        }
        if (q >= left || s[q] != ' ') return 0;
        r->time_us = sec * 1000000 + frac;
        r->naive = 0;
        p += q;
    } else if (left >= 20 && is_digit(s[0])) { /* RFC 3339 */
        for (int k = 0; k < 19; k++) {
            unsigned char c = s[k];
            int want = (k == 4 || k == 7) ? '-' : (k == 13 || k == 16) ? ':' : (k == 10) ? 'T' : '0';
            if (want == '0') {
                if (!is_digit(c)) return 0;
            } else if (want == 'T') {
                if (c != 'T' && c != ' ') return 0;
            } else if (c != want) {
                return 0;
            }
        }
#define D2(k) ((s[k] - '0') * 10 + (s[(k) + 1] - '0'))
        int64_t Y = D2(0) * 100 + D2(2);
        int M = D2(5), D = D2(8), h = D2(11), mi = D2(14), se = D2(17);
        if (M < 1 || M > 12 || D < 1 || D > month_len(Y, M) || h > 23 || mi > 59 || se > 59) return 0;
        Py_ssize_t q = 19;
        int64_t frac = 0;
        if (q < left && s[q] == '.') {
            q++;
            int nd = 0;
            while (q < left && is_digit(s[q])) { /* (more than 6 digits: rejected below) */
                if (nd < 6) frac = frac * 10 + (s[q] - '0');
                q++;
                nd++;
            }
            if (nd < 1 || nd > 6) return 0;
            for (; nd < 6; nd++) frac *= 10;
        }
        int64_t off = 0;
        r->naive = 1;
        if (q < left && s[q] == 'Z') {
            q++;
            r->naive = 0;
        } else if (q < left && (s[q] == '+' || s[q] == '-')) {
            if (q + 6 > left || !is_digit(s[q + 1]) || !is_digit(s[q + 2]) || s[q + 3] != ':' ||
                !is_digit(s[q + 4]) || !is_digit(s[q + 5]))
                return 0;
            int oh = D2(q + 1), om = D2(q + 4);
            if (oh > 23 || om > 59) return 0;
            off = (oh * 3600 + om * 60) * (s[q] == '-' ? -1 : 1);
            q += 6;
            r->naive = 0;
        }
#undef D2
        if (q >= left || s[q] != ' ') return 0;
        r->time_us = ((days_of(pp, Y, M, D) * 86400 + h * 3600 + mi * 60 + se) - off) * 1000000 + frac;
        p += q;
    } else {
        return 0;
    }
    while (p < at && t[p] == ' ') p++;
    return head_rest(t, p, at, r, 1);
}

/* the header after the stamp (from p): host (if `stamped`), kernel tag, uptime, prefix */
static int head_rest(const unsigned char *t, Py_ssize_t p, Py_ssize_t at, row_t *r, int stamped) {
    /* host: the first token, unless it starts with "[" or ends with ":" */
    if (stamped) r->host.l = -1;
    if (stamped && p < at && t[p] != '[') {
        Py_ssize_t q = p;
        q = to_space(t, q, at);
        if (q < at && t[q - 1] != ':') {
            r->host.s = (int32_t)p;
            r->host.l = (int32_t)(q - p);
            p = q;
            while (p < at && t[p] == ' ') p++;
        }
    }
    /* kernel(?:\[\d+\])?:\s* */
    if (at - p >= 7 && memcmp(t + p, "kernel", 6) == 0) {
        Py_ssize_t q = p + 6;
        if (q < at && t[q] == '[') {
            Py_ssize_t d = q + 1;
            while (d < at && is_digit(t[d])) d++;
            if (d > q + 1 && d < at && t[d] == ']')
                q = d + 1;
        }
        if (q < at && t[q] == ':') {
            p = q + 1;
            while (p < at && t[p] == ' ') p++;
        }
    }
    /* \[\s*(\d+\.\d+)\]\s* */
    r->has_uptime = 0;
    if (p < at && t[p] == '[') {
        Py_ssize_t q = p + 1;
        while (q < at && t[q] == ' ') q++;
        Py_ssize_t ds = q;
        while (q < at && is_digit(t[q])) q++;
        if (q > ds && q < at && t[q] == '.') {
            Py_ssize_t dot = q++;
            while (q < at && is_digit(t[q])) q++;
            if (q > dot + 1 && q < at && t[q] == ']') {
                if (q - ds <= 16) { /* <= 15 digits: both exact doubles, one correctly rounded
                                     * division -- the nearest double, as strtod gives it */
                    static const double P10[16] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
                                                   1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
                    int64_t mant = 0;
                    for (Py_ssize_t j = ds; j < q; j++)
                        if (j != dot) mant = mant * 10 + (t[j] - '0');
                    r->uptime = (double)mant / P10[q - dot - 1];
                } else {
                    char buf[64];
                    if (q - ds >= (Py_ssize_t)sizeof buf) return 0;
                    memcpy(buf, t + ds, (size_t)(q - ds));
                    buf[q - ds] = 0;
                    r->uptime = strtod(buf, NULL);
                }
                r->has_uptime = 1;
                p = q + 1;
                while (p < at && t[p] == ' ') p++;
            }
        }
    }
    Py_ssize_t e = at;
    while (e > p && t[e - 1] == ' ') e--;
    r->prefix.s = (int32_t)p;
    r->prefix.l = e > p ? (int32_t)(e - p) : -1;
    return 1;
}

/* A journal record (journalctl -o json) as the general path reads it: a flat object of string
 * values without escapes; MESSAGE is the line's text, __REALTIME_TIMESTAMP its time (decimal
 * microseconds), _HOSTNAME its host. Returns 1 with the message's span, else 0. */
static int parse_record(const unsigned char *t, Py_ssize_t L, span *msg, row_t *r) {
    Py_ssize_t i = 1;
    int got_msg = 0, got_ts = 0, got_host = 0;
    r->host.s = 0;
    r->host.l = -1;
    if (L < 2 || t[0] != '{' || t[L - 1] != '}') return 0;
    if (memchr(t, '\\', (size_t)L)) return 0;
    while (i < L - 1) {
        if (t[i] != '"') return 0;
        Py_ssize_t ks = ++i;
        const unsigned char *qq = memchr(t + i, '"', (size_t)(L - i));
        i = qq ? qq - t : L;
        Py_ssize_t ke = i++;
        if (i >= L || t[i] != ':') return 0;
        i++;
        if (i >= L || t[i] != '"') return 0;
        Py_ssize_t vs = ++i;
        qq = memchr(t + i, '"', (size_t)(L - i));
        i = qq ? qq - t : L;
        if (i >= L) return 0;
        Py_ssize_t ve = i++;
        Py_ssize_t kl = ke - ks;
        if (kl == 7 && memcmp(t + ks, "MESSAGE", 7) == 0) {
            if (got_msg++) return 0;
            msg->s = (int32_t)vs;
            msg->l = (int32_t)(ve - vs);
        } else if (kl == 20 && memcmp(t + ks, "__REALTIME_TIMESTAMP", 20) == 0) {
            int64_t v = 0; /* decimal, no sign, no leading zero, < 10**18 */
            if (got_ts++ || ve - vs < 1 || ve - vs > 18 || (ve - vs > 1 && t[vs] == '0')) return 0;
            for (Py_ssize_t j = vs; j < ve; j++) {
                if (!is_digit(t[j])) return 0;
                v = v * 10 + (t[j] - '0');
            }
            r->time_us = v;
        } else if (kl == 9 && memcmp(t + ks, "_HOSTNAME", 9) == 0) {
            if (got_host++) return 0;
            r->host.s = (int32_t)vs;
            r->host.l = (int32_t)(ve - vs);
        }
        if (i < L - 1) {
            if (t[i] != ',') return 0;
            i++;
        }
    }
    if (i != L - 1 || !got_msg || !got_ts) return 0;
    r->naive = 0;
    return 1;
}

/* the head of a journal record's MESSAGE: no stamp may be read in it (those lines take the
 * general path), then the kernel tag, uptime and prefix */
static int record_head(const unsigned char *t, Py_ssize_t at, row_t *r) {
    Py_ssize_t p = 0;
    if (at > 0 && t[0] == '<') {
        Py_ssize_t q = 1;
        while (q < at && q < 4 && is_digit(t[q])) q++;
        if (q > 1 && q < at && t[q] == '>') p = q + 1;
    }
    /* where a stamp could start: after the <PRI>, or after a grep artefact "name:" */
    Py_ssize_t c[2] = {p, -1};
    {
        Py_ssize_t q = p;
        while (q < at && !is_ws(t[q]) && t[q] != ':' && t[q] != '[' && t[q] != '<') q++;
        if (q < at && t[q] == ':') c[1] = q + 1;
    }
    for (int k = 0; k < 2; k++) {
        Py_ssize_t x = c[k];
        if (x < 0 || x >= at) continue;
        if (is_digit(t[x])) return 0;
        if (t[x] >= 'A' && t[x] <= 'Z' && x + 2 < at && t[x + 1] >= 'a' && t[x + 1] <= 'z' &&
            t[x + 2] >= 'a' && t[x + 2] <= 'z')
            return 0;
    }
    return head_rest(t, p, at, r, 0);
}

/* whether m[0:41] is 14 bytes in hex separated by ':' */
static inline int mac14_of(const unsigned char *m) {
#if defined(__SSE2__)
    /* (three loads: bytes 0-15, 16-31, 25-40; in each, the bits of the ':' expected) */
    static const int AT[3] = {0, 16, 25};
    static const unsigned COLON[3] = {0x4924, 0x2492, 0x2492};
    for (int q = 0; q < 3; q++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(m + AT[q]));
        __m128i lv = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* ('A'-'F' to 'a'-'f', no other byte) */
        __m128i dig = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
        __m128i af = _mm_and_si128(_mm_cmpgt_epi8(lv, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(lv, _mm_set1_epi8('f' + 1)));
        unsigned hex = (unsigned)_mm_movemask_epi8(_mm_or_si128(dig, af));
        unsigned colon = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
        if (colon != COLON[q] || hex != (0xFFFFu ^ COLON[q])) return 0;
    }
    return 1;
#else
    for (int k = 0; k < 14; k++) {
        if (!is_hex(m[3 * k]) || !is_hex(m[3 * k + 1])) return 0;
        if (k < 13 && m[3 * k + 2] != ':') return 0;
    }
    return 1;
#endif
}

/* numbers: present means valid and in range, else the general path decides (0: not a number) */
static const uint8_t HEXA[NK] = {[K_TOS] = 1, [K_PREC] = 1, [K_RES] = 1, [K_MARK] = 1};
static const int64_t MAXV[NK] = {
    [K_LEN] = 65535 + 40, [K_TOS] = 255, [K_PREC] = 255, [K_TTL] = 255, [K_ID] = 65535,
    [K_TC] = 255, [K_HOP] = 255, [K_FLOW] = (1 << 20) - 1, [K_SPT] = 65535, [K_DPT] = 65535,
    [K_L4LEN] = 65535, [K_WINDOW] = 65535, [K_RES] = 255, [K_URGP] = 65535,
    [K_SEQ] = 4294967295LL, [K_ACK] = 4294967295LL, [K_TYPE] = 255, [K_CODE] = 255,
    [K_ICMPID] = 65535, [K_UID] = 4294967295LL, [K_GID] = 4294967295LL, [K_MARK] = 4294967295LL,
    [K_MTU] = 4294967295LL, [K_ILEN] = 65535 + 40, [K_ITTL] = 255, [K_IHOP] = 255, [K_IID] = 65535,
    [K_ISPT] = 65535, [K_IDPT] = 65535, [K_ITYPE] = 255, [K_ICODE] = 255};

/* key kk's value t[s:s+l] read (if it is a number): 0 if it is not valid or out of range (an
 * ICMP echo's SEQ= is checked for 16 bits later) */
static inline int read_value(const unsigned char *t, int kk, int32_t s, int32_t l, row_t *r) {
    if (!MAXV[kk]) return 1;
    int64_t v;
    if (!int_of(t + s, l, HEXA[kk], &v) || v > MAXV[kk]) return 0;
    r->val[kk] = v;
    return 1;
}

/* the netfilter body from `at` to `L`; returns 1 if claimed */
static int parse_body(const unsigned char *t, Py_ssize_t at, Py_ssize_t L, row_t *r) {
    Py_ssize_t i = at;
    int seg = 0, first = 1, nflags = 0, pend_opt = 0, opt_seen = 0, n_open = 0, n_close = 0;
    Py_ssize_t fl_st = -1, fl_en = -1, last_st = -1, last_en = -1;
    memset(r->has, 0, sizeof r->has);
    r->df = r->mf = r->ce = 0;
    r->tcpopt.l = -1;
    while (i < L) {
        while (i < L && t[i] == ' ') i++;
        if (i >= L) break;
        Py_ssize_t st = i;
        i = to_space(t, i, L);
        Py_ssize_t en = i, tl = en - st;
        last_st = st;
        last_en = en;
        if (pend_opt) { /* "(HEX)" after OPT */
            if (tl < 3 || t[st] != '(' || t[en - 1] != ')') return 0;
            for (Py_ssize_t j = st + 1; j < en - 1; j++)
                if (!is_hex(t[j])) return 0;
            r->tcpopt.s = (int32_t)(st + 1);
            r->tcpopt.l = (int32_t)(tl - 2);
            pend_opt = 0;
            continue;
        }
        int opened = t[st] == '[', closed = t[en - 1] == ']';
        if (opened || closed || seg == 2 || seg == 3) {
            /* the embedded header of an ICMP error: "[SRC=.. PROTO=.. ]", once, after PROTO= */
            if (opened) {
                if (seg != 1 || n_open) return 0;
                n_open = 1;
                seg = 2;
            }
            if (seg < 2 || seg == 4) return 0;
            for (Py_ssize_t j = st + 1; j < en - 1; j++)
                if (t[j] == '[' || t[j] == ']') return 0;
            if (tl == 1 && opened) return 0;
            Py_ssize_t kst = st + opened, ktl = en - kst;
            uint64_t code = 0;
            Py_ssize_t keq = token_eq(t, kst, en, L, &code);
            if (keq >= 0) {
                Py_ssize_t klen = keq + 1;
                int kk = -1;
                if (seg == 2 && klen == 6 && memcmp(t + kst, "PROTO=", 6) == 0) {
                    seg = 3;
                    kk = K_IPROTO;
                } else {
                    kk = key_find(seg == 2 ? KS_INNER : KS_INNER_L4, t + kst, klen, code);
                }
                if (kk >= 0) { /* (other keys of the embedded header are not read) */
                    if (r->has[kk]) return 0;
                    Py_ssize_t vl = en - (kst + klen);
                    if (closed && vl > 0) vl--;
                    r->has[kk] = 1;
                    r->kv[kk].s = (int32_t)(kst + klen);
                    r->kv[kk].l = (int32_t)vl;
                    if (!read_value(t, kk, r->kv[kk].s, r->kv[kk].l, r)) return 0;
                }
            } else if (ktl == 9 + closed && memcmp(t + kst, "HOPLIMIT", 8) == 0) {
                return 0; /* (read as HOPLIMIT= by the general path's 8-byte key codes) */
            }
            if (closed) {
                n_close = 1;
                seg = 4;
            }
            continue;
        }
        if (first) { /* IN= */
            if (tl < 3 || memcmp(t + st, "IN=", 3) != 0) return 0;
            r->in.s = (int32_t)(st + 3);
            r->in.l = (int32_t)(tl - 3);
            first = 0;
            continue;
        }
        uint64_t code = 0;
        Py_ssize_t eq = token_eq(t, st, en, L, &code);
        if (eq < 0) { /* a bare word */
            for (Py_ssize_t j = 0; j < tl && j < 8; j++)
                if (t[st + j] == ':') return 0;
            if (seg == 4) return 0;
            if (seg == 0) {
                int *w = NULL;
                if (tl == 2 && t[st] == 'D' && t[st + 1] == 'F') w = &r->df;
                else if (tl == 2 && t[st] == 'M' && t[st + 1] == 'F') w = &r->mf;
                else if (tl == 2 && t[st] == 'C' && t[st + 1] == 'E') w = &r->ce;
                if (!w || *w) return 0;
                *w = 1;
            } else {
                if (tl == 3 && memcmp(t + st, "OPT", 3) == 0) {
                    if (opt_seen) return 0;
                    opt_seen = 1;
                    pend_opt = 1;
                    continue;
                }
                int f = -1;
                if (tl == 3)
                    for (int k = 0; k < 8; k++)
                        if (memcmp(t + st, FLAG_WORDS[k], 3) == 0) f = k;
                if (f < 0) return 0;
                if (fl_st < 0) fl_st = st;
                fl_en = en;
                nflags++;
            }
            continue;
        }
        Py_ssize_t klen = eq + 1;
        int kk;
        if (seg == 0 && klen == 6 && memcmp(t + st, "PROTO=", 6) == 0) {
            seg = 1;
            kk = K_PROTO;
        } else {
            kk = key_find(seg == 0 ? KS_IP : seg == 4 ? KS_TAIL : KS_L4, t + st, klen, code);
        }
        if (kk < 0 || r->has[kk]) return 0;
        r->has[kk] = 1;
        r->kv[kk].s = (int32_t)(st + klen);
        r->kv[kk].l = (int32_t)(tl - klen);
        if (!read_value(t, kk, r->kv[kk].s, r->kv[kk].l, r)) return 0;
    }
    if (pend_opt || last_st < 0 || n_open != n_close) return 0;
    /* the last token: "OPT", an unclosed "(", or "KEY=" / "KEY=0x" is a line cut short */
    {
        Py_ssize_t ll = last_en - last_st;
        const unsigned char *lt = t + last_st;
        if (ll == 3 && memcmp(lt, "OPT", 3) == 0) return 0;
        if (lt[0] == '(' && lt[ll - 1] != ')') return 0;
        for (Py_ssize_t j = 0; j < ll; j++)
            if (lt[j] == '=') {
                Py_ssize_t vl = ll - j - 1 - (lt[ll - 1] == ']');
                if (vl == 0 || (vl == 2 && lt[j + 1] == '0' && lt[j + 2] == 'x')) return 0;
                break;
            }
    }
    if (!r->has[K_SRC] || !r->has[K_DST] || !r->has[K_PROTO]) return 0;
    /* addresses */
    const unsigned char *sv = t + r->kv[K_SRC].s, *dv = t + r->kv[K_DST].s;
    int sl = r->kv[K_SRC].l, dl = r->kv[K_DST].l;
    r->src6len = r->dst6len = 0;
    if (ipv4_of(sv, sl, &r->src_int)) {
        if (!ipv4_of(dv, dl, &r->dst_int)) return 0;
        r->fam = 4;
    } else if (ipv6_canon(sv, sl, r->src6, &r->src6len)) {
        if (!ipv6_canon(dv, dl, r->dst6, &r->dst6len)) return 0;
        r->fam = 6;
    } else {
        return 0;
    }
    r->src = r->kv[K_SRC];
    r->dst = r->kv[K_DST];
    /* protocol */
    const unsigned char *pv = t + r->kv[K_PROTO].s;
    int pl = r->kv[K_PROTO].l;
    if (pl == 3 && memcmp(pv, "TCP", 3) == 0) r->proto = P_TCP;
    else if (pl == 3 && memcmp(pv, "UDP", 3) == 0) r->proto = P_UDP;
    else if (pl == 4 && memcmp(pv, "ICMP", 4) == 0) r->proto = P_ICMP;
    else if (pl == 6 && memcmp(pv, "ICMPv6", 6) == 0) r->proto = P_ICMP6;
    else if (pl >= 1 && pl <= 3 && is_digit(pv[0]) && (pl == 1 || pv[0] != '0') &&
             (pl < 2 || is_digit(pv[1])) && (pl < 3 || is_digit(pv[2])) &&
             (pl < 3 || (pv[0] - '0') * 100 + (pv[1] - '0') * 10 + (pv[2] - '0') <= 255))
        r->proto = P_NUM; /* (GRE 47, IGMP 2, SCTP 132, ...: 0-255, no sign nor leading zero) */
    else return 0;
    /* which keys each family / protocol may carry here */
    if (r->fam == 4) {
        if (r->has[K_TC] || r->has[K_HOP] || r->has[K_FLOW]) return 0;
        if (r->proto == P_ICMP6) return 0;
    } else {
        if (r->has[K_TOS] || r->has[K_PREC] || r->has[K_TTL] || r->has[K_ID] || r->df || r->mf || r->ce)
            return 0;
        if (r->proto == P_ICMP) return 0;
    }
    int tcp = r->proto == P_TCP, udp = r->proto == P_UDP, num = r->proto == P_NUM;
    int icmp = !tcp && !udp && !num;
    /* a protocol by number: its header is not dumped (no ports, types, flags nor options) */
    if (num && (r->has[K_SPT] || r->has[K_DPT] || r->has[K_L4LEN] || r->has[K_TYPE] || r->has[K_CODE] ||
                r->has[K_ICMPID] || r->has[K_SEQ]))
        return 0;
    if (tcp) {
        if (r->has[K_L4LEN] || r->has[K_TYPE] || r->has[K_CODE] || r->has[K_ICMPID]) return 0;
        if (!r->has[K_SPT] || !r->has[K_DPT] || !r->has[K_WINDOW] || !r->has[K_RES] || !r->has[K_URGP])
            return 0;
    } else {
        if (nflags || opt_seen || r->has[K_WINDOW] || r->has[K_RES] || r->has[K_URGP] || r->has[K_ACK])
            return 0;
    }
    if (udp) {
        if (r->has[K_TYPE] || r->has[K_CODE] || r->has[K_ICMPID] || r->has[K_SEQ]) return 0;
        if (!r->has[K_SPT] || !r->has[K_DPT] || !r->has[K_L4LEN]) return 0;
    }
    if (icmp && (r->has[K_SPT] || r->has[K_DPT] || r->has[K_L4LEN])) return 0;
    if (r->has[K_UID] != r->has[K_GID]) return 0;
    /* (numbers: read and range-checked as their tokens came; an ICMP echo's SEQ= is 16 bits) */
    if (r->has[K_SEQ] && icmp && r->val[K_SEQ] > 65535) return 0;
    r->brk = n_open;
    if (n_open && !icmp) return 0;
    if (r->has[K_MTU] && !icmp) return 0;
    if (r->has[K_ITTL] && r->has[K_IHOP]) return 0;
    if (r->fam == 4 && r->has[K_LEN] && r->val[K_LEN] > 65535) return 0;
    /* the fixed tail of each protocol */
    if (icmp) {
        if (!r->has[K_TYPE] || !r->has[K_CODE]) return 0;
        int64_t ty = r->val[K_TYPE];
        int echo = r->proto == P_ICMP ? (ty == 0 || ty == 8) : (ty == 128 || ty == 129);
        if (echo) {
            if (!r->has[K_ICMPID] || !r->has[K_SEQ]) return 0;
        } else if (r->proto == P_ICMP) {
            if (ty == 12) return 0;
            if ((ty == 3 || ty == 4 || ty == 11) && !n_open) return 0;
            if (ty == 3 && r->val[K_CODE] == 4 && !r->has[K_MTU]) return 0;
        } else {
            if (ty == 4) return 0;
            if (ty == 2 && !r->has[K_MTU]) return 0;
        }
    }
    /* the embedded header's addresses and protocol */
    r->isrc6len = r->idst6len = -1;
    if (r->has[K_ISRC]) {
        uint32_t v;
        const unsigned char *a = t + r->kv[K_ISRC].s;
        if (ipv4_of(a, r->kv[K_ISRC].l, &v)) r->isrc6len = 0;
        else if (!ipv6_canon(a, r->kv[K_ISRC].l, r->isrc6, &r->isrc6len)) return 0;
    }
    if (r->has[K_IDST]) {
        uint32_t v;
        const unsigned char *a = t + r->kv[K_IDST].s;
        if (ipv4_of(a, r->kv[K_IDST].l, &v)) r->idst6len = 0;
        else if (!ipv6_canon(a, r->kv[K_IDST].l, r->idst6, &r->idst6len)) return 0;
    }
    if (r->has[K_IPROTO]) {
        if (r->kv[K_IPROTO].l > 16) return 0;
        for (int j = 0; j < r->kv[K_IPROTO].l; j++)
            if (!is_word(t[r->kv[K_IPROTO].s + j])) return 0;
    }
    r->flags.l = -1;
    if (tcp) {
        if (fl_st >= 0) {
            r->flags.s = (int32_t)fl_st;
            r->flags.l = (int32_t)(fl_en - fl_st);
        } else {
            r->flags.s = 0;
            r->flags.l = 0;
        }
    }
    /* interfaces and MAC */
    r->out = r->has[K_OUT] ? r->kv[K_OUT] : (span){0, -1};
    r->physin = r->has[K_PHYSIN] ? r->kv[K_PHYSIN] : (span){0, -1};
    r->physout = r->has[K_PHYSOUT] ? r->kv[K_PHYSOUT] : (span){0, -1};
    r->mac = r->has[K_MAC] ? r->kv[K_MAC] : (span){0, -1};
    r->mac14 = r->mac.l == 41 && mac14_of(t + r->mac.s);
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* writing a claimed row                                                                     */
/* ---------------------------------------------------------------------------------------- */

static inline void put_str(out_t *o, int c, const unsigned char *t, span sp) {
    Py_ssize_t m = o->m;
    sbuf *b = &o->sdata[c];
    if (sp.l > 0 && sb_reserve(b, (size_t)sp.l + SLACK)) {
        const unsigned char *src = t + sp.s;
        if (o->lim - src >= sp.l + 16) /* (in 16-byte pieces where that reads no byte past the text) */
            copy16(b->p + b->len, (const char *)src, (size_t)sp.l);
        else
            memcpy(b->p + b->len, src, (size_t)sp.l);
        b->len += (size_t)sp.l;
    }
    if (sp.l >= 0) bit_set(o->svalid[c], m);
    o->soff[c][m + 1] = (int32_t)b->len;
}

static void put_text(out_t *o, int c, const char *s, size_t n) {
    sb_put(&o->sdata[c], s, n);
    bit_set(o->svalid[c], o->m);
    o->soff[c][o->m + 1] = (int32_t)o->sdata[c].len;
}

/* a valid value of n bytes (n > 0), for the caller to write where this points (NULL: out of
 * memory, the buffer's `fail` set) */
static inline char *put_room(out_t *o, int c, size_t n) {
    sbuf *b = &o->sdata[c];
    char *p = sb_reserve(b, n + SLACK) ? b->p + b->len : NULL;
    if (p) b->len += n;
    bit_set(o->svalid[c], o->m);
    o->soff[c][o->m + 1] = (int32_t)b->len;
    return p;
}

static void put_null_str(out_t *o, int c) { o->soff[c][o->m + 1] = (int32_t)o->sdata[c].len; }

static void put_num(out_t *o, int c, int64_t v) {
    Py_ssize_t m = o->m;
    uint8_t *d = o->ndata[c];
    switch (N_SIZE[c]) {
        case 1: d[m] = (uint8_t)v; break;
        case 2: ((uint16_t *)d)[m] = (uint16_t)v; break;
        case 4: ((uint32_t *)d)[m] = (uint32_t)v; break;
        default: ((int64_t *)d)[m] = v; break;
    }
    bit_set(o->nvalid[c], m);
}

static void put_key(out_t *o, int c, const row_t *r, int k) {
    if (r->has[k]) put_num(o, c, r->val[k]);
}

static void write_row(out_t *o, const unsigned char *t, const row_t *r) {
    Py_ssize_t m = o->m;
    put_str(o, S_HOST, t, r->host);
    if (r->fam == 4) {
        put_str(o, S_SRC, t, r->src);
        put_str(o, S_DST, t, r->dst);
        put_num(o, N_SRCINT, r->src_int);
        put_num(o, N_DSTINT, r->dst_int);
    } else {
        put_text(o, S_SRC, r->src6, (size_t)r->src6len);
        put_text(o, S_DST, r->dst6, (size_t)r->dst6len);
    }
    if (r->proto == P_NUM) put_str(o, S_PROTO, t, r->kv[K_PROTO]);
    else put_text(o, S_PROTO, PROTO_TEXT[r->proto], (size_t)PROTO_LEN[r->proto]);
    put_str(o, S_FLAGS, t, r->flags);
    put_str(o, S_TCPOPT, t, r->tcpopt);
    put_str(o, S_PREFIX, t, r->prefix);
    span e = {0, -1};
    put_str(o, S_IN, t, r->in.l > 0 ? r->in : e);
    put_str(o, S_OUT, t, r->out.l > 0 ? r->out : e);
    put_str(o, S_PHYSIN, t, r->physin.l > 0 ? r->physin : e);
    put_str(o, S_PHYSOUT, t, r->physout.l > 0 ? r->physout : e);
    if (r->mac14) {
        const unsigned char *mm = t + r->mac.s;
        put_null_str(o, S_MAC);
        /* (lower case, written in place: a copy from a buffer just written byte by byte waits on
         * those stores) */
        char *md = put_room(o, S_MACDST, 17), *ms = put_room(o, S_MACSRC, 17);
        for (int k = 0; k < 17 && md && ms; k++) {
            unsigned char c = mm[k], d = mm[18 + k];
            md[k] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
            ms[k] = (char)((d >= 'A' && d <= 'Z') ? d + 32 : d);
        }
        put_num(o, N_ETHERTYPE, (hexval(mm[36]) << 12) | (hexval(mm[37]) << 8) | (hexval(mm[39]) << 4) |
                                    hexval(mm[40]));
    } else {
        put_str(o, S_MAC, t, r->mac.l > 0 ? r->mac : e);
        put_null_str(o, S_MACDST);
        put_null_str(o, S_MACSRC);
    }
    put_num(o, N_TIME, r->time_us);
    o->naive[m] = (uint8_t)r->naive;
    if (r->has_uptime) {
        ((double *)o->ndata[N_UPTIME])[m] = r->uptime;
        bit_set(o->nvalid[N_UPTIME], m);
    }
    put_num(o, N_FAMILY, r->fam);
    put_key(o, N_SPT, r, K_SPT);
    put_key(o, N_DPT, r, K_DPT);
    put_key(o, N_ICMPTYPE, r, K_TYPE);
    put_key(o, N_ICMPCODE, r, K_CODE);
    int icmp = r->proto == P_ICMP || r->proto == P_ICMP6;
    if (icmp) {
        put_key(o, N_ICMPID, r, K_ICMPID);
        put_key(o, N_ICMPSEQ, r, K_SEQ);
    } else if (r->proto == P_TCP) {
        put_key(o, N_TCPSEQ, r, K_SEQ);
        put_key(o, N_TCPACK, r, K_ACK);
    }
    put_key(o, N_LEN, r, K_LEN);
    put_key(o, N_L4LEN, r, K_L4LEN);
    if (r->fam == 4) {
        put_key(o, N_TTL, r, K_TTL);
        put_key(o, N_TOS, r, K_TOS);
        put_key(o, N_IPID, r, K_ID);
    } else {
        put_key(o, N_TTL, r, K_HOP);
        put_key(o, N_TOS, r, K_TC);
    }
    put_key(o, N_PREC, r, K_PREC);
    put_key(o, N_FLOWLBL, r, K_FLOW);
    put_key(o, N_WINDOW, r, K_WINDOW);
    put_key(o, N_RES, r, K_RES);
    put_key(o, N_URGP, r, K_URGP);
    put_key(o, N_MARK, r, K_MARK);
    put_key(o, N_UID, r, K_UID);
    put_key(o, N_GID, r, K_GID);
    put_key(o, N_MTU, r, K_MTU);
    put_key(o, N_ISPT, r, K_ISPT);
    put_key(o, N_IDPT, r, K_IDPT);
    put_key(o, N_ILEN, r, K_ILEN);
    put_key(o, N_ITTL, r, r->has[K_ITTL] ? K_ITTL : K_IHOP);
    put_key(o, N_IIPID, r, K_IID);
    put_key(o, N_ITYPE, r, K_ITYPE);
    put_key(o, N_ICODE, r, K_ICODE);
    if (r->isrc6len == 0) put_str(o, S_ISRC, t, r->kv[K_ISRC]);
    else if (r->isrc6len > 0) put_text(o, S_ISRC, r->isrc6, (size_t)r->isrc6len);
    else put_null_str(o, S_ISRC);
    if (r->idst6len == 0) put_str(o, S_IDST, t, r->kv[K_IDST]);
    else if (r->idst6len > 0) put_text(o, S_IDST, r->idst6, (size_t)r->idst6len);
    else put_null_str(o, S_IDST);
    if (r->has[K_IPROTO]) {
        char up[20];
        int ul = r->kv[K_IPROTO].l;
        for (int j = 0; j < ul; j++) {
            unsigned char c = t[r->kv[K_IPROTO].s + j];
            up[j] = (char)((c >= 'a' && c <= 'z') ? c - 32 : c);
        }
        if (ul == 6 && memcmp(up, "ICMPV6", 6) == 0) up[4] = 'v';
        put_text(o, S_IPROTO, up, (size_t)ul);
    } else {
        put_null_str(o, S_IPROTO);
    }
    if (r->df) bit_set(o->bdata[B_DF], m);
    if (r->mf) bit_set(o->bdata[B_MF], m);
    if (r->ce) bit_set(o->bdata[B_CE], m);
    o->m = m + 1;
}

static void put_reject(rej_t *q, Py_ssize_t r, const unsigned char *t, Py_ssize_t raw, const row_t *row) {
    Py_ssize_t k = q->m;
    q->idx[k] = (uint32_t)r;
    q->time[k] = row->time_us;
    bit_set(q->tvalid, k);
    q->naive[k] = (uint8_t)row->naive;
    if (row->host.l >= 0) {
        sb_put(&q->host, (const char *)t + row->host.s, (size_t)row->host.l);
        bit_set(q->hvalid, k);
    } else if (q->fill) {
        sb_put(&q->host, q->fill, (size_t)q->fill_len);
        bit_set(q->hvalid, k);
    }
    q->hoff[k + 1] = (int32_t)q->host.len;
    sb_put(&q->text, (const char *)t, (size_t)raw);
    q->toff[k + 1] = (int32_t)q->text.len;
    q->m = k + 1;
}

/* ---------------------------------------------------------------------------------------- */
/* the block                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static void out_free(out_t *o) {
    for (int c = 0; c < NS; c++) {
        free(o->soff[c]);
        free(o->sdata[c].p);
        free(o->svalid[c]);
    }
    for (int c = 0; c < NN; c++) {
        free(o->ndata[c]);
        free(o->nvalid[c]);
    }
    for (int c = 0; c < NB; c++) free(o->bdata[c]);
    free(o->naive);
    free(o->row);
}

/* Columns for n rows. Not zeroed (every row writes them): the string offsets (but the first),
 * `naive`, `row`, and the numbers unless `zero_nums` (a null number is 0) -- out_gather writes
 * them all. */
static int out_alloc(out_t *o, Py_ssize_t n, int zero_nums) {
    memset(o, 0, sizeof *o);
    o->n = n;
    size_t bm = (size_t)(n + 8) / 8;
    int ok = 1;
    for (int c = 0; c < NS; c++) {
        o->soff[c] = malloc(((size_t)n + 1) * 4);
        o->svalid[c] = calloc(bm, 1);
        ok &= o->soff[c] && o->svalid[c];
        if (o->soff[c]) o->soff[c][0] = 0;
    }
    for (int c = 0; c < NN; c++) {
        size_t sz = ((size_t)n + 1) * (size_t)N_SIZE[c];
        o->ndata[c] = zero_nums ? calloc(sz, 1) : malloc(sz);
        o->nvalid[c] = calloc(bm, 1);
        ok &= o->ndata[c] && o->nvalid[c];
    }
    for (int c = 0; c < NB; c++) {
        o->bdata[c] = calloc(bm, 1);
        ok &= o->bdata[c] != NULL;
    }
    o->naive = malloc((size_t)n + 1);
    o->row = malloc(((size_t)n + 1) * 4);
    return ok && o->naive && o->row;
}

/* The line-order table of a block that is put into store order is freed when parse returns
 * (its rows were copied): it is kept for the next block instead -- its pages already mapped,
 * its string buffers already grown -- up to two of them (two threads parsing at once), taken
 * and given back by atomic exchange. Not over O_CACHE_ROWS rows; reused for a block of n rows
 * when made for n to 2n + 1024 (a table handed over in line order is then not much larger
 * than needed). */
#define O_CACHE_SLOTS 2
#define O_CACHE_ROWS (1 << 17)
#if defined(__GNUC__)
#define HAVE_O_CACHE 1
static out_t *o_cache[O_CACHE_SLOTS];
#endif

static void o_cache_give(out_t *c) {
#ifdef HAVE_O_CACHE
    for (int s = 0; s < O_CACHE_SLOTS && c; s++) c = __atomic_exchange_n(&o_cache[s], c, __ATOMIC_ACQ_REL);
#endif
    if (c) { /* (the one pushed out, or no cache) */
        out_free(c);
        free(c);
    }
}

/* o := a kept table cleared for n rows as out_alloc(o, n, 1) leaves one; 0: none fits */
static int out_reuse(out_t *o, Py_ssize_t n) {
    out_t *c = NULL;
#ifdef HAVE_O_CACHE
    for (int s = 0; s < O_CACHE_SLOTS && !c; s++) c = __atomic_exchange_n(&o_cache[s], NULL, __ATOMIC_ACQ_REL);
#endif
    if (!c) return 0;
    if (c->n < n || c->n > 2 * n + 1024) {
        o_cache_give(c); /* (for another size of block) */
        return 0;
    }
    *o = *c;
    free(c);
    size_t bm = (size_t)(n + 8) / 8;
    for (int k = 0; k < NS; k++) {
        memset(o->svalid[k], 0, bm);
        o->sdata[k].len = 0;
        o->soff[k][0] = 0;
    }
    for (int k = 0; k < NN; k++) {
        memset(o->ndata[k], 0, ((size_t)n + 1) * (size_t)N_SIZE[k]);
        memset(o->nvalid[k], 0, bm);
    }
    for (int k = 0; k < NB; k++) memset(o->bdata[k], 0, bm);
    o->m = 0;
    o->lim = NULL;
    return 1;
}

/* at the end of parse: o kept for the next block when whole (nothing of it handed over) */
static void out_done(out_t *o) {
    int whole = o->naive && o->row && o->n <= O_CACHE_ROWS;
    for (int k = 0; k < NS && whole; k++) whole = o->soff[k] && o->svalid[k] && !o->sdata[k].fail;
    for (int k = 0; k < NN && whole; k++) whole = o->ndata[k] && o->nvalid[k];
    for (int k = 0; k < NB && whole; k++) whole = o->bdata[k] != NULL;
    out_t *c = whole ? malloc(sizeof *c) : NULL;
    if (c) {
        *c = *o;
        memset(o, 0, sizeof *o);
        o_cache_give(c);
    }
    out_free(o);
}

/* ---------------------------------------------------------------------------------------- */
/* the store's order: (month of time, host in byte order, time, line), computed here          */
/* ---------------------------------------------------------------------------------------- */

/* months since 1970-01 of a UTC time in microseconds (H. Hinnant's civil_from_days) */
static int32_t month_of(int64_t us) {
    int64_t z = us >= 0 ? us / 86400000000LL : -((-us + 86400000000LL - 1) / 86400000000LL);
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    return (int32_t)((y - 1970) * 12 + (m - 1));
}

typedef struct {
    int32_t month, rank;
    int64_t time;
    int32_t row;
    int32_t code;
} skey;

static int skey_cmp(const void *pa, const void *pb) {
    const skey *a = pa, *b = pb;
    if (a->month != b->month) return a->month < b->month ? -1 : 1;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

typedef struct {
    const char *p;
    int32_t l;
} hname;

static int hname_cmp(const void *pa, const void *pb) { /* byte order, a prefix first */
    const hname *a = *(const hname *const *)pa, *b = *(const hname *const *)pb;
    int32_t l = a->l < b->l ? a->l : b->l;
    int c = l ? memcmp(a->p, b->p, (size_t)l) : 0;
    if (c) return c;
    return (a->l > b->l) - (a->l < b->l);
}

static inline int bit_get(const uint8_t *bm, Py_ssize_t i) { return (bm[i >> 3] >> (i & 7)) & 1; }

static int any_bit(const uint8_t *bm, size_t nbytes) {
    for (size_t i = 0; i < nbytes; i++)
        if (bm[i]) return 1;
    return 0;
}

/* keys[0:k] in order: a stable counting sort by (month, host rank) -- the rows come in line
 * order, so equal buckets keep it -- then each bucket by time where it is not in time order
 * already; a plain sort where the months are too many for buckets. 0: out of memory. */
static int sort_keys(skey *keys, Py_ssize_t k, int32_t nranks) {
    if (k < 2) return 1;
    int32_t lo = keys[0].month, hi = keys[0].month;
    for (Py_ssize_t j = 1; j < k; j++) {
        if (keys[j].month < lo) lo = keys[j].month;
        if (keys[j].month > hi) hi = keys[j].month;
    }
    int64_t nb = ((int64_t)hi - lo + 1) * ((int64_t)nranks + 1);
    if (nb > (int64_t)k * 4 + 4096) {
        qsort(keys, (size_t)k, sizeof(skey), skey_cmp);
        return 1;
    }
    Py_ssize_t *start = calloc((size_t)nb + 1, sizeof(Py_ssize_t));
    skey *tmp = malloc(sizeof(skey) * (size_t)k);
    if (!start || !tmp) {
        free(start);
        free(tmp);
        return 0;
    }
#define BUCKET(x) (((int64_t)(x).month - lo) * ((int64_t)nranks + 1) + (x).rank)
    for (Py_ssize_t j = 0; j < k; j++) start[BUCKET(keys[j]) + 1]++;
    for (int64_t b = 0; b < nb; b++) start[b + 1] += start[b];
    for (Py_ssize_t j = 0; j < k; j++) tmp[start[BUCKET(keys[j])]++] = keys[j];
#undef BUCKET
    memcpy(keys, tmp, sizeof(skey) * (size_t)k);
    free(tmp);
    free(start);
    Py_ssize_t a = 0;
    while (a < k) { /* each bucket: in time order already, or sorted */
        Py_ssize_t e = a + 1, unsorted = 0;
        while (e < k && keys[e].month == keys[a].month && keys[e].rank == keys[a].rank) {
            unsorted |= keys[e].time < keys[e - 1].time;
            e++;
        }
        if (unsorted) qsort(keys + a, (size_t)(e - a), sizeof(skey), skey_cmp);
        a = e;
    }
    return 1;
}

/* the hosts of rows `keep` as codes (-1: null), their names in `names` (pointing into the
 * host column or at `sensor` for a null host when one is given) */
typedef struct {
    hname *names;
    int32_t nnames, cap;
    int32_t *slot; /* open addressing: code + 1, 0 empty */
    uint32_t mask;
} htab_t;

static int htab_init(htab_t *h) {
    memset(h, 0, sizeof *h);
    h->cap = 64;
    h->names = malloc(sizeof(hname) * (size_t)h->cap);
    h->mask = 127;
    h->slot = calloc(h->mask + 1, sizeof(int32_t));
    return h->names && h->slot;
}

static void htab_free(htab_t *h) {
    free(h->names);
    free(h->slot);
}

/* whether a[0:l] == b[0:l] (short names: no call) */
static inline int same_bytes(const char *a, const char *b, int32_t l) {
    int32_t i = 0;
    for (; i + 8 <= l; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return 0;
    }
    for (; i < l; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static uint32_t hname_hash(const char *p, int32_t l) { /* (eight bytes at a time) */
    uint64_t x = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uint32_t)l, w;
    int32_t i = 0;
    for (; i + 8 <= l; i += 8) {
        memcpy(&w, p + i, 8);
        x = (x ^ w) * 0xFF51AFD7ED558CCDULL;
        x ^= x >> 32;
    }
    if (l - i >= 4) { /* (the last 4 to 7 bytes: two 4-byte loads that may overlap) */
        uint32_t a, b;
        memcpy(&a, p + i, 4);
        memcpy(&b, p + l - 4, 4);
        w = a | (uint64_t)b << 32;
    } else {
        for (w = 0; i < l; i++) w = w << 8 | (unsigned char)p[i];
    }
    x = (x ^ w) * 0xFF51AFD7ED558CCDULL;
    x ^= x >> 29;
    return (uint32_t)(x ^ (x >> 32));
}

static int32_t htab_code(htab_t *h, const char *p, int32_t l) {
    uint32_t i = hname_hash(p, l) & h->mask;
    while (h->slot[i]) {
        hname *e = &h->names[h->slot[i] - 1];
        if (e->l == l && same_bytes(e->p, p, l)) return h->slot[i] - 1;
        i = (i + 1) & h->mask;
    }
    if (h->nnames == h->cap) {
        hname *q = realloc(h->names, sizeof(hname) * (size_t)h->cap * 2);
        if (!q) return -2;
        h->names = q;
        h->cap *= 2;
    }
    int32_t code = h->nnames++;
    h->names[code].p = p;
    h->names[code].l = l;
    h->slot[i] = code + 1;
    if ((uint32_t)h->nnames * 2 > h->mask) { /* grow and rehash */
        uint32_t nm = h->mask * 2 + 1;
        int32_t *ns = calloc(nm + 1, sizeof(int32_t));
        if (!ns) return -2;
        for (int32_t k = 0; k < h->nnames; k++) {
            uint32_t j = hname_hash(h->names[k].p, h->names[k].l) & nm;
            while (ns[j]) j = (j + 1) & nm;
            ns[j] = k + 1;
        }
        free(h->slot);
        h->slot = ns;
        h->mask = nm;
    }
    return code;
}

/* The distinct names of `h`, in code order, as a new list of str (NULL with an exception set) */
static PyObject *names_list(const htab_t *h) {
    PyObject *names = PyList_New(h->nnames);
    if (!names) return NULL;
    for (int32_t k = 0; k < h->nnames; k++) {
        PyObject *u = PyUnicode_DecodeUTF8(h->names[k].p, h->names[k].l, "replace");
        if (!u) {
            Py_DECREF(names);
            return NULL;
        }
        PyList_SET_ITEM(names, k, u);
    }
    return names;
}

/* whether the bits 0..m-1 of bm are all set */
static int all_ones(const uint8_t *bm, Py_ssize_t m) {
    Py_ssize_t i = 0;
    for (; i + 8 <= m; i += 8)
        if (bm[i >> 3] != 0xFF) return 0;
    return i == m || (bm[i >> 3] & ((1u << (m - i)) - 1)) == (1u << (m - i)) - 1;
}

/* dst[j] := src[perm[j]] for the bits j < k (dst zeroed before); all set at once where every
 * bit of src's m is */
static void gather_bits(uint8_t *dst, const uint8_t *src, const int32_t *perm, Py_ssize_t k, Py_ssize_t m) {
    if (all_ones(src, m)) {
        memset(dst, 0xFF, (size_t)(k >> 3));
        if (k & 7) dst[k >> 3] = (uint8_t)((1u << (k & 7)) - 1);
        return;
    }
    Py_ssize_t j = 0;
    for (; j + 8 <= k; j += 8) {
        unsigned b = 0;
        for (int q = 0; q < 8; q++) b |= (unsigned)bit_get(src, perm[j + q]) << q;
        dst[j >> 3] = (uint8_t)b;
    }
    for (; j < k; j++) dst[j >> 3] |= (uint8_t)(bit_get(src, perm[j]) << (j & 7));
}

/* `g` := the rows `ord[0:k]` of `o`, in that order; a null host becomes `sensor` when given */
static int out_gather(const out_t *o, out_t *g, const skey *ord, Py_ssize_t k, const char *sensor,
                      Py_ssize_t sensor_len) {
    if (!out_alloc(g, k, 0)) return 0;
    int32_t *perm = malloc(sizeof(int32_t) * ((size_t)k + 1));
    if (!perm) return 0;
    for (Py_ssize_t j = 0; j < k; j++) perm[j] = ord[j].row;
    g->m = k;
    size_t obm = (size_t)(o->m + 7) / 8;
    for (int c = 0; c < NS; c++) {
        if (!(c == S_HOST && sensor) && !any_bit(o->svalid[c], obm)) { /* (all null) */
            memset(g->soff[c], 0, ((size_t)k + 1) * 4);
            continue;
        }
        const int32_t *so = o->soff[c];
        const char *sd = o->sdata[c].p;
        const uint8_t *sv = o->svalid[c];
        sbuf *d = &g->sdata[c];
        size_t need = o->sdata[c].len + (c == S_HOST && sensor ? (size_t)sensor_len * (size_t)k : 0);
        if (need && !sb_reserve(d, need + SLACK)) {
            free(perm);
            return 0;
        }
        int32_t *go = g->soff[c];
        uint8_t *gv = g->svalid[c];
        go[0] = 0;
        for (Py_ssize_t j = 0; j < k; j++) {
            int32_t i = perm[j];
            if (bit_get(sv, i)) {
                int32_t a = so[i], l = so[i + 1] - a;
                copy16(d->p + d->len, sd + a, (size_t)l); /* (both with SLACK bytes after) */
                d->len += (size_t)l;
                bit_set(gv, j);
            } else if (c == S_HOST && sensor) {
                memcpy(d->p + d->len, sensor, (size_t)sensor_len);
                d->len += (size_t)sensor_len;
                bit_set(gv, j);
            }
            go[j + 1] = (int32_t)d->len;
        }
    }
    for (int c = 0; c < NN; c++) {
        if (!any_bit(o->nvalid[c], obm)) {
            memset(g->ndata[c], 0, (size_t)k * (size_t)N_SIZE[c]);
            continue;
        }
        const uint8_t *od = o->ndata[c], *ov = o->nvalid[c];
        uint8_t *gd = g->ndata[c], *gv = g->nvalid[c];
        gather_bits(gv, ov, perm, k, o->m);
#define GATHER(T)                                                                \
    for (Py_ssize_t j = 0; j < k; j++) ((T *)gd)[j] = ((const T *)od)[perm[j]]; \
    break
        switch (N_SIZE[c]) {
            case 1: GATHER(uint8_t);
            case 2: GATHER(uint16_t);
            case 4: GATHER(uint32_t);
            default: GATHER(int64_t);
        }
#undef GATHER
    }
    for (int c = 0; c < NB; c++)
        if (any_bit(o->bdata[c], obm)) gather_bits(g->bdata[c], o->bdata[c], perm, k, o->m);
    for (Py_ssize_t j = 0; j < k; j++) {
        g->naive[j] = o->naive[perm[j]];
        g->row[j] = o->row[perm[j]];
    }
    free(perm);
    return 1;
}

/* A block's newlines, and an unterminated last line. */
static Py_ssize_t count_lines_of(const unsigned char *p, Py_ssize_t len) {
    Py_ssize_t n = 0;
    const unsigned char *e = p + len, *q = p;
    while (q < e) {
        const unsigned char *nl = memchr(q, '\n', (size_t)(e - q));
        if (!nl) {
            n++;
            break;
        }
        n++;
        q = nl + 1;
    }
    return n;
}

/* The end (its newline, or len) of each line of a block, as count_lines_of counts them, in a new
 * array (*n of them); NULL: out of memory. */
static int64_t *line_ends_of(const unsigned char *p, Py_ssize_t len, Py_ssize_t *n) {
    size_t cap = (size_t)len / 128 + 16, k = 0;
    int64_t *e = malloc(sizeof(int64_t) * cap);
    const unsigned char *q = p, *end = p + len;
    while (e && q < end) {
        const unsigned char *nl = memchr(q, '\n', (size_t)(end - q));
        if (k == cap) {
            int64_t *x = realloc(e, sizeof(int64_t) * cap * 2);
            if (!x) {
                free(e);
                return NULL;
            }
            e = x;
            cap *= 2;
        }
        if (!nl) {
            e[k++] = len;
            break;
        }
        e[k++] = nl - p;
        q = nl + 1;
    }
    *n = (Py_ssize_t)k;
    return e;
}

static PyObject *fp_count_lines(PyObject *self, PyObject *args) {
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    Py_ssize_t n;
    Py_BEGIN_ALLOW_THREADS
    n = count_lines_of((const unsigned char *)data.buf, data.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(n);
}

/* A buffer this module allocated, handed to Python without a copy (freed with the object). */
typedef struct {
    PyObject_HEAD
    void *p;
    Py_ssize_t n;
} owned_t;

static void owned_dealloc(owned_t *self) {
    free(self->p);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int owned_getbuffer(owned_t *self, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)self, self->p, self->n, 0, flags);
}

static PyBufferProcs owned_as_buffer = {(getbufferproc)owned_getbuffer, NULL};

static PyTypeObject owned_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "honeyscope.ingest._fastparse.Buffer",
    .tp_basicsize = sizeof(owned_t),
    .tp_dealloc = (destructor)owned_dealloc,
    .tp_as_buffer = &owned_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "memory of a parse's column, exposed as a buffer",
};

/* the first n bytes of *pp as a buffer object that takes the memory over (*pp becomes NULL) */
static PyObject *bytes_of_own(void *pp_, size_t n) {
    void **pp = (void **)pp_;
    owned_t *o = PyObject_New(owned_t, &owned_type);
    if (!o) return NULL;
    if (!*pp) *pp = calloc(1, 1);
    o->p = *pp;
    o->n = (Py_ssize_t)n;
    *pp = NULL;
    return (PyObject *)o;
}
#define bytes_of(p, n) bytes_of_own(&(p), (n))

/* year mode: the sensor (host, "" for none) and position of line r's RFC 3164 stamp, if any;
 * 0: out of memory */
static int year_key(htab_t *yt, const unsigned char *t, const row_t *row, Py_ssize_t r, int64_t *ypos,
                    int32_t *ycode) {
    if (row->ypos < 0) return 1;
    int32_t c = row->host.l >= 0 ? htab_code(yt, (const char *)t + row->host.s, row->host.l)
                                 : htab_code(yt, "", 0);
    if (c < 0) return 0;
    ypos[r] = row->ypos;
    ycode[r] = c;
    return 1;
}

static PyObject *fp_parse(PyObject *self, PyObject *args) {
    Py_buffer data, offs = {0};
    PyObject *offs_obj;
    Py_ssize_t n;
    int off64;
    long long ref_year, ref_key;
    int want_sort = 0;
    PyObject *sensor_obj = Py_None;
    long long t_lo = 0, t_hi = 0;
    int year_mode = 0;
    if (!PyArg_ParseTuple(args, "y*OnpLL|pOLLp", &data, &offs_obj, &n, &off64, &ref_year, &ref_key,
                          &want_sort, &sensor_obj, &t_lo, &t_hi, &year_mode))
        return NULL;
    int raw_mode = offs_obj == Py_None; /* no offsets: the lines of `data`, cut at its newlines */
    if (!raw_mode && PyObject_GetBuffer(offs_obj, &offs, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    const char *sensor = NULL;
    Py_ssize_t sensor_len = 0;
    if (sensor_obj != Py_None) {
        sensor = PyUnicode_AsUTF8AndSize(sensor_obj, &sensor_len);
        if (!sensor) {
            PyBuffer_Release(&data);
            if (!raw_mode) PyBuffer_Release(&offs);
            return NULL;
        }
    }
    PyObject *res = NULL;
    uint8_t *claimed = NULL, *body = NULL, *tail = NULL;
    int64_t *ypos = NULL; /* year mode, per line: a claimed line's ypos (-1: none) */
    int32_t *ycode = NULL; /* ... and its sensor as a code into yt's names ("" for no host) */
    int64_t *ends = NULL;  /* raw mode: where each line ends */
    htab_t yt;
    memset(&yt, 0, sizeof yt);
    if (year_mode) want_sort = 0; /* (the caller computes the times) */
    out_t o, g;
    rej_t rj;
    skey *keys = NULL;
    int32_t *pcode = NULL;
    htab_t ht, pt;
    memset(&pt, 0, sizeof pt);
    memset(&o, 0, sizeof o);
    memset(&g, 0, sizeof g);
    memset(&rj, 0, sizeof rj);
    memset(&ht, 0, sizeof ht);
    int alloc_ok = 0, sorted = 0, gathered = 0;
    Py_ssize_t njson = 0, undecided = 0;
    size_t osz = off64 ? 8 : 4;
    if (raw_mode) {
        Py_BEGIN_ALLOW_THREADS
        ends = line_ends_of((const unsigned char *)data.buf, data.len, &n);
        Py_END_ALLOW_THREADS
        if (!ends) {
            PyErr_NoMemory();
            goto done;
        }
    } else if (n < 0 || (size_t)offs.len < ((size_t)n + 1) * osz) {
        PyErr_SetString(PyExc_ValueError, "offsets buffer too small");
        goto done;
    }
    claimed = calloc((size_t)n + 1, 1);
    body = calloc((size_t)n + 1, 1);
    tail = calloc((size_t)n + 1, 1);
    alloc_ok = ((want_sort && out_reuse(&o, n)) || out_alloc(&o, n, 1)) && rej_alloc(&rj, n) && claimed && body &&
               tail;
    if (alloc_ok && year_mode) {
        ypos = malloc(sizeof(int64_t) * ((size_t)n + 1));
        ycode = malloc(sizeof(int32_t) * ((size_t)n + 1));
        alloc_ok = ypos && ycode && htab_init(&yt);
        for (Py_ssize_t r = 0; alloc_ok && r < n; r++) {
            ypos[r] = -1;
            ycode[r] = -1;
        }
    }
    if (!alloc_ok) {
        PyErr_NoMemory();
        goto done;
    }
    rj.fill = sensor;
    rj.fill_len = sensor_len;
    o.lim = (const unsigned char *)data.buf + data.len;
    params_t pp = {ref_year, ref_key, year_mode, INT64_MIN, 0};
    const unsigned char *base = (const unsigned char *)data.buf;
    const int64_t *o64 = raw_mode ? NULL : (const int64_t *)offs.buf;
    const int32_t *o32 = raw_mode ? NULL : (const int32_t *)offs.buf;
    int bad = 0, nomem = 0;
    Py_ssize_t kept = 0, nhosts = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n; r++) {
        int64_t a, b;
        if (raw_mode) {
            a = r ? ends[r - 1] + 1 : 0;
            b = ends[r];
        } else {
            a = off64 ? o64[r] : o32[r];
            b = off64 ? o64[r + 1] : o32[r + 1];
        }
        if (a < 0 || b < a || b > data.len) {
            bad = 1;
            break;
        }
        const unsigned char *t = base + a;
        Py_ssize_t raw = (Py_ssize_t)(b - a), L = raw;
        while (L > 0 && (t[L - 1] == '\r' || t[L - 1] == '\n' || t[L - 1] == 0)) L--;
        if (raw > MAX_LINE_BYTES) continue; /* no body, no vote */
        tail[r] = L > 0 && t[L - 1] == ' ';
        int ascii, printable;
        classify(t, L, &ascii, &printable); /* (the text: without its trailing CR, LF, NUL) */
        if (raw > 0 && t[0] == '{') { /* a journal record: the caller reads its MESSAGE */
            body[r] = 3;
            njson++;
            row_t row;
            span msg = {0, 0};
            if (!printable || !parse_record(t, L, &msg, &row)) continue;
            if (year_mode) { /* (its MESSAGE's stamp may count in the year's unwrapping) */
                body[r] = 3;
                continue;
            }
            const unsigned char *mt = t + msg.s;
            Py_ssize_t at = find_anchor(mt, msg.l);
            /* (the vote's inputs, from the MESSAGE: the general path reads the record's text so) */
            int loose = at < 0 && has_loose(mt, msg.l);
            body[r] = at >= 0 || loose;
            tail[r] = msg.l > 0 && mt[msg.l - 1] == ' ';
            if (at < 0) {
                if (!loose && raw <= MAX_REJECT_TEXT) { /* "not a netfilter line" */
                    put_reject(&rj, r, t, raw, &row);
                    claimed[r] = 2;
                }
                continue;
            }
            row.host.s -= msg.s; /* (spans relative to the message) */
            if (!record_head(mt, at, &row) || !parse_body(mt, at, msg.l, &row)) continue;
            claimed[r] = 1;
            o.row[o.m] = (uint32_t)r;
            write_row(&o, mt, &row);
            continue;
        }
        if (!ascii) {
            body[r] = 2;
            continue;
        }
        Py_ssize_t at = find_anchor(t, L);
        body[r] = at >= 0 || has_loose(t, L);
        if (at < 0 && !body[r] && printable && L == raw && raw <= MAX_REJECT_TEXT && raw > 0) {
            /* no body: "not a netfilter line" unless blank; host and time from the first 256 bytes */
            Py_ssize_t j = 0;
            while (j < raw && t[j] == ' ') j++;
            row_t row;
            if (j == raw || !parse_head(t, raw < 256 ? raw : 256, &pp, &row)) continue;
            put_reject(&rj, r, t, raw, &row);
            claimed[r] = 2;
            if (year_mode && !year_key(&yt, t, &row, r, ypos, ycode)) nomem = 1;
            continue;
        }
        if (at < 0 || !printable) continue;
        row_t row;
        if (!parse_head(t, at, &pp, &row)) continue;
        if (!parse_body(t, at, L, &row)) continue;
        claimed[r] = 1;
        o.row[o.m] = (uint32_t)r;
        write_row(&o, t, &row);
        if (year_mode && !year_key(&yt, t, &row, r, ypos, ycode)) nomem = 1;
    }
    for (Py_ssize_t r = 0; r < n && !bad; r++) undecided += body[r] >= 2;
    /* The store's order, where this pass alone decides every row: the block's trailing-space vote
     * needs no line of the caller's (no undecided body), times need no time zone (the caller
     * asks only when they are UTC). A claimed row the vote calls cut, or whose time is outside
     * [t_lo, t_hi), is given back (not claimed), as the caller would. */
    if (want_sort && !bad && !undecided && !o.sdata[S_HOST].fail) {
        Py_ssize_t nf = 0, sp = 0;
        for (Py_ssize_t r = 0; r < n; r++)
            if (body[r] == 1) {
                nf++;
                sp += tail[r];
            }
        int spaced = sp * 2 > nf;
        keys = malloc(sizeof(skey) * ((size_t)o.m + 1));
        if (!keys || !htab_init(&ht)) {
            nomem = 1;
        } else {
            const int64_t *tm = (const int64_t *)o.ndata[N_TIME];
            int64_t last_day = INT64_MIN;
            int32_t last_month = 0;
            const int32_t *ho = o.soff[S_HOST];
            for (Py_ssize_t i = 0; i < o.m; i++) {
                uint32_t r = o.row[i];
                int64_t t = tm[i];
                if ((spaced && !tail[r]) || t < t_lo || t >= t_hi) {
                    claimed[r] = 0;
                    continue;
                }
                int32_t code = -1;
                if (bit_get(o.svalid[S_HOST], i))
                    code = htab_code(&ht, o.sdata[S_HOST].p + ho[i], ho[i + 1] - ho[i]);
                else if (sensor)
                    code = htab_code(&ht, sensor, (int32_t)sensor_len);
                if (code == -2) {
                    nomem = 1;
                    break;
                }
                int64_t day = t >= 0 ? t / 86400000000LL : -((-t + 86400000000LL - 1) / 86400000000LL);
                if (day != last_day) { /* (rows come in runs of one day) */
                    last_day = day;
                    last_month = month_of(t);
                }
                keys[kept].month = last_month;
                keys[kept].time = t;
                keys[kept].row = (int32_t)i;
                keys[kept].code = code;
                kept++;
            }
            nhosts = ht.nnames;
            hname **byname = malloc(sizeof(hname *) * ((size_t)nhosts + 1));
            int32_t *rank = malloc(sizeof(int32_t) * ((size_t)nhosts + 1));
            if (nomem || !byname || !rank) {
                nomem = 1;
            } else {
                for (int32_t k = 0; k < nhosts; k++) byname[k] = &ht.names[k];
                qsort(byname, (size_t)nhosts, sizeof(hname *), hname_cmp);
                for (int32_t k = 0; k < nhosts; k++) rank[byname[k] - ht.names] = k;
                for (Py_ssize_t j = 0; j < kept; j++)
                    keys[j].rank = keys[j].code < 0 ? (int32_t)nhosts : rank[keys[j].code];
                if (!sort_keys(keys, kept, (int32_t)nhosts)) {
                    nomem = 1;
                } else {
                    /* rows already in the store's order, none dropped, no host to fill (one
                     * sensor's log, as a rule): the table as it is, else its rows in that order */
                    int same = kept == o.m;
                    for (Py_ssize_t j = 0; same && j < kept; j++) same = keys[j].row == j;
                    for (Py_ssize_t j = 0; same && sensor && j < kept; j++) same = bit_get(o.svalid[S_HOST], j);
                    if (same) {
                        sorted = 1;
                    } else if (!out_gather(&o, &g, keys, kept, sensor, sensor_len) || g.sdata[S_HOST].fail) {
                        nomem = 1;
                    } else {
                        sorted = gathered = 1;
                    }
                }
            }
            free(byname);
            free(rank);
        }
    }
    /* the rows' prefixes as codes into their distinct values (a null prefix: ""), for the
     * caller to read each distinct prefix's action once */
    out_t *wo = gathered ? &g : &o;
    if (!bad && !nomem) {
        pcode = malloc(sizeof(int32_t) * ((size_t)wo->m + 1));
        if (!pcode || !htab_init(&pt)) nomem = 1;
        const int32_t *po = wo->soff[S_PREFIX];
        for (Py_ssize_t i = 0; i < wo->m && !nomem; i++) {
            int32_t c = bit_get(wo->svalid[S_PREFIX], i)
                            ? htab_code(&pt, wo->sdata[S_PREFIX].p + po[i], po[i + 1] - po[i])
                            : htab_code(&pt, "", 0);
            if (c < 0) nomem = 1;
            pcode[i] = c;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "bad offsets");
        goto done;
    }
    if (nomem || rj.host.fail || rj.text.fail) {
        PyErr_NoMemory();
        goto done;
    }
    for (int c = 0; c < NS; c++)
        if (o.sdata[c].fail) {
            PyErr_NoMemory();
            goto done;
        }
    {
        out_t *w = gathered ? &g : &o;
        Py_ssize_t m = w->m;
        size_t bm = (size_t)(m + 7) / 8;
        res = PyDict_New();
        if (!res) goto done;
        PyObject *v;
#define SET(key, obj)                                  \
    do {                                               \
        v = (obj);                                     \
        if (!v || PyDict_SetItemString(res, key, v)) { \
            Py_XDECREF(v);                             \
            Py_CLEAR(res);                             \
            goto done;                                 \
        }                                              \
        Py_DECREF(v);                                  \
    } while (0)
        SET("n", PyLong_FromSsize_t(n));
        SET("m", PyLong_FromSsize_t(m));
        SET("json", PyLong_FromSsize_t(njson));
        SET("sorted", PyBool_FromLong(sorted));
        SET("claimed", bytes_of(claimed, (size_t)n));
        SET("has_body", bytes_of(body, (size_t)n));
        SET("tail_sp", bytes_of(tail, (size_t)n));
        SET("naive", bytes_of(w->naive, (size_t)m));
        SET("row", bytes_of(w->row, (size_t)m * 4));
        SET("prefix_code", bytes_of(pcode, (size_t)m * 4));
        SET("prefixes", names_list(&pt));
        for (int c = 0; c < NS; c++)
            SET(S_NAMES[c], Py_BuildValue("(NNN)", bytes_of(w->svalid[c], bm),
                                          bytes_of(w->soff[c], ((size_t)m + 1) * 4),
                                          bytes_of(w->sdata[c].p, w->sdata[c].len)));
        for (int c = 0; c < NN; c++)
            SET(N_NAMES[c], Py_BuildValue("(NN)", bytes_of(w->nvalid[c], bm),
                                          bytes_of(w->ndata[c], (size_t)m * (size_t)N_SIZE[c])));
        for (int c = 0; c < NB; c++) SET(B_NAMES[c], bytes_of(w->bdata[c], bm));
        if (sorted) {
            /* the runs of equal (month, host) in order: (month, host or None, rows) */
            PyObject *runs = PyList_New(0);
            if (!runs) {
                Py_CLEAR(res);
                goto done;
            }
            Py_ssize_t j = 0;
            while (j < kept) {
                Py_ssize_t e = j + 1;
                while (e < kept && keys[e].month == keys[j].month && keys[e].code == keys[j].code) e++;
                PyObject *name;
                if (keys[j].code < 0) {
                    name = Py_None;
                    Py_INCREF(name);
                } else {
                    name = PyUnicode_DecodeUTF8(ht.names[keys[j].code].p, ht.names[keys[j].code].l,
                                                "replace");
                }
                PyObject *item = name ? Py_BuildValue("(iNn)", (int)keys[j].month, name, e - j) : NULL;
                if (!item || PyList_Append(runs, item)) {
                    Py_XDECREF(item);
                    Py_DECREF(runs);
                    Py_CLEAR(res);
                    goto done;
                }
                Py_DECREF(item);
                j = e;
            }
            SET("runs", runs);
        }
        Py_ssize_t k = rj.m;
        size_t rbm = (size_t)(k + 7) / 8;
        if (year_mode) {
            SET("ypos", bytes_of(ypos, (size_t)n * 8));
            SET("ycode", bytes_of(ycode, (size_t)n * 4));
            SET("ynames", names_list(&yt));
        }
        SET("rej_m", PyLong_FromSsize_t(k));
        SET("rej_idx", bytes_of(rj.idx, (size_t)k * 4));
        SET("rej_time", Py_BuildValue("(NN)", bytes_of(rj.tvalid, rbm), bytes_of(rj.time, (size_t)k * 8)));
        SET("rej_naive", bytes_of(rj.naive, (size_t)k));
        SET("rej_host", Py_BuildValue("(NNN)", bytes_of(rj.hvalid, rbm), bytes_of(rj.hoff, ((size_t)k + 1) * 4),
                                      bytes_of(rj.host.p, rj.host.len)));
        SET("rej_text", Py_BuildValue("(ONN)", Py_None, bytes_of(rj.toff, ((size_t)k + 1) * 4),
                                      bytes_of(rj.text.p, rj.text.len)));
#undef SET
    }
done:
    out_done(&o);
    out_free(&g);
    rej_free(&rj);
    htab_free(&ht);
    htab_free(&pt);
    htab_free(&yt);
    free(ypos);
    free(ycode);
    free(ends);
    free(keys);
    free(pcode);
    free(claimed);
    free(body);
    free(tail);
    PyBuffer_Release(&data);
    if (!raw_mode) PyBuffer_Release(&offs);
    return res;
}

/* glibc returns every large block freed to the kernel at once (an mmap each), and the next one
 * comes back as fresh pages the kernel zeroes: an ingest allocates and frees its blocks (8 MiB)
 * and their columns over and over. Kept instead (up to 256 MiB free on top of the heap). */
static PyObject *fp_keep_freed_memory(PyObject *self, PyObject *noargs) {
#ifdef __GLIBC__
    int ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) && mallopt(M_TRIM_THRESHOLD, 256 << 20) &&
             mallopt(M_TOP_PAD, 64 << 20);
    return PyBool_FromLong(ok);
#else
    Py_RETURN_FALSE;
#endif
}

static PyMethodDef methods[] = {
    {"keep_freed_memory", fp_keep_freed_memory, METH_NOARGS,
     "keep_freed_memory() -> bool: glibc keeps large freed blocks for reuse (no mmap/munmap each)"},
    {"parse", fp_parse, METH_VARARGS,
     "parse(data, offsets | None, n, off64, ref_year, ref_key[, sort, sensor, t_lo, t_hi]) -> dict: "
     "the claimed lines' columns (offsets None: the lines of data, cut at its newlines; sort: "
     "in the store's order where the pass alone decides it)"},
    {"count_lines", fp_count_lines, METH_VARARGS,
     "count_lines(data) -> int: newlines, and an unterminated last line"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastparse",
                                    "Compiled fast path of the LOG line parser.", -1, methods};

PyMODINIT_FUNC PyInit__fastparse(void) {
    if (PyType_Ready(&owned_type) < 0) return NULL;
    for (int k = 0; k < NK; k++) {
        K_LEN_[k] = (int)strlen(K_KEY[k]);
        K_C8[k] = code8((const unsigned char *)K_KEY[k], K_LEN_[k] < 8 ? K_LEN_[k] : 8);
    }
    if (!kt_build()) {
        PyErr_SetString(PyExc_ImportError, "_fastparse: no table for the body's keys");
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    /* parse's year_mode argument (--year) is understood: an extension built before it is not used */
    if (m && PyModule_AddIntConstant(m, "YEAR_MODE", 1) < 0) Py_CLEAR(m);
    return m;
}
